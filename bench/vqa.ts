/**
 * `npm run bench -- vqa [--rounds 5] [--threads 0]`
 *
 * Synthesizes the 'bench' colour-world SmolVLM and BLIP-2 (each with a ViT-B/16 vision encoder over a
 * 224×224 frame, 12 MLP blocks of width 1024 per decoder token; random weights, the colour world's
 * answers) and measures for each, in one process, side by side, a two-turn conversation about a new
 * photo-like image:
 *   turn 1            first question (vision encoder + decoder over the image tokens and the prompt)
 *   turn 2            follow-up with turn 1 in the prompt, image features reused (per image hash)
 *   turn 2 uncached   the same follow-up on a backend with featureCache: false (what turn 2 would cost)
 * SmolVLM's image is one frame of 64 image tokens (BLIP-2: a 2-block Q-Former over 32 queries).
 * Every round uses a fresh image (so turn 1 is never cached); the median round is reported.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Backend } from '../src/contracts/backend.js';
import type { LoadedImage } from '../src/contracts/request.js';
import { synthBlip2 } from '../src/demo/colourworld/blip2.js';
import { synthSmolVlm } from '../src/demo/colourworld/smolvlm.js';
import { blip2Options, smolVlmOptions } from '../src/models/options.js';
import type { BackendLoadOptions } from '../src/models/types.js';
import { createBlip2Vqa } from '../src/models/vqa/blip2.js';
import { createSmolVlmVqa } from '../src/models/vqa/smolvlm.js';
import { flag } from './args.js';

/** A photo-like JPEG (blurred tinted noise, 480×360), different for each i. */
async function photo(i: number): Promise<LoadedImage> {
  const noisy = await sharp({
    create: {
      width: 480,
      height: 360,
      channels: 3,
      background: '#000',
      noise: { type: 'gaussian', mean: 90, sigma: 40 },
    },
  })
    .tint({ r: (i * 53) % 256, g: (i * 97) % 256, b: (i * 151) % 256 })
    .png()
    .toBuffer();
  const bytes = await sharp(noisy).blur(2).jpeg({ quality: 85 }).toBuffer();
  return { name: `photo${i}.jpg`, bytes, format: 'jpeg', width: 480, height: 360 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

interface Row {
  name: string;
  turn1: number;
  turn2: number;
  uncached: number;
}

/** The bench's load options for a model folder. */
function benchLoad<O>(modelDir: string, options: O): BackendLoadOptions<O> {
  return { modelDir, modelId: 'bench', executionProviders: ['cpu'], options };
}

async function measure(
  o: { name: string; load: (featureCache: boolean) => Promise<Backend<'vqa'>> },
  rounds: number,
): Promise<Row> {
  const cached = await o.load(true);
  const uncached = await o.load(false);
  const signal = new AbortController().signal;
  const q1 = 'What colour is the car in this picture?';
  const q2 = 'And what did I ask before?';
  // warm-up
  const warm = await photo(999);
  await cached.run({ images: [warm], question: q1, history: [] }, { signal });
  await uncached.run({ images: [warm], question: q1, history: [] }, { signal });

  const t1: number[] = [];
  const t2: number[] = [];
  const t2u: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const image = await photo(r);
    let t = performance.now();
    const first = await cached.run({ images: [image], question: q1, history: [] }, { signal });
    t1.push(performance.now() - t);
    const history = [{ question: q1, answer: first.answer, at: Date.now() }];
    t = performance.now();
    const second = await cached.run({ images: [image], question: q2, history }, { signal });
    t2.push(performance.now() - t);
    t = performance.now();
    const third = await uncached.run({ images: [image], question: q2, history }, { signal });
    t2u.push(performance.now() - t);
    if (second.answer !== 'car' || third.answer !== 'car') {
      throw new Error(`${o.name}: memory did not reach the model: ${second.answer} / ${third.answer}`);
    }
  }
  await cached.dispose();
  await uncached.dispose();
  return { name: o.name, turn1: median(t1), turn2: median(t2), uncached: median(t2u) };
}

export async function run(args: string[]): Promise<void> {
  const rounds = flag(args, 'rounds', 5);
  const threads = flag(args, 'threads', 0);
  const dir = await mkdtemp(join(tmpdir(), 'iris-bench-vqa-'));
  try {
    console.log(`vqa bench: ${cpus().length} CPUs, intraOpNumThreads ${threads || 'auto'}, ${rounds} rounds`);
    console.log('synthesizing the bench SmolVLM and BLIP-2 (ViT-B/16 vision cost, random weights)…');
    await synthSmolVlm(join(dir, 'smolvlm'), { variant: 'bench' });
    await synthBlip2(join(dir, 'blip2'), { variant: 'bench' });
    const rows = [
      await measure(
        {
          name: 'smolvlm',
          load: (featureCache) =>
            createSmolVlmVqa(
              benchLoad(
                join(dir, 'smolvlm'),
                smolVlmOptions.parse({ featureCache, intraOpNumThreads: threads }),
              ),
            ),
        },
        rounds,
      ),
      await measure(
        {
          name: 'blip2',
          load: (featureCache) =>
            createBlip2Vqa(
              benchLoad(join(dir, 'blip2'), blip2Options.parse({ featureCache, intraOpNumThreads: threads })),
            ),
        },
        rounds,
      ),
    ];
    const ms = (v: number) => `${v.toFixed(1)} ms`.padStart(12);
    const ratio = (v: number) => `${v.toFixed(2)}×`.padStart(12);
    console.log('');
    console.log(`${''.padEnd(34)}${rows.map((r) => r.name.padStart(12)).join('')}`);
    console.log(`${'turn 1 (new image)'.padEnd(34)}${rows.map((r) => ms(r.turn1)).join('')}`);
    console.log(`${'turn 2 (follow-up, cached)'.padEnd(34)}${rows.map((r) => ms(r.turn2)).join('')}`);
    console.log(`${'turn 2 (follow-up, no cache)'.padEnd(34)}${rows.map((r) => ms(r.uncached)).join('')}`);
    console.log('');
    console.log(
      `${'turn 2 / turn 1'.padEnd(34)}${rows.map((r) => ratio(r.turn2 / r.turn1)).join('')}   (goal ≤ 0.5×)`,
    );
    console.log(
      `${'turn 2 uncached / turn 1'.padEnd(34)}${rows.map((r) => ratio(r.uncached / r.turn1)).join('')}   (for information)`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
