import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { Scored } from '../../src/contracts/backend.js';
import type { LoadedImage } from '../../src/contracts/request.js';
import { synthClip } from '../../src/demo/colourworld/clip.js';
import { createClipEmbedder } from '../../src/models/embed/clip.js';
import { clipOptions } from '../../src/models/options.js';
import { SharedModels } from '../../src/models/shared-models.js';
import { createClipTagger } from '../../src/models/tag/clip.js';
import type { BatchingSettings } from '../../src/models/tag/clip-towers.js';

const LABELS = ['red', 'green', 'blue', 'yellow', 'black', 'white', 'cat', 'dog'];
const COLOURS: [number, number, number][] = [
  [250, 10, 10],
  [10, 240, 20],
  [20, 20, 230],
  [240, 240, 10],
  [128, 60, 200],
  [30, 160, 160],
];

async function image(i: number, [r, g, b]: [number, number, number]): Promise<LoadedImage> {
  const width = 20 + i * 7;
  const height = 40 - i * 3;
  const bytes = await sharp({ create: { width, height, channels: 3, background: { r, g, b } } })
    .png()
    .toBuffer();
  return { name: `${i}.png`, bytes, format: 'png', width, height };
}

function closeTo(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => {
    assert.ok(Math.abs(a - (expected[i] as number)) < 1e-5, `${what}[${i}]: ${a} vs ${expected[i]}`);
  });
}

const signal = () => new AbortController().signal;
/**
 * Vision batches here start because they are full, long before this window ends; the window only
 * delays lone items (label texts, warm-ups), so the tests never depend on how fast the machine is.
 */
const WINDOW = 2000;

