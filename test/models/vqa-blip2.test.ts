import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import type { z } from 'zod';
import { DEFAULT_MEDIA_LIMITS } from '../../src/contracts/media.js';
import { loadImage } from '../../src/core/media.js';
import { BLIP2_VOCAB, synthBlip2 } from '../../src/demo/colourworld/index.js';
import { blip2Options } from '../../src/models/options.js';
import { blip2Prompt, createBlip2Vqa } from '../../src/models/vqa/blip2.js';
import { solidPng } from '../fakes/images.js';

const HEX = {
  red: '#ff0000',
  green: '#00ff00',
  blue: '#0000ff',
  yellow: '#ffff00',
  cyan: '#00ffff',
  magenta: '#ff00ff',
  black: '#000000',
  white: '#ffffff',
};
const signal = new AbortController().signal;
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iris-blip2-'));
  await synthBlip2(join(dir, 'blip2'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function image(hex: string) {
  return loadImage('solid.png', await solidPng(hex), DEFAULT_MEDIA_LIMITS);
}

async function backend(options: z.input<typeof blip2Options> = {}) {
  return createBlip2Vqa({
    modelDir: join(dir, 'blip2'),
    modelId: 'cw',
    executionProviders: ['cpu'],
    options: blip2Options.parse(options),
  });
}

test('the memory prompt is the seed format: earlier turns, then "Question: … Answer:"', () => {
  assert.equal(blip2Prompt([], 'what colour is it?'), 'Question: what colour is it? Answer:');
  assert.equal(
    blip2Prompt([{ question: 'what colour is the cat?', answer: 'red' }], 'what did I ask before?'),
    'Question: what colour is the cat? Answer: red. Question: what did I ask before? Answer:',
  );
});

test('the colour-world tokenizer reads the prompt word by word, BOS first', async () => {
  const tok = new PreTrainedTokenizer(
    JSON.parse(await readFile(join(dir, 'blip2', 'tokenizer.json'), 'utf8')),
    JSON.parse(await readFile(join(dir, 'blip2', 'tokenizer_config.json'), 'utf8')),
  );
  const ids = [
    ...(tok('Question: what colour is it? Answer:') as unknown as { input_ids: { data: BigInt64Array } })
      .input_ids.data,
  ].map(Number);
  const v = BLIP2_VOCAB as Record<string, number>;
  assert.deepEqual(ids, [
    v['</s>'],
    v.question,
    v[':'],
    v.what,
    v.colour,
    v.is,
    v.it,
    v['?'],
    v.answer,
    v[':'],
  ]);
});

test('"what colour is it?" is answered with the colour word for every colour-world colour', async () => {
  const vqa = await backend();
  for (const [name, hex] of Object.entries(HEX)) {
    const out = await vqa.run(
      { images: [await image(hex)], question: 'What colour is it?', history: [] },
      { signal },
    );
    assert.equal(out.answer, name);
    assert.ok((out.confidence ?? 0) > 0.5, `confidence ${out.confidence}`);
  }
  await vqa.dispose();
});

test('a follow-up answer comes from the earlier turn: the turns reach the model input', async () => {
  const vqa = await backend();
  const img = await image(HEX.blue);
  const first = await vqa.run(
    { images: [img], question: 'What colour is the dog?', history: [] },
    { signal },
  );
  assert.equal(first.answer, 'blue');
  const history = [{ question: 'What colour is the dog?', answer: first.answer, at: 0 }];
  const follow = await vqa.run(
    { images: [img], question: 'And what did I ask before?', history },
    { signal },
  );
  assert.equal(follow.answer, 'dog');
  // the most recent earlier question wins
  const two = [...history, { question: 'is the car blue?', answer: 'blue', at: 1 }];
  assert.equal(
    (await vqa.run({ images: [img], question: 'what did i ask before?', history: two }, { signal })).answer,
    'car',
  );
  // without the earlier turns the same question cannot be answered
  assert.equal(
    (await vqa.run({ images: [img], question: 'And what did I ask before?', history: [] }, { signal }))
      .answer,
    'nothing',
  );
  await vqa.dispose();
});

test('a follow-up about the same image does not rerun the vision encoder (feature cache per image key)', async () => {
  let visionRuns = 0;
  const hooks = { onVisionRun: () => visionRuns++ };
  const vqa = await backend({ hooks });
  const red = await image(HEX.red);
  await vqa.run({ images: [red], question: 'what colour is it?', history: [] }, { signal });
  await vqa.run({ images: [red], question: 'what colour is it?', history: [] }, { signal });
  assert.equal(visionRuns, 1);
  await vqa.run(
    { images: [await image(HEX.green)], question: 'what colour is it?', history: [] },
    { signal },
  );
  assert.equal(visionRuns, 2);
  await vqa.dispose();

  visionRuns = 0;
  const uncached = await backend({ hooks, featureCache: false });
  const a = await uncached.run({ images: [red], question: 'what colour is it?', history: [] }, { signal });
  const b = await uncached.run({ images: [red], question: 'what colour is it?', history: [] }, { signal });
  assert.equal(visionRuns, 2);
  assert.equal(a.answer, b.answer);
  await uncached.dispose();
});

test('the oldest turns are dropped when the prompt would exceed maxPromptTokens', async () => {
  const history = [
    { question: 'what colour is the cat?', answer: 'red', at: 0 },
    { question: 'what colour is it?', answer: 'red', at: 1 },
  ];
  const red = await image(HEX.red);
  const question = 'what did I ask before?';
  const roomy = await backend();
  assert.equal((await roomy.run({ images: [red], question, history }, { signal })).answer, 'cat');
  await roomy.dispose();
  // 33 tokens with both turns, 21 without the first: the cat turn is dropped
  const tight = await backend({ maxPromptTokens: 24 });
  assert.equal((await tight.run({ images: [red], question, history }, { signal })).answer, 'nothing');
  await tight.dispose();
});

test('a cancelled request stops with a cancelled error', async () => {
  const vqa = await backend();
  const ctl = new AbortController();
  ctl.abort();
  await assert.rejects(
    vqa.run(
      { images: [await image(HEX.red)], question: 'what colour is it?', history: [] },
      { signal: ctl.signal },
    ),
    (e: Error & { code?: string }) => e.code === 'cancelled',
  );
  await vqa.dispose();
});

test('an answer with an added token in it (<image> red) reaches the user as the word only', async () => {
  const noisy = join(dir, 'blip2-control');
  await synthBlip2(noisy, { controlTokens: true });
  const vqa = await createBlip2Vqa({
    modelDir: noisy,
    modelId: 'cw',
    executionProviders: ['cpu'],
    options: blip2Options.parse({}),
  });
  const red = await vqa.run(
    { images: [await image(HEX.red)], question: 'what colour is it?', history: [] },
    { signal },
  );
  const noun = await vqa.run(
    {
      images: [await image(HEX.blue)],
      question: 'what did i ask before?',
      history: [{ question: 'what colour is the cat?', answer: 'blue', at: 0 }],
    },
    { signal },
  );
  await vqa.dispose();
  assert.equal(red.answer, 'red');
  assert.equal(noun.answer, 'cat');
});
