/**
 * The colour world's image "safety" classifier: scores an image by the share of its pixels nearest to
 * each colour-world colour ({ red: 0.93, blue: 0.02, … }). With `safety.classes: [red]` and a threshold,
 * the safety checks then flag mostly-red images: a predictable stand-in for an NSFW model when the
 * colour-world models are all there is. The demo start and tests add it to the task table
 * (`demoTaskTable`); production code never imports it.
 */
import sharp from 'sharp';
import type { Backend } from '../../contracts/backend.js';
import { COLOURS } from '../../core/colour-names.js';
import { noOptions } from '../../models/options.js';
import { defineBackend, type TaskTable } from '../../models/table.js';
import { TASKS } from '../../models/tasks.js';

/** Samples are taken on a small copy: the scores are about what dominates the picture. */
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

/** Share of pixels nearest to each colour (every colour present, 0 for the absent ones). */
export async function colourShares(image: Buffer): Promise<Record<string, number>> {
  const { data, info } = await sharp(image)
    .resize(SAMPLE_SIDE, SAMPLE_SIDE, { fit: 'fill' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const counts: Record<string, number> = Object.fromEntries(Object.keys(COLOURS).map((c) => [c, 0]));
  for (let i = 0; i < data.length; i += info.channels) {
    const name = nearestColour(data[i] as number, data[i + 1] as number, data[i + 2] as number);
    counts[name] = (counts[name] ?? 0) + 1;
  }
  const pixels = data.length / info.channels;
  return Object.fromEntries(Object.entries(counts).map(([c, n]) => [c, n / pixels]));
}

export function createColourClassifier(): Backend<'safety'> {
  return {
    task: 'safety',
    id: 'colour',
    model: 'colour-world',
    async run(input, { signal }) {
      const out: { scores: Record<string, number> }[] = [];
      for (const image of input.images) {
        signal.throwIfAborted();
        out.push({ scores: await colourShares(image) });
      }
      return out;
    },
    async dispose() {},
  };
}

/** The registry's table with the colour classifier as a `safety` backend (`tasks.safety.backend: colour`). */
export function demoTaskTable(): TaskTable {
  return {
    ...TASKS,
    safety: {
      ...TASKS.safety,
      backends: {
        ...TASKS.safety.backends,
        colour: defineBackend({
          defaultModel: 'colour-world',
          options: noOptions,
          modelFolder: false,
          load: async () => async () => createColourClassifier(),
        }),
      },
    },
  };
}
