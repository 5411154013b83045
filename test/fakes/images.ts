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
