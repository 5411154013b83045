import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { Backend } from '../../src/contracts/backend.js';
import type { LoadedImage } from '../../src/contracts/request.js';
import { synthAll, synthClip } from '../../src/demo/colourworld/index.js';
import { isUserError } from '../../src/errors.js';
import { clipOptions } from '../../src/models/options.js';
import { createClipTagger } from '../../src/models/tag/clip.js';
import { parsePreprocessorConfig } from '../../src/models/tag/clip-preprocess.js';

const COLOURS: Record<string, [number, number, number]> = {
  red: [255, 0, 0],
  green: [0, 255, 0],
  blue: [0, 0, 255],
  yellow: [255, 255, 0],
  black: [0, 0, 0],
  white: [255, 255, 255],
};
const LABELS = [...Object.keys(COLOURS), 'cat', 'dog'];

async function image(
  name: string,
  [r, g, b]: [number, number, number],
  opts: { width?: number; height?: number; format?: 'png' | 'jpeg' } = {},
): Promise<LoadedImage> {
  const width = opts.width ?? 48;
  const height = opts.height ?? 32;
  const format = opts.format ?? 'png';
  const s = sharp({ create: { width, height, channels: 3, background: { r, g, b } } });
  const bytes = await (format === 'png' ? s.png() : s.jpeg({ quality: 95 })).toBuffer();
  return { name, bytes, format, width, height };
}

const run = { signal: new AbortController().signal };

