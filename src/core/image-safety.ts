/**
 * The image safety check for /imagine: called on every generated image after decoding, before it is
 * sent; a flagged image is withheld and the user told. Chosen by config `safety.imagine`:
 *
 * - `off`: no prompt blocklist, no image check;
 * - `blocklist` (default): prompts with a word from tasks.imagine.blocklist are refused, images are not
 *   checked;
 * - `classifier`: the blocklist, and every image goes through the named classifier.
 *
 * Built-in classifier: `colour`, the colour world's stand-in for an NSFW model (no model hub here, and
 * the npm classifiers need TensorFlow.js): it flags an image whose pixels are mostly one of
 * `options.colours`. A deployment plugs a real classifier in with `createImagineCommand({ safetyCheck })`
 * (an NSFW model on onnxruntime, a moderation API) — that injected check wins over the config.
 */
import sharp from 'sharp';
import type { Config } from '../config.js';
import { COLOURS } from './colour-names.js';

export interface SafetyVerdict {
  allowed: boolean;
  /** Shown to the user when an image is withheld (short, no details of the classifier). */
  reason?: string;
}

export interface ImageSafetyCheck {
  check(
    image: { png: Buffer; width: number; height: number; prompt: string; seed: number },
    signal: AbortSignal,
  ): Promise<SafetyVerdict>;
}

export const allowAllImages: ImageSafetyCheck = {
  async check() {
    return { allowed: true };
  },
};

/** Samples are taken on a small copy: the verdict is about what dominates the picture. */
const SAMPLE_SIDE = 64;

/** The nearest colour-world colour of an 8-bit RGB pixel. */
function nearestColour(r: number, g: number, b: number): string {
  let best = '';
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const [name, [cr, cg, cb]] of Object.entries(COLOURS)) {
    const d = (r / 255 - cr) ** 2 + (g / 255 - cg) ** 2 + (b / 255 - cb) ** 2;
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

/**
 * Flags an image when at least `share` of its pixels are nearest to one of `colours` (colour-world
 * names: red, green, blue, yellow, cyan, magenta, black, white).
 */
export function colourClassifier(options: { colours: readonly string[]; share?: number }): ImageSafetyCheck {
  const flagged = new Set(options.colours.map((c) => c.toLowerCase()));
  for (const c of flagged) {
    if (!(c in COLOURS))
      throw new Error(`safety: unknown colour "${c}" (known: ${Object.keys(COLOURS).join(', ')})`);
  }
  const share = options.share ?? 0.5;
  return {
    async check(image) {
      const { data, info } = await sharp(image.png)
        .resize(SAMPLE_SIDE, SAMPLE_SIDE, { fit: 'fill' })
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      const counts = new Map<string, number>();
      for (let i = 0; i < data.length; i += info.channels) {
        const name = nearestColour(data[i] as number, data[i + 1] as number, data[i + 2] as number);
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
      const pixels = data.length / info.channels;
      const hit = [...flagged].some((c) => (counts.get(c) ?? 0) / pixels >= share);
      return hit ? { allowed: false, reason: 'it may not be suitable to post here' } : { allowed: true };
    },
  };
}

const CLASSIFIERS: Record<string, (options: Record<string, unknown>) => ImageSafetyCheck> = {
  colour: (o) =>
    colourClassifier({
      colours: Array.isArray(o.colours) ? o.colours.map(String) : [],
      ...(typeof o.share === 'number' && { share: o.share }),
    }),
};

/** The check config `safety.imagine` asks for (`allowAllImages` unless mode is classifier). */
export function imageSafetyFromConfig(safety: Config['safety']['imagine']): ImageSafetyCheck {
  if (safety.mode !== 'classifier') return allowAllImages;
  const make = CLASSIFIERS[safety.classifier];
  if (!make) {
    throw new Error(
      `safety.imagine.classifier: unknown classifier "${safety.classifier}" (built in: ${Object.keys(CLASSIFIERS).join(', ')})`,
    );
  }
  return make(safety.options);
}
