import sharp from 'sharp';

/**
 * A PNG in two colours: `first` on the left (or top) half, `second` on the right (or bottom) half —
 * the colour world's grounding case. Drawn with sharp from an SVG, so the boundary is a hard edge.
 */
export function splitPng(
  first: string,
  second: string,
  o: { width: number; height: number; split?: 'vertical' | 'horizontal' },
): Promise<Buffer> {
  const { width: w, height: h } = o;
  const half =
    o.split === 'horizontal'
      ? `<rect y="${h / 2}" width="${w}" height="${h / 2}" fill="${second}"/>`
      : `<rect x="${w / 2}" width="${w / 2}" height="${h}" fill="${second}"/>`;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">` +
    `<rect width="${w}" height="${h}" fill="${first}"/>${half}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}
