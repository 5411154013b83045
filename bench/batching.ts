/**
 * `npm run bench -- batching [--requests 64] [--users 16] [--rounds 3] [--window 5] [--max-batch 8] [--threads 0] [--cuda]`
 *
 * 64 concurrent `/tags` requests of one image each, from 16 users, through the dispatch funnel (real
 * scheduler, encoder queue, tags command) on the bench-size colour-world CLIP (ViT-B/32 cost), with dynamic
 * batching off (each request's image runs on its own, one tower run at a time: today's one job per GPU
 * slot) and on (`scheduler.batching`). Each round runs both, in alternating order; the rates are the median
 * rounds and R is the median of the rounds' on/off ratios.
 *
 * Also measured, so the result can be judged: the raw ceiling (vision `session.run` at batch 1 vs at the
 * max batch on ready tensors: what batching can win on this machine at most) and the decode + resize cost
 * (sharp) per image on one thread, which docs/scaling.md turns into CPU cores per GPU.
 *
 * `--cuda` runs the towers on onnxruntime's CUDA execution provider (then CPU), which needs onnxruntime-node's
 * CUDA binaries (docs/scaling.md, "Batching in front of the GPU").
 *
 * "p99 wait added" is the 99th percentile, over every image in the "on" rounds, of the time from the image
 * entering the batcher to its batch starting on the tower (window + waiting for the batch ahead). Its bound
 * is the window plus one full batch as the tower ran it in the same rounds; the bench also counts the
 * images that waited for more than one tower run.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as ort from 'onnxruntime-node';
import { mediaSettings } from '../src/app.js';
import { tagsCommand } from '../src/commands/tags.js';
import { loadConfig } from '../src/config.js';
import type { BackendProvider } from '../src/contracts/backend.js';
import type { BotRequest, LoadedImage, Reply, Responder } from '../src/contracts/request.js';
import { Dispatcher } from '../src/core/dispatch.js';
import { createLogger } from '../src/core/log.js';
import { MemoryMapStore } from '../src/core/memory.js';
import { Scheduler } from '../src/core/scheduler.js';
import { BENCH_LABELS, synthClip } from '../src/demo/colourworld/clip.js';
import { clipOptions } from '../src/models/options.js';
import { createClipTagger } from '../src/models/tag/clip.js';
import { makeLut, parsePreprocessorConfig, preprocessInto } from '../src/models/tag/clip-preprocess.js';
import type { BatchingSettings } from '../src/models/tag/clip-towers.js';
import { queueOf } from '../src/models/tasks.js';
import { flag } from './args.js';
import { makeImages, median } from './tag.js';

const quiet = createLogger({
  level: 'error',
  destination: new Writable({
    write(_c, _e, done) {
      done();
    },
  }),
});

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/** One vision-tower run as the bench saw it (performance.now() ms). */
interface TowerRun {
  size: number;
  start: number;
  end: number;
}

interface Mode {
  name: string;
  dispatcher: Dispatcher;
  batches: number[];
  waits: number[];
  /** Each image's time in the batcher: from joining it to its batch starting. */
  stays: { joined: number; left: number }[];
  runs: TowerRun[];
  dispose(): Promise<void>;
}

async function mode(o: {
  name: string;
  dir: string;
  batching: BatchingSettings;
  threads: number;
  requests: number;
  providers: string[];
}): Promise<Mode> {
  const config = loadConfig({
    env: {},
    overrides: {
      'scheduler.batching': o.batching,
      'scheduler.perUser.jobs': 0,
      'scheduler.perChannel.jobs': 0,
      'scheduler.perUserConcurrent': 1000,
      'scheduler.highWater': 100_000,
      'memory.store': 'memory',
      'log.level': 'error',
    },
  });
  const batches: number[] = [];
  const waits: number[] = [];
  const stays: Mode['stays'] = [];
  const runs: TowerRun[] = [];
  const tagger = await createClipTagger({
    modelDir: o.dir,
    modelId: 'bench',
    executionProviders: o.providers,
    batching: config.scheduler.batching,
    options: clipOptions.parse({
      intraOpNumThreads: o.threads,
      hooks: {
        onVisionRun: (n: number) => batches.push(n),
        onVisionRan: (size: number, ms: number) => {
          const end = performance.now();
          runs.push({ size, start: end - ms, end });
        },
        onVisionBatch: (waited: number[]) => {
          const now = performance.now();
          waits.push(...waited);
          for (const w of waited) stays.push({ joined: now - w, left: now });
        },
      },
    }),
  });
  const registry: BackendProvider = {
    get: async () => tagger as never,
    status: () => [],
    queueOf,
  };
  const scheduler = new Scheduler(config.scheduler);
  const dispatcher = new Dispatcher({
    commands: [tagsCommand],
    executor: scheduler,
    registry,
    config,
    log: quiet,
    media: mediaSettings(config),
    memory: new MemoryMapStore(config.memory),
  });
  return {
    name: o.name,
    dispatcher,
    batches,
    waits,
    stays,
    runs,
    dispose: async () => {
      await scheduler.stop();
      await tagger.dispose();
    },
  };
}

