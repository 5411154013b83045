import sharp from 'sharp';
import type { EmbedIO } from '../../src/contracts/tasks/embed.js';
import { COLOURS } from './images.js';

/** [r, g, b, 0.1] normalised: a small constant keeps black from being the zero vector. */
function unit(r: number, g: number, b: number): Float32Array {
  const v = [r, g, b, 0.1];
  const n = Math.hypot(...v);
  return Float32Array.from(v.map((x) => x / n));
}

/**
 * A fake `embed` backend for adapter tests (the colour-world CLIP needs model files): an image is its mean
 * colour, a text the colour it names (COLOURS), so "red" finds red images first. Unknown words throw.
 */
export async function colourEmbed(input: EmbedIO['in']): Promise<EmbedIO['out']> {
  if ('texts' in input) {
    const vectors = input.texts.map((t) => {
      const hex = COLOURS[t.trim().toLowerCase() as keyof typeof COLOURS];
      if (!hex) throw new Error(`colourEmbed: no colour "${t}"`);
      const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16) / 255);
      return unit(r as number, g as number, b as number);
    });
    return { dim: 4, vectors };
  }
  const vectors = await Promise.all(
    input.images.map(async (image) => {
      const [r, g, b] = (await sharp(image.bytes).stats()).channels.map((c) => c.mean / 255);
      return unit(r ?? 0, g ?? 0, b ?? 0);
    }),
  );
  return { dim: 4, vectors };
}
