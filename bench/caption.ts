/**
 * `npm run bench -- caption [--images 8] [--rounds 3] [--size 2400x1600]`
 *
 * Florence-2 `<CAPTION>` on camera-sized photo-like JPEGs with the colour-world Florence-2 (whose
 * graphs cost almost nothing, so this measures what iris controls: getting the image to the model),
 * side by side in one process:
 *   (a) transformers.js as documented: `RawImage.fromBlob` (full-size decode) → processor → generate
 *   (b) iris's caption/florence2 backend: sharp decodes straight to the processor's size (shrink-on-load
 *       for JPEG), then the same processor → generate
 * Both must produce the same caption. With the real Florence-2-base (~0.2 B parameters) the model's
 * share grows and the ratio shrinks towards 1; the absolute saving per image stays.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AutoProcessor,
  env,
  Florence2ForConditionalGeneration,
  type Florence2Processor,
  RawImage,
  type Tensor,
} from '@huggingface/transformers';
import sharp from 'sharp';
import type { LoadedImage } from '../src/contracts/request.js';
import { synthFlorence2 } from '../src/demo/colourworld/florence2.js';
import { createFlorence2Captioner } from '../src/models/caption/florence2.js';
import { florence2Options } from '../src/models/options.js';

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? fallback : (args[i + 1] ?? fallback);
}

async function photos(n: number, width: number, height: number): Promise<LoadedImage[]> {
  const out: LoadedImage[] = [];
  for (let i = 0; i < n; i++) {
    const noisy = await sharp({
      create: {
        width,
        height,
        channels: 3,
        background: '#000',
        noise: { type: 'gaussian', mean: 90, sigma: 40 },
      },
    })
      .tint({ r: (i * 53) % 256, g: (i * 97) % 256, b: (i * 151) % 256 })
      .png()
      .toBuffer();
    const bytes = await sharp(noisy).blur(2).jpeg({ quality: 85 }).toBuffer();
    out.push({ name: `photo${i}.jpg`, bytes, format: 'jpeg', width, height });
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export async function run(args: string[]): Promise<void> {
  const n = Number(flag(args, 'images', '8'));
  const rounds = Number(flag(args, 'rounds', '3'));
  const [width, height] = flag(args, 'size', '2400x1600').split('x').map(Number) as [number, number];
  const dir = await mkdtemp(join(tmpdir(), 'iris-bench-florence-'));
  try {
    await synthFlorence2(dir);
    env.allowRemoteModels = false;
    env.useFSCache = false;
    const images = await photos(n, width, height);
    const signal = new AbortController().signal;
    const iris = await createFlorence2Captioner({
      modelDir: dir,
      modelId: 'onnx-community/Florence-2-base-ft',
      executionProviders: ['cpu'],
      options: florence2Options.parse({}),
    });
    const model = await Florence2ForConditionalGeneration.from_pretrained(dir, {
      dtype: 'fp32',
      local_files_only: true,
    });
    const processor = (await AutoProcessor.from_pretrained(dir, {
      local_files_only: true,
    })) as Florence2Processor;

    const plain = async () => {
      const out: string[] = [];
      for (const image of images) {
        const raw = await RawImage.fromBlob(new Blob([new Uint8Array(image.bytes)]));
        const inputs = await processor(raw, '<CAPTION>');
        const ids = (await model.generate({ ...inputs, max_new_tokens: 40 })) as Tensor;
        const text = processor.batch_decode(ids, { skip_special_tokens: false })[0] as string;
        out.push(
          processor.post_process_generation(text, '<CAPTION>', [raw.height, raw.width])[
            '<CAPTION>'
          ] as string,
        );
      }
      return out;
    };
    const ours = async () => {
      const out: string[] = [];
      for (const image of images) out.push((await iris.run({ image }, { signal })).caption);
      return out;
    };

    const [a, b] = [await plain(), await ours()]; // warm-up
    const same = a.filter((t, i) => t === b[i]).length;
    const times: Record<'plain' | 'ours', number[]> = { plain: [], ours: [] };
    for (let r = 0; r < rounds; r++) {
      for (const [name, fn] of [
        ['plain', plain],
        ['ours', ours],
      ] as const) {
        const t0 = performance.now();
        await fn();
        times[name].push(performance.now() - t0);
      }
    }
    await Promise.all([iris.dispose(), model.dispose()]);
    const ta = median(times.plain) / n;
    const tb = median(times.ours) / n;
    console.log(
      `caption: ${n} JPEGs of ${width}×${height}, ${rounds} rounds (median), colour-world Florence-2`,
    );
    console.log(
      `  (a) transformers.js RawImage.fromBlob → processor → generate ${ta.toFixed(1).padStart(7)} ms/image`,
    );
    console.log(
      `  (b) iris caption/florence2 (decode at model size)          ${tb.toFixed(1).padStart(7)} ms/image`,
    );
    console.log(`  ratio (a)/(b): ${(ta / tb).toFixed(2)}× — same caption on ${same}/${n} images`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
