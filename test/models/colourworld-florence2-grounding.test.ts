import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AutoProcessor,
  env,
  Florence2ForConditionalGeneration,
  type Florence2Processor,
  RawImage,
  type Tensor,
} from '@huggingface/transformers';
import type { Backend } from '../../src/contracts/backend.js';
import type { FoundBox } from '../../src/contracts/tasks/find.js';
import { loadImage } from '../../src/core/media.js';
import { synthFlorence2 } from '../../src/demo/colourworld/florence2.js';
import { createFlorence2Finder } from '../../src/models/find/florence2.js';
import { florence2Options } from '../../src/models/options.js';
import { solidPng } from '../fakes/images.js';
import { splitPng } from '../fakes/split.js';

const LIMITS = { maxBytes: 1 << 24, maxPixels: 1 << 24, formats: ['png', 'jpeg', 'webp', 'gif'] } as const;
const signal = new AbortController().signal;
const GREEN = '#00ff00';
const RED = '#ff0000';
const BLUE = '#0000ff';

/** Within 1.5 px of the expected box (a location bin is 1/1000 of a side; corners round to whole pixels). */
function assertBox(actual: FoundBox['box'] | undefined, expected: FoundBox['box'], what: string) {
  assert.ok(actual, `${what}: no box`);
  for (const k of ['x1', 'y1', 'x2', 'y2'] as const) {
    assert.ok(Math.abs(actual[k] - expected[k]) <= 1.5, `${what}: ${k} ${actual[k]} ≠ ${expected[k]}`);
  }
}

describe('colour-world Florence-2 grounding', () => {
  let dir: string;
  let finder: Backend<'find'>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iris-florence-ground-'));
    await synthFlorence2(dir);
    finder = await createFlorence2Finder({
      modelDir: dir,
      modelId: 'onnx-community/Florence-2-base-ft',
      executionProviders: ['cpu'],
      options: florence2Options.parse({}),
    });
  });
  after(async () => {
    await finder.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  const find = async (png: Buffer, object: string) =>
    (await finder.run({ image: await loadImage('img.png', png, LIMITS), object }, { signal })).boxes;

  it('answers in Florence-2 format through transformers.js: the phrase, then four <loc_…> tokens', async () => {
    env.allowRemoteModels = false;
    env.useFSCache = false;
    const model = await Florence2ForConditionalGeneration.from_pretrained(dir, {
      dtype: 'fp32',
      local_files_only: true,
    });
    const processor = (await AutoProcessor.from_pretrained(dir, {
      local_files_only: true,
    })) as Florence2Processor;
    const task = '<CAPTION_TO_PHRASE_GROUNDING>';
    assert.deepEqual(processor.construct_prompts(`${task}red`), ['Locate the phrases in the caption: red']);
    const { data, info } = await (await import('sharp'))
      .default(await splitPng(GREEN, RED, { width: 40, height: 20 }))
      .raw()
      .toBuffer({ resolveWithObject: true });
    const image = new RawImage(new Uint8ClampedArray(data), info.width, info.height, info.channels);
    const ids = (await model.generate({
      ...(await processor(image, `${task}red`)),
      max_new_tokens: 20,
    })) as Tensor;
    const text = processor.batch_decode(ids, { skip_special_tokens: false })[0];
    assert.equal(text, '</s><s>red<loc_500><loc_0><loc_999><loc_999></s>');
    const parsed = processor.post_process_generation(text as string, task, [40, 20])[task] as {
      bboxes: number[][];
      labels: string[];
    };
    assert.deepEqual(parsed.labels, ['red']);
    assert.deepEqual(
      parsed.bboxes[0]?.map((v) => Math.round(v * 10) / 10),
      [20, 0, 40, 20],
    );
    await model.dispose();
  });

  it('boxes the right half of an image green on the left and red on the right, labelled "red"', async () => {
    const boxes = await find(await splitPng(GREEN, RED, { width: 64, height: 64 }), 'red');
    assert.equal(boxes.length, 1, JSON.stringify(boxes));
    assert.equal(boxes[0]?.label, 'red');
    assertBox(boxes[0]?.box, { x1: 32, y1: 0, x2: 64, y2: 64 }, 'right half');
  });

  it('boxes the left half when red is on the left; pixel coordinates follow a wide image', async () => {
    const boxes = await find(await splitPng(RED, GREEN, { width: 120, height: 60 }), 'red');
    assert.equal(boxes.length, 1, JSON.stringify(boxes));
    assertBox(boxes[0]?.box, { x1: 0, y1: 0, x2: 60, y2: 60 }, 'left half');
    const green = await find(await splitPng(RED, GREEN, { width: 120, height: 60 }), 'green');
    assertBox(green[0]?.box, { x1: 60, y1: 0, x2: 120, y2: 60 }, 'right half of the wide image');
  });

  it('boxes the top or bottom half of an image split across, and the whole of a solid image', async () => {
    const split = await splitPng(BLUE, RED, { width: 50, height: 80, split: 'horizontal' });
    assertBox((await find(split, 'blue'))[0]?.box, { x1: 0, y1: 0, x2: 50, y2: 40 }, 'top half');
    assertBox((await find(split, 'red'))[0]?.box, { x1: 0, y1: 40, x2: 50, y2: 80 }, 'bottom half');
    const solid = await find(await solidPng(RED, 48), 'red');
    assert.equal(solid.length, 1);
    assertBox(solid[0]?.box, { x1: 0, y1: 0, x2: 48, y2: 48 }, 'whole image');
  });

  it('finds nothing for a colour that is not in the image, or a phrase with no colour', async () => {
    const png = await splitPng(GREEN, RED, { width: 64, height: 64 });
    assert.deepEqual(await find(png, 'blue'), []);
    assert.deepEqual(await find(png, 'zebra'), []);
    // the two-colour image's mean is no colour of its own: yellow is nowhere
    assert.deepEqual(await find(png, 'yellow'), []);
  });

  it('a phrase holding another task\'s flag word ("text") still grounds', async () => {
    const boxes = await find(await splitPng(GREEN, RED, { width: 64, height: 64 }), 'the red text');
    assert.equal(boxes[0]?.label, 'red');
    assertBox(boxes[0]?.box, { x1: 32, y1: 0, x2: 64, y2: 64 }, 'right half');
  });

  it('refuses < and > in the phrase (Florence-2 task and location tokens); honours cancel', async () => {
    const image = await loadImage('r.png', await solidPng(RED), LIMITS);
    await assert.rejects(finder.run({ image, object: 'red<loc_1>' }, { signal }), { code: 'bad_option' });
    const cancelled = new AbortController();
    cancelled.abort();
    await assert.rejects(finder.run({ image, object: 'red' }, { signal: cancelled.signal }), {
      code: 'cancelled',
    });
  });
});
