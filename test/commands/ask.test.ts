import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { mediaSettings } from '../../src/app.js';
import { COMMANDS } from '../../src/commands/index.js';
import { loadConfig } from '../../src/config.js';
import type { BotRequest } from '../../src/contracts/request.js';
import type { VqaIO } from '../../src/contracts/tasks/vqa.js';
import { Dispatcher } from '../../src/core/dispatch.js';
import { createLogger } from '../../src/core/log.js';
import { MemoryMapStore } from '../../src/core/memory.js';
import { Scheduler } from '../../src/core/scheduler.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { queueOf } from '../../src/models/tasks.js';
import { fakeBackends } from '../fakes/backends.js';
import { solidPng } from '../fakes/images.js';
import { completion, startFakeOpenAI } from '../fakes/openai.js';
import { RecordingResponder } from '../fakes/responder.js';
import { SECRETS } from '../fakes/secrets.js';

function setup(overrides: Record<string, unknown> = {}) {
  const config = loadConfig({ env: {}, overrides: { 'memory.store': 'memory', ...overrides } });
  const seen: VqaIO['in'][] = [];
  const backends = fakeBackends({
    vqa: async (input) => {
      seen.push(input);
      return { answer: `answer ${seen.length}`, confidence: 0.9 };
    },
  });
  const memory = new MemoryMapStore(config.memory);
  const sink = new Writable({ write: (_c, _e, done) => done() });
  const scheduler = new Scheduler(config.scheduler);
  const dispatcher = new Dispatcher({
    commands: COMMANDS,
    executor: scheduler,
    registry: backends,
    config,
    log: createLogger({ level: 'info', secrets: [], destination: sink }),
    media: mediaSettings(config),
    memory,
  });
  const ask = async (fields: Partial<BotRequest>) => {
    const res = new RecordingResponder();
    await dispatcher.handle(
      {
        id: 'r',
        platform: 'test',
        command: 'ask',
        args: {},
        images: [],
        conversation: 'test:chan',
        user: { id: 'alice' },
        signal: new AbortController().signal,
        ...fields,
      },
      res,
    );
    return res.reply;
  };
  return { ask, seen, memory, scheduler };
}

test('ask answers about the attached image and a follow-up carries the earlier turn', async () => {
  const { ask, seen, memory, scheduler } = setup();
  const png = await solidPng('#f00');
  const first = await ask({
    args: { question: 'what colour is it?' },
    images: [{ name: 'r.png', data: png }],
  });
  assert.equal(first.error, undefined);
  assert.equal(first.text, 'answer 1');
  assert.deepEqual(first.data, { answer: 'answer 1', confidence: 0.9 });
  const second = await ask({ args: { question: 'and before?' }, images: [{ name: 'r.png', data: png }] });
  assert.equal(second.text, 'answer 2');
  assert.deepEqual(
    seen[1]?.history.map((t) => [t.question, t.answer]),
    [['what colour is it?', 'answer 1']],
  );
  assert.equal(seen[1]?.imageKey, seen[0]?.imageKey);
  assert.match(seen[0]?.imageKey ?? '', /^[0-9a-f]{64}$/);
  // another image in the same conversation does not see the turns about the first one
  await ask({
    args: { question: 'and this one?' },
    images: [{ name: 'g.png', data: await solidPng('#0f0') }],
  });
  assert.deepEqual(seen[2]?.history, []);
  // another conversation sees nothing
  await ask({ conversation: 'test:other', args: { question: 'q' }, images: [{ name: 'r.png', data: png }] });
  assert.deepEqual(seen[3]?.history, []);
  assert.equal((await memory.recent('test:chan', 10)).length, 3);
  await scheduler.stop();
});

test('a follow-up without an image is about the image the conversation was about (fetched again)', async () => {
  const png = await solidPng('#00f');
  let fetches = 0;
  const server = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length }).end(png);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const { ask, seen, scheduler } = setup({ 'media.allowHosts': [`127.0.0.1:${port}`] });
  const url = `http://127.0.0.1:${port}/b.png`;
  await ask({ args: { question: 'what colour is it?' }, images: [{ name: 'b.png', url }] });
  const follow = await ask({ args: { question: 'are you sure?' } });
  assert.equal(follow.error, undefined, follow.text);
  assert.equal(fetches, 2);
  assert.equal(seen[1]?.images[0]?.bytes.equals(png), true);
  assert.equal(seen[1]?.history.length, 1);
  await scheduler.stop();
  server.close();
});

