import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadImage } from '../../src/core/media.js';
import { createFlorence2Captioner } from '../../src/models/caption/florence2.js';
import { florence2Options } from '../../src/models/options.js';
import { createFlorence2Reader } from '../../src/models/read/florence2.js';
import { solidPng, textPng } from '../fakes/images.js';

/**
 * Real Florence-2 weights: runs only when IRIS_MODELS_DIR holds onnx-community/Florence-2-base-ft
 * (not the colour world); otherwise it says it skipped. Nothing is downloaded.
 */
const dir = join(process.env.IRIS_MODELS_DIR ?? '', 'onnx-community/Florence-2-base-ft');
const config = existsSync(join(dir, 'config.json'))
  ? JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))
  : null;
const real = process.env.IRIS_MODELS_DIR !== undefined && config !== null && !('iris_colour_world' in config);
const LIMITS = { maxBytes: 1 << 26, maxPixels: 1 << 26, formats: ['png', 'jpeg'] } as const;
const signal = new AbortController().signal;
const load = {
  modelDir: dir,
  modelId: 'onnx-community/Florence-2-base-ft',
  executionProviders: ['cpu'],
  options: florence2Options.parse({}),
};

test('real Florence-2: captions a solid red image and reads a rendered line', {
  skip: real ? false : 'no real Florence-2-base-ft in IRIS_MODELS_DIR',
}, async () => {
  const captioner = await createFlorence2Captioner(load);
  const red = await loadImage('red.png', await solidPng('#ff0000', 256), LIMITS);
  const { caption } = await captioner.run({ image: red }, { signal });
  assert.match(caption, /\bred\b/i);
  await captioner.dispose();

  const reader = await createFlorence2Reader(load);
  const line = 'OPEN SEVEN DAYS';
  const { png } = await textPng(line, 64);
  const { text } = await reader.run({ image: await loadImage('line.png', png, LIMITS) }, { signal });
  assert.match(text.toUpperCase(), /OPEN\s*SEVEN\s*DAYS/);
  await reader.dispose();
});
