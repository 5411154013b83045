import sharp from 'sharp';
import { COLOURS } from '../../src/core/colour-names.js';

/** Share of each colour-world colour among a PNG's pixels (each pixel counted for its nearest RGB-cube corner). */
export async function colourShares(png: Buffer): Promise<Record<string, number>> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const counts: Record<string, number> = Object.fromEntries(Object.keys(COLOURS).map((c) => [c, 0]));
  const corners = Object.entries(COLOURS);
  const n = info.width * info.height;
  for (let p = 0; p < n; p++) {
    let best = '';
    let bestD = Number.POSITIVE_INFINITY;
    for (const [name, [r, g, b]] of corners) {
      const d =
        ((data[p * 3] as number) - r * 255) ** 2 +
        ((data[p * 3 + 1] as number) - g * 255) ** 2 +
        ((data[p * 3 + 2] as number) - b * 255) ** 2;
      if (d < bestD) {
        bestD = d;
        best = name;
      }
    }
    counts[best] = (counts[best] as number) + 1;
  }
  for (const k of Object.keys(counts)) counts[k] = (counts[k] as number) / n;
  return counts;
}

export async function dominant(png: Buffer): Promise<{ colour: string; share: number }> {
  const shares = await colourShares(png);
  const [colour, share] = Object.entries(shares).sort((a, b) => b[1] - a[1])[0] as [string, number];
  return { colour, share };
}