/** Every request at once, user i % users; resolves with the seconds until the last reply. */
async function burst(m: Mode, images: LoadedImage[], users: number): Promise<number> {
  const failures: string[] = [];
  const responder = (): Responder => ({
    async defer() {},
    async progress() {},
    async send(r: Reply) {
      if (r.error) failures.push(r.text ?? r.error.code);
    },
  });
  const request = (img: LoadedImage, i: number): BotRequest => ({
    id: `b${i}`,
    platform: 'bench',
    command: 'tags',
    args: { labels: BENCH_LABELS.join(', ') },
    images: [{ name: img.name, data: img.bytes }],
    conversation: `bench:c${i % users}`,
    user: { id: `u${i % users}` },
    signal: new AbortController().signal,
  });
  const start = performance.now();
  await Promise.all(images.map((img, i) => m.dispatcher.handle(request(img, i), responder())));
  const seconds = (performance.now() - start) / 1000;
  if (failures.length) throw new Error(`${m.name}: ${failures.length} requests failed: ${failures[0]}`);
  return seconds;
}

/** Raw vision tower on ready tensors: images/s at batch 1 and at `batch`. */
async function rawCeiling(
  dir: string,
  o: { batch: number; threads: number; images: number; rounds: number; providers: string[] },
) {
  const session = await ort.InferenceSession.create(join(dir, 'onnx/vision_model.onnx'), {
    executionProviders: o.providers,
    graphOptimizationLevel: 'all',
    intraOpNumThreads: o.threads,
  });
  const tensor = (n: number) => {
    const data = new Float32Array(n * 3 * 224 * 224);
    for (let j = 0; j < data.length; j++) data[j] = Math.sin(j * 0.001);
    return new ort.Tensor('float32', data, [n, 3, 224, 224]);
  };
  const one = tensor(1);
  const many = tensor(o.batch);
  const rate = async (t: ort.Tensor) => {
    const runs = Math.max(1, Math.round(o.images / (t.dims[0] as number)));
    const start = performance.now();
    for (let r = 0; r < runs; r++) await session.run({ pixel_values: t });
    return (runs * (t.dims[0] as number)) / ((performance.now() - start) / 1000);
  };
  await rate(one);
  await rate(many);
  const b1: number[] = [];
  const bn: number[] = [];
  for (let r = 0; r < o.rounds; r++) {
    b1.push(await rate(one));
    bn.push(await rate(many));
  }
  await session.release();
  return { batch1: median(b1), batchN: median(bn) };
}

/** sharp decode + resize + normalise of each image, one after the other (one thread's worth). */
async function decodeCost(dir: string, images: LoadedImage[]): Promise<number> {
  const pre = parsePreprocessorConfig(
    JSON.parse(await readFile(join(dir, 'preprocessor_config.json'), 'utf8')),
  );
  const lut = makeLut(pre);
  const out = new Float32Array(3 * 224 * 224);
  for (const img of images.slice(0, 8)) await preprocessInto(pre, lut, img, out, 0);
  const times: number[] = [];
  for (let r = 0; r < 3; r++) {
    const start = performance.now();
    for (const img of images) await preprocessInto(pre, lut, img, out, 0);
    times.push((performance.now() - start) / images.length);
  }
  return median(times);
}

