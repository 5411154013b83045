/**
 * `npm run bench -- tag [--images 64] [--rounds 5] [--batch 8] [--threads 0]`
 *
 * Synthesizes the 'bench' colour-world CLIP (ViT-B/32 cost, random weights) into a temp dir and
 * measures images/s, in one process, side by side:
 *   (a) transformers.js zero-shot-image-classification pipeline, one image per call
 *   (b) the same pipeline, 8 images per call
 *   (c) raw vision-tower session.run at batch 8 on pre-made tensors (the ceiling: no decode, no text)
 *   (d) iris's tag/clip backend, all images in one call
 *   (e) iris's tag/clip backend, one image per call (for information: what a chat message with one
 *       image gets; not in the goals)
 * (a), (b) and (d) start from the same encoded JPEG/PNG bytes and include decoding. Every method is
 * warmed up first; rounds interleave the methods and the median round is reported.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { env, pipeline, RawImage } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import type { LoadedImage } from '../src/contracts/request.js';
import { BENCH_LABELS, synthClip } from '../src/demo/colourworld/clip.js';
import { clipOptions } from '../src/models/options.js';
import { createClipTagger } from '../src/models/tag/clip.js';
import { flag } from './args.js';

/**
 * N distinct small photo-like images (320–480 × 240–360): tinted noise blurred to a photo's spectrum
 * (≈ 10–20:1 JPEG compression, like real photos; raw noise would compress 3:1 and make decoding the
 * bottleneck), three JPEG to one PNG.
 */
export async function makeImages(n: number): Promise<LoadedImage[]> {
  const out: LoadedImage[] = [];
  for (let i = 0; i < n; i++) {
    const width = 320 + (i % 5) * 40;
    const height = 240 + (i % 4) * 40;
    const noisy = await sharp({
      create: {
        width,
        height,
        channels: 3,
        background: '#000',
        noise: { type: 'gaussian', mean: 60 + ((i * 37) % 120), sigma: 30 + (i % 7) * 5 },
      },
    })
      .tint({ r: (i * 53) % 256, g: (i * 97) % 256, b: (i * 151) % 256 })
      .png()
      .toBuffer();
    const base = sharp(noisy).blur(1.5 + (i % 3));
    const format = i % 4 === 3 ? 'png' : 'jpeg';
    const bytes = await (format === 'png' ? base.png() : base.jpeg({ quality: 85 })).toBuffer();
    out.push({ name: `img${i}.${format === 'png' ? 'png' : 'jpg'}`, bytes, format, width, height });
  }
  return out;
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export async function run(args: string[]): Promise<void> {
  const nImages = flag(args, 'images', 64);
  const rounds = flag(args, 'rounds', 5);
  const batch = flag(args, 'batch', 8);
  const threads = flag(args, 'threads', 0);
  const labels = BENCH_LABELS.slice(0, 20);

  const dir = await mkdtemp(join(tmpdir(), 'iris-bench-tag-'));
  try {
    console.log(
      `tag bench: ${nImages} images, ${labels.length} labels, ${rounds} rounds, ${cpus().length} CPUs`,
    );
    console.log('synthesizing the bench CLIP (ViT-B/32 cost, random weights)…');
    await synthClip(dir, { variant: 'bench' });
    const images = await makeImages(nImages);
    const kb = (f: string) => {
      const sel = images.filter((i) => i.format === f);
      return `${sel.length} ${f} ≈ ${Math.round(sel.reduce((a, i) => a + i.bytes.length, 0) / sel.length / 1024)} KB`;
    };
    console.log(`images: ${kb('jpeg')}, ${kb('png')} (320–480 × 240–360)`);

    env.allowRemoteModels = false;
    env.useFSCache = false;
    const classify = await pipeline('zero-shot-image-classification', dir, { dtype: 'fp32' });
    const toRaw = (img: LoadedImage) => RawImage.fromBlob(new Blob([new Uint8Array(img.bytes)]));

    const raw = await ort.InferenceSession.create(join(dir, 'onnx/vision_model.onnx'), {
      graphOptimizationLevel: 'all',
      intraOpNumThreads: threads,
    });
    const tensors: ort.Tensor[] = [];
    for (let i = 0; i < nImages; i += batch) {
      const n = Math.min(batch, nImages - i);
      const data = new Float32Array(n * 3 * 224 * 224);
      for (let j = 0; j < data.length; j++) data[j] = Math.sin(j * 0.001 + i);
      tensors.push(new ort.Tensor('float32', data, [n, 3, 224, 224]));
    }

    const tagger = await createClipTagger({
      modelDir: dir,
      modelId: 'bench',
      executionProviders: ['cpu'],
      options: clipOptions.parse({
        batchSize: batch,
        intraOpNumThreads: threads,
        template: 'This is a photo of {}',
      }),
    });
    const signal = new AbortController().signal;

    const methods: { key: string; name: string; fn: (imgs: LoadedImage[]) => Promise<void> }[] = [
      {
        key: 'a',
        name: 'pipeline, 1 image per call',
        fn: async (imgs) => {
          for (const img of imgs) await classify(await toRaw(img), labels);
        },
      },
      {
        key: 'b',
        name: `pipeline, ${batch} images per call`,
        fn: async (imgs) => {
          for (let i = 0; i < imgs.length; i += batch) {
            const raws = await Promise.all(imgs.slice(i, i + batch).map(toRaw));
            await classify(raws, labels);
          }
        },
      },
      {
        key: 'c',
        name: `raw vision session.run, batch ${batch}`,
        fn: async () => {
          for (const t of tensors) await raw.run({ pixel_values: t });
        },
      },
      {
        key: 'd',
        name: 'iris tag/clip, one call',
        fn: async (imgs) => {
          await tagger.run({ images: imgs, labels }, { signal });
        },
      },
      {
        key: 'e',
        name: 'iris tag/clip, 1 image per call',
        fn: async (imgs) => {
          for (const img of imgs) await tagger.run({ images: [img], labels }, { signal });
        },
      },
    ];

    // warm-up: every method once on a few images (and iris's label cache, as in a server)
    for (const m of methods) await m.fn(images.slice(0, batch));

    const rates: Record<string, number[]> = {};
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? [...methods].reverse() : methods;
      for (const m of order) {
        const t0 = performance.now();
        await m.fn(images);
        const s = (performance.now() - t0) / 1000;
        rates[m.key] = [...(rates[m.key] ?? []), nImages / s];
      }
    }

    const rate = (k: string) => median(rates[k] ?? [0]);
    console.log('');
    for (const m of methods) {
      const all = (rates[m.key] ?? []).map((x) => x.toFixed(1)).join(' ');
      console.log(
        `(${m.key}) ${m.name.padEnd(34)} ${rate(m.key).toFixed(1).padStart(7)} img/s   rounds: ${all}`,
      );
    }
    const d = rate('d');
    console.log('');
    console.log(`iris / (a) pipeline per call   ${(d / rate('a')).toFixed(2)}×   (goal ≥ 2.3×)`);
    console.log(`iris / (b) pipeline batched    ${(d / rate('b')).toFixed(2)}×   (goal ≥ 1.25×)`);
    console.log(`iris / (c) raw session.run     ${(d / rate('c')).toFixed(2)}×   (goal ≥ 0.90×)`);

    await tagger.dispose();
    await raw.release();
    await classify.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
