import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { mediaSettings } from '../../src/app.js';
import { COMMANDS } from '../../src/commands/index.js';
import { loadConfig } from '../../src/config.js';
import type { Backend, BackendProvider } from '../../src/contracts/backend.js';
import type { BotRequest } from '../../src/contracts/request.js';
import type { VqaIO } from '../../src/contracts/tasks/vqa.js';
import { Dispatcher } from '../../src/core/dispatch.js';
import { createLogger } from '../../src/core/log.js';
import { Scheduler } from '../../src/core/scheduler.js';
import { synthBlip2 } from '../../src/demo/colourworld/blip2.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { queueOf } from '../../src/models/tasks.js';
import { solidPng } from '../fakes/images.js';
import { completion, startFakeOpenAI } from '../fakes/openai.js';
import { RecordingResponder } from '../fakes/responder.js';
import { SECRETS } from '../fakes/secrets.js';

/** A vqa backend taking `maxImages` images per question; answers say how many images it saw. */
function backends(maxImages: number | undefined, seen: VqaIO['in'][]): BackendProvider {
  const vqa: Backend<'vqa'> = {
    task: 'vqa',
    id: 'fake',
    model: 'fake',
    ...(maxImages !== undefined && { maxImages }),
    async run(input) {
      seen.push(input);
      const first = input.images[0]?.bytes.equals(await solidPng('#f00')) ? 'red' : 'not red';
      return { answer: input.images.length > 1 ? `Image 1 is ${first}; they differ.` : first };
    },
    async dispose() {},
  };
  return {
    queueOf,
    async get(task) {
      if (task !== 'vqa') throw new Error(`not implemented: ${task}`);
      return vqa as never;
    },
    status: () => [],
  };
}

async function compare(provider: BackendProvider, fields: Partial<BotRequest>) {
  const config = loadConfig({ env: {}, overrides: { 'memory.store': 'memory' } });
  const scheduler = new Scheduler(config.scheduler);
  const dispatcher = new Dispatcher({
    commands: COMMANDS,
    executor: scheduler,
    registry: provider,
    config,
    log: createLogger({
      level: 'silent',
      secrets: [],
      destination: new Writable({ write: (_c, _e, d) => d() }),
    }),
    media: mediaSettings(config),
  });
  const res = new RecordingResponder();
  await dispatcher.handle(
    {
      id: 'r',
      platform: 'test',
      command: 'compare',
      args: {},
      images: [],
      conversation: 'test:c',
      user: { id: 'u' },
      signal: new AbortController().signal,
      ...fields,
    },
    res,
  );
  await scheduler.stop();
  return res.reply;
}

test('one image at a time: each answer is labelled with its image, then a verdict', async () => {
  const seen: VqaIO['in'][] = [];
  const images = [
    { name: 'a.png', data: await solidPng('#f00') },
    { name: 'b.png', data: await solidPng('#00f') },
    { name: 'c.png', data: await solidPng('#f00') },
  ];
  const reply = await compare(backends(undefined, seen), { images });
  assert.equal(reply.error, undefined, reply.text);
  assert.equal(
    reply.text,
    'Image 1 (a.png): red\nImage 2 (b.png): not red\nImage 3 (c.png): red\nSome images get the same answer.',
  );
  assert.equal(seen.length, 3);
  assert.ok(seen.every((s) => s.images.length === 1 && s.history.length === 0));
  assert.deepEqual(
    (reply.data as { images: { name: string; answer: string }[] }).images.map((i) => [i.name, i.answer]),
    [
      ['a.png', 'red'],
      ['b.png', 'not red'],
      ['c.png', 'red'],
    ],
  );
});

test('a backend that takes several images gets them in one question, with the user question', async () => {
  const seen: VqaIO['in'][] = [];
  const images = [
    { name: 'a.png', data: await solidPng('#f00') },
    { name: 'b.png', data: await solidPng('#00f') },
  ];
  const reply = await compare(backends(5, seen), { images, args: { question: 'which is brighter?' } });
  assert.equal(seen.length, 1);
  assert.equal(seen[0]?.images.length, 2);
  assert.equal(seen[0]?.question, 'which is brighter?');
  assert.equal(reply.text, 'Image 1 is red; they differ.\n(Image 1 (a.png), Image 2 (b.png))');
});

test('fewer than 2 or more than 4 images: a clear message', async () => {
  const png = { name: 'a.png', data: await solidPng('#f00') };
  const one = await compare(backends(undefined, []), { images: [png] });
  assert.equal(one.error?.code, 'bad_option');
  assert.match(one.text ?? '', /needs 2 images/);
  const five = await compare(backends(undefined, []), { images: [png, png, png, png, png] });
  assert.match(five.text ?? '', /takes 2 to 4 images \(got 5\)/);
});

test('through the real registry: leaked chat markers and added tokens are not in the reply; nothing else → "I don\'t know."', async () => {
  const images = [
    { name: 'a.png', data: await solidPng('#f00') },
    { name: 'b.png', data: await solidPng('#00f') },
  ];
  const fake = await startFakeOpenAI({ apiKey: SECRETS.groqKey });
  const groq = new ModelRegistry({
    modelsDir: tmpdir(),
    executionProviders: ['cpu'],
    tasks: { vqa: { backend: 'groq', model: 'm', options: {} } },
    providers: { groq: { apiKey: SECRETS.groqKey, baseUrl: fake.url } },
  });
  const dir = await mkdtemp(join(tmpdir(), 'iris-compare-'));
  try {
    fake.script(
      completion('<|im_start|>assistant\nImage 1 is red,<|eot_id|> Image 2 is blue.<|im_end|>'),
      completion('<|im_end|>'),
    );
    const legend = '(Image 1 (a.png), Image 2 (b.png))';
    assert.equal((await compare(groq, { images })).text, `Image 1 is red, Image 2 is blue.\n${legend}`);
    assert.equal((await compare(groq, { images })).text, `I don't know.\n${legend}`);

    // BLIP-2 whose answers start with an added token: one image at a time, the words only.
    await synthBlip2(join(dir, 'Salesforce/blip2-opt-2.7b'), { controlTokens: true });
    const blip2 = new ModelRegistry({ modelsDir: dir, executionProviders: ['cpu'], tasks: {} });
    const reply = await compare(blip2, { images, args: { question: 'what colour is it?' } });
    assert.equal(
      reply.text,
      'Image 1 (a.png): red\nImage 2 (b.png): blue\nEach image gets a different answer.',
    );
    await blip2.release();
  } finally {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  }
});
