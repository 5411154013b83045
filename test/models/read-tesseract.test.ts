import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { z } from 'zod';
import type { Backend } from '../../src/contracts/backend.js';
import { loadImage } from '../../src/core/media.js';
import { tesseractOptions } from '../../src/models/options.js';
import { checkTrainedData, createTesseractReader, tidyOcrText } from '../../src/models/read/tesseract.js';
import { solidPng, textPng } from '../fakes/images.js';

const LIMITS = { maxBytes: 1 << 24, maxPixels: 1 << 24, formats: ['png', 'jpeg', 'webp', 'gif'] } as const;
const signal = new AbortController().signal;
const load = (options: z.input<typeof tesseractOptions> = {}, modelId = 'eng') =>
  createTesseractReader({
    modelDir: '',
    modelId,
    executionProviders: ['cpu'],
    options: tesseractOptions.parse(options),
  });

async function rendered(text: string, fontSize?: number) {
  const { png, inkFraction } = await textPng(text, fontSize);
  assert.ok(
    inkFraction > 0.01,
    'no glyphs were drawn: install a font (CI: apt-get install fonts-dejavu-core)',
  );
  return loadImage('line.png', png, LIMITS);
}

const words = (s: string) => s.toLowerCase().match(/[a-z0-9]+/g) ?? [];

describe('read/tesseract (tesseract.js + @tesseract.js-data/eng, offline)', () => {
  let reader: Backend<'read'>;
  before(async () => {
    reader = await load();
  });
  after(async () => {
    await reader.dispose();
  });

  it('reads a rendered line of text word for word', async () => {
    const line = 'Iris reads 42 quick words';
    const result = await reader.run({ image: await rendered(line) }, { signal });
    assert.deepEqual(words(result.text), words(line));
    assert.ok((result.confidence ?? 0) > 0.8, `confidence ${result.confidence}`);
  });

  it('reads smaller text with punctuation', async () => {
    const line = 'The quick brown fox jumps over the lazy dog.';
    const result = await reader.run({ image: await rendered(line, 20) }, { signal });
    assert.deepEqual(words(result.text), words(line));
  });

  it('finds no text in a blank image, and writes nothing into the working directory', async () => {
    const blank = await loadImage('blank.png', await solidPng('#ffffff', 200), LIMITS);
    assert.deepEqual(await reader.run({ image: blank }, { signal }), { text: '' });
    assert.equal(existsSync(join(process.cwd(), 'eng.traineddata')), false);
  });

  it('a cancel ends the job at once; the next job gets a fresh worker and works', async () => {
    const image = await rendered('cancel me please');
    // cancelled while recognising (at its first progress report)
    const controller = new AbortController();
    const pending = reader.run(
      { image },
      { signal: controller.signal, onProgress: () => controller.abort() },
    );
    await assert.rejects(pending, { code: 'cancelled' });
    // cancelled while the image is being prepared
    const early = new AbortController();
    const preparing = reader.run({ image }, { signal: early.signal });
    early.abort();
    await assert.rejects(preparing, { code: 'cancelled' });
    const done = new AbortController();
    done.abort();
    await assert.rejects(reader.run({ image }, { signal: done.signal }), { code: 'cancelled' });
    const again = await reader.run({ image }, { signal });
    assert.deepEqual(words(again.text), ['cancel', 'me', 'please']);
    // two jobs at once: cancelling the first does not take the second down with it
    const first = new AbortController();
    const [a, b] = await Promise.allSettled([
      reader.run({ image }, { signal: first.signal, onProgress: () => first.abort() }),
      reader.run({ image }, { signal }),
    ]);
    assert.equal(a.status, 'rejected');
    assert.equal(b.status === 'fulfilled' && words(b.value.text).join(' '), 'cancel me please');
  });

  it('a truncated image is a bad_image user error', async () => {
    const { png } = await textPng('broken');
    const image = await loadImage('half.png', png.subarray(0, Math.floor(png.length / 2)), LIMITS);
    await assert.rejects(reader.run({ image }, { signal }), { code: 'bad_image' });
  });
});

describe('read/tesseract bad setup', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iris-tess-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a language without its npm package names the package to install', async () => {
    await assert.rejects(load({}, 'xyz'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'model_missing');
      assert.match(e.message, /npm install @tesseract\.js-data\/xyz/);
      return true;
    });
    await assert.rejects(load({}, '../etc'), { code: 'model_missing' });
  });

  it('corrupt trained data is refused before tesseract.js sees it (it would crash the process)', async () => {
    await writeFile(join(dir, 'eng.traineddata.gz'), gzipSync(Buffer.from('definitely not trained data')));
    await assert.rejects(load({ langPath: dir }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'model_missing');
      assert.match(e.message, /not usable trained data/);
      return true;
    });
    await writeFile(join(dir, 'eng.traineddata.gz'), 'not even gzip');
    await assert.rejects(load({ langPath: dir }), { code: 'model_missing' });
    await assert.rejects(load({ langPath: join(dir, 'nowhere') }), { code: 'model_missing' });
  });

  it('checkTrainedData reads the table of contents', () => {
    const toc = (offsets: number[], size: number) => {
      const b = Buffer.alloc(size);
      b.writeInt32LE(offsets.length, 0);
      offsets.forEach((o, i) => {
        b.writeBigInt64LE(BigInt(o), 4 + 8 * i);
      });
      return b;
    };
    const head = 4 + 8 * 24;
    const good = Array.from({ length: 24 }, (_, i) => (i < 17 ? -1 : head + (i - 17) * 10));
    assert.equal(checkTrainedData(toc(good, 1000)), null);
    assert.match(
      checkTrainedData(
        toc(
          good.map((o, i) => (i === 17 ? -1 : o)),
          1000,
        ),
      ) ?? '',
      /no LSTM/,
    );
    assert.match(
      checkTrainedData(
        toc(
          good.map((o, i) => (i === 20 ? 5000 : o)),
          1000,
        ),
      ) ?? '',
      /broken/,
    );
    assert.match(checkTrainedData(Buffer.from([1, 2])) ?? '', /too short/);
    const cut = Buffer.alloc(10);
    cut.writeInt32LE(3, 0); // three entries announced, no room for them
    assert.match(checkTrainedData(cut) ?? '', /no table of contents/);
    assert.match(checkTrainedData(toc([], 100)) ?? '', /no table of contents/);
  });

  it('tidyOcrText trims lines and collapses blank runs', () => {
    assert.equal(tidyOcrText('\n\n  one  \n\n\n\ntwo\t\n\n'), 'one\n\ntwo');
  });
});
