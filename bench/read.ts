/**
 * `npm run bench -- read [--images 8] [--rounds 3]`
 *
 * OCR of rendered text lines (sharp from SVG, 3–8 words, 24–48 px), side by side in one process:
 *   (a) tesseract.js's one-call API `Tesseract.recognize(image, 'eng', …)`: a new worker (WebAssembly
 *       core + trained data) for every image — what a bot that calls it per message gets
 *   (b) iris's read/tesseract backend: one worker kept for the process, images in turn
 * Both read the same PNG bytes with the same local trained data (no network) and must agree on the
 * text. Rounds interleave the methods; the median round is reported.
 */
import Tesseract from 'tesseract.js';
import type { LoadedImage } from '../src/contracts/request.js';
import { loadImage } from '../src/core/media.js';
import { tesseractOptions } from '../src/models/options.js';
import { createTesseractReader, languageDataDir } from '../src/models/read/tesseract.js';
import { textPng } from '../test/fakes/images.js';
import { flag } from './args.js';

const WORDS = 'iris reads every line of text quickly and without any network at all today'.split(' ');
const LIMITS = { maxBytes: 1 << 26, maxPixels: 1 << 26, formats: ['png'] } as const;

async function lines(n: number): Promise<LoadedImage[]> {
  const out: LoadedImage[] = [];
  for (let i = 0; i < n; i++) {
    const count = 3 + (i % 6);
    const text = Array.from({ length: count }, (_, k) => WORDS[(i * 5 + k) % WORDS.length]).join(' ');
    const { png } = await textPng(text, 24 + (i % 4) * 8);
    out.push(await loadImage(`line${i}.png`, png, LIMITS));
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export async function run(args: string[]): Promise<void> {
  const n = flag(args, 'images', 8);
  const rounds = flag(args, 'rounds', 3);
  const images = await lines(n);
  const signal = new AbortController().signal;
  const langPath = languageDataDir('eng');
  const reader = await createTesseractReader({
    modelDir: '',
    modelId: 'eng',
    executionProviders: ['cpu'],
    options: tesseractOptions.parse({}),
  });

  const oneCall = async () => {
    const texts: string[] = [];
    for (const image of images) {
      const { data } = await Tesseract.recognize(image.bytes, 'eng', {
        langPath,
        cacheMethod: 'none',
        gzip: true,
      });
      texts.push(data.text.trim());
    }
    return texts;
  };
  const iris = async () => {
    const texts: string[] = [];
    for (const image of images) texts.push((await reader.run({ image }, { signal })).text);
    return texts;
  };

  // warm-up, and the two must read the same words
  const [a, b] = [await oneCall(), await iris()];
  const words = (s: string) =>
    s
      .toLowerCase()
      .match(/[a-z]+/g)
      ?.join(' ');
  const agree = a.filter((t, i) => words(t) === words(b[i] ?? '')).length;

  const times: Record<'oneCall' | 'iris', number[]> = { oneCall: [], iris: [] };
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of [
      ['oneCall', oneCall],
      ['iris', iris],
    ] as const) {
      const t0 = performance.now();
      await fn();
      times[name].push(performance.now() - t0);
    }
  }
  await reader.dispose();
  const perImage = (ms: number) => ms / n;
  const ta = median(times.oneCall);
  const tb = median(times.iris);
  console.log(
    `read: ${n} rendered lines, ${rounds} rounds (median), eng LSTM model from @tesseract.js-data/eng`,
  );
  console.log(
    `  (a) Tesseract.recognize per image (new worker each) ${perImage(ta).toFixed(0).padStart(6)} ms/image`,
  );
  console.log(
    `  (b) iris read/tesseract (one kept worker)           ${perImage(tb).toFixed(0).padStart(6)} ms/image`,
  );
  console.log(`  ratio (a)/(b): ${(ta / tb).toFixed(2)}× — same text on ${agree}/${n} images`);
}