test('no image in the conversation, a too-long question, an empty one: clear messages, nothing lost', async () => {
  const { ask, seen, scheduler } = setup();
  const none = await ask({ args: { question: 'what colour is it?' } });
  assert.equal(none.error?.code, 'no_image');
  assert.match(none.text ?? '', /no image yet: attach one/);
  const long = await ask({
    args: { question: 'why '.repeat(200) },
    images: [{ name: 'r.png', data: await solidPng('red') }],
  });
  assert.equal(long.error?.code, 'bad_option');
  assert.match(long.text ?? '', /`question` is too long \(799 characters; at most 500\)/);
  const empty = await ask({
    args: { question: '   ' },
    images: [{ name: 'r.png', data: await solidPng('red') }],
  });
  assert.equal(empty.error?.code, 'bad_option');
  assert.equal(seen.length, 0);
  // the dispatcher goes on serving
  const ok = await ask({
    args: { question: 'ok?' },
    images: [{ name: 'r.png', data: await solidPng('red') }],
  });
  assert.equal(ok.error, undefined);
  await scheduler.stop();
});

test('forget clears this conversation only', async () => {
  const { ask, memory, scheduler } = setup();
  const png = await solidPng('#f00');
  await ask({ args: { question: 'q1' }, images: [{ name: 'r.png', data: png }] });
  await ask({ conversation: 'test:other', args: { question: 'q2' }, images: [{ name: 'r.png', data: png }] });
  const res = await ask({ command: 'forget' });
  assert.match(res.text ?? '', /forgot this conversation/);
  assert.deepEqual(await memory.recent('test:chan', 10), []);
  assert.equal((await memory.recent('test:other', 10)).length, 1);
  await scheduler.stop();
});

test('ask runs on the gpu queue with a local backend and on the remote queue with groq', () => {
  const ask = COMMANDS.find((c) => c.name === 'ask');
  const config = loadConfig({ env: {} });
  assert.equal(ask?.queueFor?.(config, queueOf), 'gpu');
  const groq = loadConfig({
    env: {},
    overrides: { 'tasks.vqa': { backend: 'groq', model: 'm', options: {} } },
  });
  assert.equal(ask?.queueFor?.(groq, queueOf), 'remote');
  assert.equal(queueOf('vqa', 'blip2'), 'gpu');
});

test('through the real registry and groq-sdk: missing key, malformed answer, then a good one — one process', async () => {
  const fake = await startFakeOpenAI({ apiKey: SECRETS.groqKey });
  const run = async (apiKey: string) => {
    const config = loadConfig({
      env: { GROQ_API_KEY: apiKey, GROQ_BASE_URL: fake.url },
      overrides: {
        'memory.store': 'memory',
        'tasks.vqa': { backend: 'groq', model: 'meta-llama/llama-4-maverick-17b-128e-instruct', options: {} },
      },
    });
    const scheduler = new Scheduler(config.scheduler);
    const registry = new ModelRegistry({
      modelsDir: config.models.dir,
      executionProviders: ['cpu'],
      tasks: config.tasks,
      providers: { groq: config.providers.groq },
    });
    const dispatcher = new Dispatcher({
      commands: COMMANDS,
      executor: scheduler,
      registry,
      config,
      log: createLogger({
        level: 'silent',
        secrets: [],
        destination: new Writable({ write: (_c, _e, d) => d() }),
      }),
      media: mediaSettings(config),
    });
    const ask = async (args: Record<string, unknown>) => {
      const res = new RecordingResponder();
      await dispatcher.handle(
        {
          id: 'r',
          platform: 'test',
          command: 'ask',
          args,
          images: [{ name: 'r.png', data: await solidPng('#f00') }],
          conversation: 'test:groq',
          user: { id: 'u' },
          signal: new AbortController().signal,
        },
        res,
      );
      return res.reply;
    };
    return { ask, stop: () => scheduler.stop() };
  };
  try {
    const keyless = await run('');
    const missing = await keyless.ask({ question: 'what is it?' });
    assert.equal(missing.error?.code, 'not_configured');
    assert.match(missing.text ?? '', /needs an API key: set GROQ_API_KEY/);
    await keyless.stop();

    const keyed = await run(SECRETS.groqKey);
    fake.script(
      completion('{"description": "red"}'),
      completion('{"description":"A red square.","funny_story":"It blushed."}'),
    );
    const bad = await keyed.ask({ question: 'describe', format: 'json' });
    assert.equal(bad.error?.code, 'bad_answer');
    assert.match(bad.text ?? '', /did not answer with the requested JSON/);
    const good = await keyed.ask({ question: 'describe', format: 'json' });
    assert.equal(good.error, undefined, good.text);
    assert.deepEqual((good.data as { data: unknown }).data, {
      description: 'A red square.',
      funny_story: 'It blushed.',
    });
    await keyed.stop();
  } finally {
    await fake.close();
  }
});