describe('CLIP towers batched across requests (colour-world CLIP)', () => {
  let root: string;
  let dir: string;
  let images: LoadedImage[];

  /** A tagger and embedder on one shared model with batching; visionRuns records each tower run's size. */
  async function batched(batching: BatchingSettings) {
    const visionRuns: number[] = [];
    const textRuns: number[] = [];
    const shared = new SharedModels();
    const load = {
      modelDir: dir,
      modelId: 'clip',
      executionProviders: ['cpu'],
      shared,
      batching,
      options: clipOptions.parse({}),
    };
    const tagger = await createClipTagger({
      ...load,
      options: clipOptions.parse({
        hooks: {
          onVisionRun: (n: number) => visionRuns.push(n),
          onTextRun: (n: number) => textRuns.push(n),
        },
      }),
    });
    const embedder = await createClipEmbedder(load);
    return {
      tagger,
      embedder,
      visionRuns,
      textRuns,
      shared,
      dispose: () => Promise.all([tagger.dispose(), embedder.dispose()]),
    };
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'iris-clip-batching-'));
    dir = join(root, 'clip');
    await synthClip(dir);
    images = await Promise.all(COLOURS.map((c, i) => image(i, c)));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('the colour-world graphs take any batch size (symbolic batch dimension)', async () => {
    const ort = await import('onnxruntime-node');
    for (const file of ['vision_model.onnx', 'text_model.onnx']) {
      const session = await ort.InferenceSession.create(join(dir, 'onnx', file));
      for (const meta of session.inputMetadata) {
        assert.ok(meta.isTensor, meta.name);
        assert.equal(typeof meta.shape[0], 'string', `${file} ${meta.name}: ${meta.shape}`);
      }
      await session.release();
    }
  });

  it('concurrent requests run as one vision batch, and each gets what it gets unbatched', async () => {
    const plain = await createClipTagger({
      modelDir: dir,
      modelId: 'clip',
      executionProviders: ['cpu'],
      options: clipOptions.parse({}),
    });
    const expected: { labels: Scored[] }[][] = [];
    for (const img of images)
      expected.push(await plain.run({ images: [img], labels: LABELS }, { signal: signal() }));
    await plain.dispose();

    const b = await batched({ enabled: true, windowMs: WINDOW, maxBatch: images.length });
    const got = await Promise.all(
      images.map((img) => b.tagger.run({ images: [img], labels: LABELS }, { signal: signal() })),
    );
    assert.deepEqual(b.visionRuns, [images.length], 'one tower run for all the requests');
    got.forEach((out, i) => {
      const want = expected[i]?.[0]?.labels ?? [];
      const have = out[0]?.labels ?? [];
      assert.deepEqual(
        have.map((l) => l.label),
        want.map((l) => l.label),
        `request ${i}`,
      );
      closeTo(
        have.map((l) => l.score),
        want.map((l) => l.score),
        `request ${i} scores`,
      );
    });
    await b.dispose();
  });

  it('tag and embed share the batcher of the shared model', async () => {
    const b = await batched({ enabled: true, windowMs: WINDOW, maxBatch: 3 });
    assert.equal(b.shared.loads('clip'), 1);
    await b.tagger.run({ images: [images[5] as LoadedImage], labels: LABELS }, { signal: signal() }); // label cache
    const runsBefore = b.visionRuns.length;
    const [tags, embedded] = await Promise.all([
      b.tagger.run({ images: [images[0] as LoadedImage], labels: LABELS }, { signal: signal() }),
      b.embedder.run({ images: [images[1] as LoadedImage, images[2] as LoadedImage] }, { signal: signal() }),
    ]);
    assert.deepEqual(b.visionRuns.slice(runsBefore), [3], 'one tagging and two embedding images, one run');
    assert.equal(tags[0]?.labels[0]?.label, 'red');
    assert.equal(embedded.vectors.length, 2);
    await b.dispose();
  });

  it('batched embeddings equal unbatched ones, texts included', async () => {
    const off = await batched({ enabled: false, windowMs: 0, maxBatch: 1 });
    const on = await batched({ enabled: true, windowMs: WINDOW, maxBatch: images.length });
    const one = async (e: typeof off.embedder, img: LoadedImage) =>
      (await e.run({ images: [img] }, { signal: signal() })).vectors[0] as Float32Array;
    const wantImages: Float32Array[] = [];
    for (const img of images) wantImages.push(await one(off.embedder, img));
    const gotImages = await Promise.all(images.map((img) => one(on.embedder, img)));
    gotImages.forEach((v, i) => {
      closeTo([...v], [...(wantImages[i] as Float32Array)], `image ${i}`);
    });

    const texts = ['red', 'a green dog', 'blue'];
    const wantTexts = await off.embedder.run({ texts }, { signal: signal() });
    on.textRuns.length = 0;
    const gotTexts = await Promise.all(
      texts.map((t) => on.embedder.run({ texts: [t] }, { signal: signal() }).then((r) => r.vectors[0])),
    );
    assert.deepEqual(on.textRuns, [3], 'three requests, one text-tower run');
    gotTexts.forEach((v, i) => {
      closeTo([...(v as Float32Array)], [...(wantTexts.vectors[i] as Float32Array)], `text ${i}`);
    });
    await Promise.all([off.dispose(), on.dispose()]);
  });

  it('a bad image fails only its own request; a cancelled waiting request leaves the batch', async () => {
    const b = await batched({ enabled: true, windowMs: WINDOW, maxBatch: 3 });
    await b.tagger.run({ images: [images[5] as LoadedImage], labels: LABELS }, { signal: signal() });
    b.visionRuns.length = 0;
    const broken: LoadedImage = { ...(images[1] as LoadedImage), bytes: Buffer.from('not a png at all') };
    const cancel = new AbortController();
    const runs = [
      b.tagger.run({ images: [images[0] as LoadedImage], labels: LABELS }, { signal: signal() }),
      b.tagger.run({ images: [broken], labels: LABELS }, { signal: signal() }),
      b.tagger.run({ images: [images[2] as LoadedImage], labels: LABELS }, { signal: cancel.signal }),
    ];
    await assert.rejects(runs[1] as Promise<unknown>);
    cancel.abort(new Error('cancelled by its user'));
    await assert.rejects(runs[2] as Promise<unknown>, /cancelled/);
    // Two more requests fill the batch (3) with the one still waiting.
    const more = [images[3], images[4]].map((img) =>
      b.tagger.run({ images: [img as LoadedImage], labels: LABELS }, { signal: signal() }),
    );
    const [first] = (await runs[0]) as { labels: Scored[] }[];
    assert.equal(first?.labels[0]?.label, 'red');
    const done = await Promise.all(more);
    assert.equal(done[0]?.[0]?.labels[0]?.label, 'yellow');
    assert.deepEqual(b.visionRuns, [3], 'the cancelled and the broken request took no place in the batch');
    await b.dispose();
  });
});
