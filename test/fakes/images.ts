import zlib from 'node:zlib';
import sharp from 'sharp';

export const COLOURS = {
  red: '#ff0000',
  green: '#00ff00',
  blue: '#0000ff',
  yellow: '#ffff00',
  black: '#000000',
  white: '#ffffff',
} as const;

/** A solid-colour PNG. */
export function solidPng(colour: string, size = 32): Promise<Buffer> {
  return sharp({ create: { width: size, height: size, channels: 3, background: colour } })
    .png()
    .toBuffer();
}

/**
 * A PNG that declares width×height pixels but carries a tiny body: what a decompression bomb looks like
 * to a decoder's header check. Built by rewriting a real 1×1 PNG's IHDR (and its CRC).
 */
export async function pngDeclaring(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(
    await sharp({ create: { width: 1, height: 1, channels: 3, background: 'red' } })
      .png()
      .toBuffer(),
  );
  // Signature (8) + length (4) + "IHDR" (4) → width at 16, height at 20; CRC covers type + data (17 bytes) at 29.
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(zlib.crc32(png.subarray(12, 29)), 29);
  return png;
}
