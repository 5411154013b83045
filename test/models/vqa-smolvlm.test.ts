import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AutoProcessor } from '@huggingface/transformers';
import { DEFAULT_MEDIA_LIMITS, loadImage } from '../../src/core/media.js';
import { SMOLVLM_VOCAB, synthSmolVlm } from '../../src/models/colourworld/index.js';
import { createSmolVlmVqa, smolVlmMessages } from '../../src/models/vqa/smolvlm.js';
import { solidPng } from '../fakes/images.js';

const signal = new AbortController().signal;
let dir = '';
let model = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iris-smolvlm-'));
  model = join(dir, 'smolvlm');
  await synthSmolVlm(model);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function image(hex: string) {
  return loadImage('solid.png', await solidPng(hex), DEFAULT_MEDIA_LIMITS);
}

test('earlier turns become chat messages; the image rides in the first user message', async () => {
  const img = await image('#ff0000');
  const messages = smolVlmMessages({
    images: [img],
    question: 'And what did I ask before?',
    history: [{ question: 'What colour is the cat?', answer: 'red', at: 0 }],
  });
  assert.deepEqual(messages, [
    { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What colour is the cat?' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'red' }] },
    { role: 'user', content: [{ type: 'text', text: 'And what did I ask before?' }] },
  ]);
  // the real processor renders them with the chat template and expands <image> to image_seq_len tokens
  const processor = await AutoProcessor.from_pretrained(model, { local_files_only: true });
  const prompt = processor.apply_chat_template(messages as never, { add_generation_prompt: true }) as string;
  assert.equal(
    prompt,
    '<|im_start|>User:<image>What colour is the cat?<end_of_utterance>\nAssistant: red<end_of_utterance>\n' +
      'User: And what did I ask before?<end_of_utterance>\nAssistant:',
  );
  const seqLen = JSON.parse(await readFile(join(model, 'processor_config.json'), 'utf8')).image_seq_len;
  const inputs = await processor(prompt, [
    new (await import('@huggingface/transformers')).RawImage(new Uint8Array(16 * 16 * 3), 16, 16, 3),
  ]);
  const ids = [...(inputs.input_ids.data as BigInt64Array)].map(Number);
  const v = SMOLVLM_VOCAB as Record<string, number>;
  assert.equal(ids.filter((id) => id === v['<image>']).length, seqLen);
  assert.deepEqual(ids.slice(0, 4), [v['<|im_start|>'], v.user, v[':'], v['<fake_token_around_image>']]);
});

test('SmolVLM answers the colour, and a follow-up answers from the earlier turn (transformers.js generate)', async () => {
  const vqa = await createSmolVlmVqa({
    modelDir: model,
    modelId: 'cw',
    executionProviders: ['cpu'],
    options: {},
  });
  for (const [name, hex] of [
    ['red', '#ff0000'],
    ['yellow', '#ffff00'],
    ['black', '#000000'],
  ] as const) {
    const out = await vqa.run(
      { images: [await image(hex)], question: 'What colour is the ball?', history: [] },
      { signal },
    );
    assert.equal(out.answer, name);
  }
  const img = await image('#00ffff');
  const first = await vqa.run(
    { images: [img], question: 'What colour is the bird?', history: [] },
    { signal },
  );
  assert.equal(first.answer, 'cyan');
  const history = [{ question: 'What colour is the bird?', answer: first.answer, at: 0 }];
  assert.equal(
    (await vqa.run({ images: [img], question: 'What did I ask before?', history }, { signal })).answer,
    'bird',
  );
  assert.equal(
    (await vqa.run({ images: [img], question: 'What did I ask before?', history: [] }, { signal })).answer,
    'nothing',
  );
  await assert.rejects(
    vqa.run({ images: [img], question: 'q', history: [], format: 'json' }, { signal }),
    /need the groq backend/,
  );
  await vqa.dispose();
});