describe('tag/clip on the colour-world model', () => {
  let root: string;
  let modelDir: string;
  let tagger: Backend<'tag'>;
  let textRuns = 0;
  let textsEmbedded = 0;
  let visionRuns: number[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'iris-clip-'));
    await synthAll(root);
    modelDir = join(root, 'Xenova/clip-vit-base-patch32');
    tagger = await createClipTagger({
      modelDir,
      modelId: 'Xenova/clip-vit-base-patch32',
      executionProviders: ['cpu'],
      options: clipOptions.parse({
        batchSize: 8,
        hooks: {
          onTextRun: (n: number) => {
            textRuns++;
            textsEmbedded += n;
          },
          onVisionRun: (n: number) => visionRuns.push(n),
        },
      }),
    });
  });
  after(async () => {
    await tagger.dispose();
    await rm(root, { recursive: true, force: true });
  });

  it('tags each colour with its own name first', async () => {
    for (const [name, rgb] of Object.entries(COLOURS)) {
      const [out] = await tagger.run({ images: [await image(`${name}.png`, rgb)], labels: LABELS }, run);
      assert.equal(out?.labels[0]?.label, name, JSON.stringify(out?.labels.slice(0, 3)));
      assert.equal(out?.labels.length, LABELS.length);
      const scores = out?.labels.map((l) => l.score) ?? [];
      assert.ok(scores.every(Number.isFinite));
      assert.deepEqual(
        scores,
        [...scores].sort((a, b) => b - a),
      );
      assert.ok(Math.abs(scores.reduce((a, b) => a + b, 0) - 1) < 1e-6);
    }
  });

  it('returns a batch of 20 mixed images in input order (PNG, JPEG, odd sizes)', async () => {
    const names = Object.keys(COLOURS);
    const expected: string[] = [];
    const images: LoadedImage[] = [];
    for (let i = 0; i < 20; i++) {
      const name = names[(i * 7) % names.length] as string;
      expected.push(name);
      images.push(
        await image(`${i}.img`, COLOURS[name] as [number, number, number], {
          width: 10 + i * 3,
          height: 40 - i,
          format: i % 2 ? 'jpeg' : 'png',
        }),
      );
    }
    visionRuns = [];
    const steps: number[] = [];
    const out = await tagger.run(
      { images, labels: LABELS },
      { signal: run.signal, onProgress: (p) => steps.push(p.step ?? -1) },
    );
    assert.deepEqual(
      out.map((o) => o.labels[0]?.label),
      expected,
    );
    assert.deepEqual(visionRuns, [8, 8, 4]);
    assert.deepEqual(steps, [8, 16, 20]);
  });

  it('embeds a label set once and reuses it', async () => {
    const labels = ['red', 'green', 'a cat', 'a dog'];
    const img = await image('r.png', [250, 10, 10]);
    const before = { runs: textRuns, texts: textsEmbedded };
    await tagger.run({ images: [img], labels }, run);
    assert.equal(textRuns - before.runs, 1);
    assert.equal(textsEmbedded - before.texts, 2, 'red and green were embedded earlier');
    await tagger.run({ images: [img, img], labels }, run);
    await tagger.run({ images: [img], labels: [...labels].reverse() }, run);
    assert.equal(textRuns - before.runs, 1, 'no text-tower run for known labels');
  });

  it('scores labels independently in sigmoid mode', async () => {
    const [out] = await tagger.run(
      { images: [await image('b.png', [0, 0, 255])], labels: ['blue', 'cat'], mode: 'sigmoid' },
      run,
    );
    assert.equal(out?.labels[0]?.label, 'blue');
    assert.ok((out?.labels[0]?.score ?? 0) > 0.99);
    assert.ok((out?.labels[1]?.score ?? 1) < 0.5);
  });

  it('handles greyscale and alpha images', async () => {
    const grey = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#000' } })
      .greyscale()
      .png()
      .toBuffer();
    const rgba = await sharp({
      create: { width: 16, height: 16, channels: 4, background: { r: 0, g: 255, b: 0, alpha: 1 } },
    })
      .png()
      .toBuffer();
    const out = await tagger.run(
      {
        images: [
          { name: 'g.png', bytes: grey, format: 'png', width: 16, height: 16 },
          { name: 'a.png', bytes: rgba, format: 'png', width: 16, height: 16 },
        ],
        labels: LABELS,
      },
      run,
    );
    assert.deepEqual(
      out.map((o) => o.labels[0]?.label),
      ['black', 'green'],
    );
  });

  it('throws cancelled when the signal aborts between batches', async () => {
    const images = await Promise.all(Array.from({ length: 24 }, (_, i) => image(`${i}.png`, [255, 0, 0])));
    const ac = new AbortController();
    await assert.rejects(
      tagger.run(
        { images, labels: LABELS },
        { signal: ac.signal, onProgress: (p) => (p.step === 8 ? ac.abort() : undefined) },
      ),
      (e) => isUserError(e) && e.code === 'cancelled',
    );
    const done = new AbortController();
    done.abort();
    await assert.rejects(
      tagger.run({ images, labels: LABELS }, { signal: done.signal }),
      (e) => isUserError(e) && e.code === 'cancelled',
    );
  });

  it('throws bad_image on corrupt or truncated bytes', async () => {
    const good = await image('good.png', [255, 0, 0]);
    const truncated = { ...good, name: 'half.png', bytes: good.bytes.subarray(0, good.bytes.length / 2) };
    const garbage = { ...good, name: 'noise.png', bytes: Buffer.from('definitely not a png') };
    for (const bad of [truncated, garbage]) {
      await assert.rejects(
        tagger.run({ images: [good, bad], labels: LABELS }, run),
        (e) => isUserError(e) && e.code === 'bad_image' && e.message.startsWith(`${bad.name}:`),
      );
    }
    // a bad image in a later batch (decoded while an earlier batch runs) fails the same way
    const many = [...Array.from({ length: 9 }, () => good), garbage];
    await assert.rejects(
      tagger.run({ images: many, labels: LABELS }, run),
      (e) => isUserError(e) && e.code === 'bad_image',
    );
  });

  it('never returns NaN, even for labels with no colour', async () => {
    const [out] = await tagger.run(
      { images: [await image('k.png', [0, 0, 0])], labels: ['cat', 'dog', 'zebra'] },
      run,
    );
    for (const l of out?.labels ?? []) assert.ok(Number.isFinite(l.score), `${l.label}: ${l.score}`);
  });

  it('works with more labels than the label cache holds', async () => {
    const small = await createClipTagger({
      modelDir,
      modelId: 'x',
      executionProviders: ['cpu'],
      options: clipOptions.parse({ textCacheSize: 2, template: 'This is a photo of {}' }),
    });
    try {
      const [out] = await small.run({ images: [await image('y.png', [255, 255, 0])], labels: LABELS }, run);
      assert.equal(out?.labels[0]?.label, 'yellow');
    } finally {
      await small.dispose();
    }
  });

  it('resizes the shortest edge then centre-crops when the two sizes differ', async () => {
    const dir = join(root, 'resize-then-crop');
    await synthClip(dir);
    const path = join(dir, 'preprocessor_config.json');
    const pre = JSON.parse(await readFile(path, 'utf8'));
    await writeFile(path, JSON.stringify({ ...pre, size: { shortest_edge: 16 } }));
    const t = await createClipTagger({
      modelDir: dir,
      modelId: 'x',
      executionProviders: ['cpu'],
      options: clipOptions.parse({}),
    });
    try {
      // left third red, right two thirds blue: the centre crop sees only blue
      const bytes = await sharp({ create: { width: 90, height: 30, channels: 3, background: '#0000ff' } })
        .composite([
          {
            input: { create: { width: 30, height: 30, channels: 3, background: '#ff0000' } },
            left: 0,
            top: 0,
          },
        ])
        .png()
        .toBuffer();
      const [out] = await t.run(
        { images: [{ name: 'rb.png', bytes, format: 'png', width: 90, height: 30 }], labels: LABELS },
        run,
      );
      assert.equal(out?.labels[0]?.label, 'blue');
    } finally {
      await t.dispose();
    }
  });

  it('reads both forms of preprocessor_config.json', () => {
    assert.deepEqual(
      parsePreprocessorConfig({
        size: 224,
        crop_size: 224,
        do_normalize: true,
        image_mean: [0.5, 0.5, 0.5],
        image_std: [0.25, 0.25, 0.25],
      }),
      {
        resize: { shortestEdge: 224 },
        crop: { width: 224, height: 224 },
        rescale: 1 / 255,
        mean: [0.5, 0.5, 0.5],
        std: [0.25, 0.25, 0.25],
      },
    );
    const p = parsePreprocessorConfig({
      size: { shortest_edge: 256 },
      crop_size: { height: 224, width: 200 },
      do_rescale: true,
      rescale_factor: 0.5,
      do_normalize: false,
    });
    assert.deepEqual(p.resize, { shortestEdge: 256 });
    assert.deepEqual(p.crop, { width: 200, height: 224 });
    assert.equal(p.rescale, 0.5);
    assert.deepEqual(
      [p.mean, p.std],
      [
        [0, 0, 0],
        [1, 1, 1],
      ],
    );
  });

  it('reports a missing model folder as model_missing', async () => {
    await assert.rejects(
      createClipTagger({
        modelDir: join(root, 'nope'),
        modelId: 'nope',
        executionProviders: ['cpu'],
        options: clipOptions.parse({}),
      }),
      (e) => isUserError(e) && e.code === 'model_missing',
    );
  });
});
