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

/**
 * A line of black text on white, rendered by sharp (librsvg + the system's fonts; CI installs
 * fonts-dejavu-core). `inkFraction` tells a test whether any glyph was drawn at all.
 */
export async function textPng(text: string, fontSize = 44): Promise<{ png: Buffer; inkFraction: number }> {
  const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const width = Math.ceil(fontSize * 0.7 * text.length + 2 * fontSize);
  const height = Math.ceil(fontSize * 2.4);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="${fontSize}" y="${Math.round(fontSize * 1.6)}" font-family="DejaVu Sans, sans-serif" ` +
    `font-size="${fontSize}" fill="black">${escaped}</text></svg>`;
  const png = await sharp(Buffer.from(svg)).png().toBuffer();
  const { data } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
  let ink = 0;
  for (const v of data) if (v < 128) ink++;
  return { png, inkFraction: ink / data.length };
}