export async function run(args: string[]): Promise<void> {
  const requests = flag(args, 'requests', 64);
  const users = flag(args, 'users', 16);
  const rounds = flag(args, 'rounds', 3);
  const windowMs = flag(args, 'window', 5);
  const maxBatch = flag(args, 'max-batch', 8);
  const threads = flag(args, 'threads', 0);
  const providers = args.includes('--cuda') ? ['cuda', 'cpu'] : ['cpu'];

  const dir = await mkdtemp(join(tmpdir(), 'iris-bench-batching-'));
  try {
    console.log(
      `batching bench: ${requests} /tags requests of one image from ${users} users, window ${windowMs} ms, ` +
        `max batch ${maxBatch}, ${rounds} rounds, ${cpus().length} CPUs, ${providers.join(' + ')}`,
    );
    console.log('synthesizing the bench CLIP (ViT-B/32 cost, random weights)…');
    await synthClip(dir, { variant: 'bench' });
    const images = await makeImages(requests);

    const decodeMs = await decodeCost(dir, images);
    console.log(
      `decode + resize (sharp, one image at a time): ${decodeMs.toFixed(2)} ms/img ≈ ${(1000 / decodeMs).toFixed(0)} img/s per core`,
    );
    const raw = await rawCeiling(dir, { batch: maxBatch, threads, images: 32, rounds, providers });
    const ceiling = raw.batchN / raw.batch1;
    console.log(
      `raw vision session.run: batch 1 ${raw.batch1.toFixed(1)} img/s, batch ${maxBatch} ${raw.batchN.toFixed(1)} img/s, ceiling ${ceiling.toFixed(2)}×`,
    );

    const off = await mode({
      name: 'off',
      dir,
      batching: { enabled: false, windowMs, maxBatch },
      threads,
      requests,
      providers,
    });
    const on = await mode({
      name: 'on',
      dir,
      batching: { enabled: true, windowMs, maxBatch },
      threads,
      requests,
      providers,
    });
    // Warm-up: sessions, label embeddings, the scheduler's user limiters.
    for (const m of [off, on]) await burst(m, images.slice(0, 16), users);
    on.waits.length = 0;
    on.batches.length = 0;
    on.stays.length = 0;
    on.runs.length = 0;

    const rates: Record<string, number[]> = { off: [], on: [] };
    for (let r = 0; r < rounds; r++) {
      for (const m of r % 2 ? [on, off] : [off, on]) {
        const seconds = await burst(m, images, users);
        rates[m.name]?.push(requests / seconds);
      }
    }
    const offRate = median(rates.off ?? []);
    const onRate = median(rates.on ?? []);
    // Each round runs off and on back to back: the median of the rounds' ratios is robust to the machine
    // getting faster or slower between rounds (a shared machine), the ratio of medians is not.
    const ratio = median((rates.on ?? []).map((on, i) => on / (rates.off?.[i] ?? on)));
    const meanBatch = on.batches.reduce((a, b) => a + b, 0) / Math.max(1, on.batches.length);
    const p99 = percentile(on.waits, 99);
    // "One batch" is a full batch as the tower ran it in these rounds (sharing the cores with decoding),
    // not the raw figure on an idle machine, which is shorter.
    const fullRuns = on.runs.filter((r) => r.size === maxBatch).map((r) => r.end - r.start);
    const oneBatchMs = Math.max(0, ...fullRuns);
    const rawBatchMs = (maxBatch / raw.batchN) * 1000;
    // An image that waited for more than one tower run (the one it found running, or a batch it did not
    // fit in) is where batching costs more than the window; count them.
    const waitedRuns = on.stays.map(
      (s) => on.runs.filter((r) => r.end > s.joined && r.start < s.left).length,
    );
    const overOne = waitedRuns.filter((n) => n > 1).length;
    const show = (xs: number[] = []) => xs.map((x) => x.toFixed(1)).join(' ');
    console.log('');
    console.log(
      `off (one image per tower run)       ${offRate.toFixed(1).padStart(6)} img/s   rounds: ${show(rates.off)}`,
    );
    console.log(
      `on  (window ${windowMs} ms, ≤ ${maxBatch} per run)     ${onRate.toFixed(1).padStart(6)} img/s   rounds: ${show(rates.on)}   mean batch ${meanBatch.toFixed(1)}`,
    );
    console.log(
      `wait added: p50 ${percentile(on.waits, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms ` +
        `(bound: window ${windowMs} ms + one batch of ${maxBatch}, longest here ${oneBatchMs.toFixed(0)} ms ` +
        `[${rawBatchMs.toFixed(0)} ms on ready tensors alone] = ${(windowMs + oneBatchMs).toFixed(0)} ms)`,
    );
    console.log(
      `images that waited for more than one tower run: ${overOne} of ${waitedRuns.length} ` +
        `(most: ${Math.max(0, ...waitedRuns)})`,
    );
    console.log(
      `on / off per round: ${(rates.on ?? []).map((on, i) => (on / (rates.off?.[i] ?? on)).toFixed(2)).join(' ')}; ` +
        `median ${ratio.toFixed(2)}× of a raw ceiling of ${ceiling.toFixed(2)}× (goal 1.3×)`,
    );
    await off.dispose();
    await on.dispose();
    console.log(
      `batching: off ${offRate.toFixed(1)} img/s, on ${onRate.toFixed(1)} img/s, Y/X = ${ratio.toFixed(2)}×, p99 wait added ${p99.toFixed(1)} ms`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
