import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadImage } from '../../src/core/media.js';
import { type Florence2ControlTokens, synthFlorence2 } from '../../src/demo/colourworld/florence2.js';
import { createFlorence2Captioner } from '../../src/models/caption/florence2.js';
import { createFlorence2Finder } from '../../src/models/find/florence2.js';
import { type Florence2Options, florence2Options } from '../../src/models/options.js';
import { createFlorence2Reader } from '../../src/models/read/florence2.js';
import type { BackendLoadOptions } from '../../src/models/types.js';
import { solidPng } from '../fakes/images.js';

const LIMITS = { maxBytes: 1 << 24, maxPixels: 1 << 24, formats: ['png', 'jpeg', 'webp', 'gif'] } as const;
const signal = new AbortController().signal;
/** Anything a tokenizer or Florence-2 uses for itself: `<loc_1>`, `<pad>`, `</s>`, `<unk>`… */
const CONTROL = /<\/?[a-z_0-9|]+>/i;

const load = (modelDir: string): BackendLoadOptions<Florence2Options> => ({
  modelDir,
  modelId: 'onnx-community/Florence-2-base-ft',
  executionProviders: ['cpu'],
  options: florence2Options.parse({}),
});
const red = async () => loadImage('red.png', await solidPng('#ff0000', 48), LIMITS);

describe('Florence-2 output is user text', () => {
  let root: string;
  const folders: Partial<Record<Florence2ControlTokens, string>> = {};

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'iris-florence-text-'));
    for (const variant of ['mixed', 'only'] as const) {
      folders[variant] = join(root, variant);
      await synthFlorence2(folders[variant] as string, { controlTokens: variant });
    }
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('captions of a model that emits <loc_…>, <pad> and <unk> among its words come out clean', async () => {
    const captioner = await createFlorence2Captioner(load(folders.mixed as string));
    const image = await red();
    const got = {
      short: (await captioner.run({ image }, { signal })).caption,
      detailed: (await captioner.run({ image, detail: 'detailed' }, { signal })).caption,
      more: (await captioner.run({ image, detail: 'more_detailed' }, { signal })).caption,
    };
    await captioner.dispose();
    assert.deepEqual(got, {
      short: 'A solid red image.',
      detailed: 'The image shows a plain red background with nothing else in it.',
      more: 'The image is filled with a single solid colour. The colour is red, and nothing else can be seen in the picture.',
    });
  });

  it('OCR of such a model is the text without the tokens; grounding with <pad> before the phrase keeps its box and a clean label', async () => {
    const reader = await createFlorence2Reader(load(folders.mixed as string));
    const read = await reader.run({ image: await red() }, { signal });
    await reader.dispose();
    assert.equal(read.text, 'red');

    const finder = await createFlorence2Finder(load(folders.mixed as string));
    const found = await finder.run({ image: await red(), object: 'red' }, { signal });
    await finder.dispose();
    assert.deepEqual(found.boxes, [{ label: 'red', box: { x1: 0, y1: 0, x2: 48, y2: 48 } }]);
  });

  it('an answer of nothing but tokens is empty, so the commands fall back', async () => {
    const captioner = await createFlorence2Captioner(load(folders.only as string));
    const reader = await createFlorence2Reader(load(folders.only as string));
    const image = await red();
    const caption = await captioner.run({ image, detail: 'detailed' }, { signal });
    const read = await reader.run({ image }, { signal });
    await Promise.all([captioner.dispose(), reader.dispose()]);
    assert.equal(caption.caption, '');
    assert.equal(read.text, '');
    assert.doesNotMatch(caption.caption + read.text, CONTROL);
  });
});

describe('Florence-2 folders whose processor is not named', () => {
  let dir: string;
  const preprocessor = () => join(dir, 'preprocessor_config.json');
  const edit = async (change: (json: Record<string, unknown>) => void, file = preprocessor()) => {
    const json = JSON.parse(await readFile(file, 'utf8'));
    change(json);
    await writeFile(file, JSON.stringify(json));
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iris-florence-noclass-'));
    await synthFlorence2(dir);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a folder without processor_class still captions and reads (the processor is built explicitly)', async () => {
    await edit((j) => delete j.processor_class);
    await edit((j) => delete j.processor_class, join(dir, 'tokenizer_config.json'));
    const captioner = await createFlorence2Captioner(load(dir));
    const reader = await createFlorence2Reader(load(dir));
    const image = await red();
    assert.equal((await captioner.run({ image }, { signal })).caption, 'A solid red image.');
    assert.equal((await reader.run({ image }, { signal })).text, 'red');
    await Promise.all([captioner.dispose(), reader.dispose()]);
  });

  it('a folder without the task prompts fails at load, naming the key and the folder', async () => {
    for (const key of [
      'task_prompts_without_inputs',
      'task_prompts_with_input',
      'tasks_answer_post_processing_type',
    ]) {
      await synthFlorence2(dir);
      await edit((j) => delete j[key]);
      for (const create of [createFlorence2Captioner, createFlorence2Reader, createFlorence2Finder]) {
        await assert.rejects(create(load(dir)), (e: Error & { code?: string }) => {
          assert.equal(e.code, 'model_missing');
          assert.ok(e.message.includes(key), e.message);
          assert.ok(e.message.includes(dir), e.message);
          return true;
        });
      }
    }
    await synthFlorence2(dir);
    await edit((j) => {
      delete (j.task_prompts_without_inputs as Record<string, string>)['<OCR>'];
    });
    await assert.rejects(createFlorence2Reader(load(dir)), /has no <OCR> in task_prompts_without_inputs/);
  });
});
