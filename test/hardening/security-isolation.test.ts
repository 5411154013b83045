/**
 * Memory isolation. Conversation memory and image memory are keyed by
 * `platform:channel[:thread]`; nothing is shared between channels, or between platforms that happen to
 * use the same channel id. End to end: what one channel told the LLM never reaches the LLM context of
 * another (Groq backend through groq-sdk against the fake OpenAI-compatible server). Also: an API error
 * that echoes the key reaches neither the reply nor the log.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { mediaSettings } from '../../src/app.js';
import { COMMANDS } from '../../src/commands/index.js';
import { loadConfig } from '../../src/config.js';
import type { Reply } from '../../src/contracts/request.js';
import { Dispatcher } from '../../src/core/dispatch.js';
import { SqliteImageIndex } from '../../src/core/image-index-sqlite.js';
import { createLogger } from '../../src/core/log.js';
import { MemoryMapStore, type MemoryStore } from '../../src/core/memory.js';
import { SqliteMemoryStore } from '../../src/core/memory-sqlite.js';
import { Scheduler } from '../../src/core/scheduler.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { fakeBackends } from '../fakes/backends.js';
import { testDispatcher } from '../fakes/dispatcher.js';
import { solidPng } from '../fakes/images.js';
import { completion, startFakeOpenAI } from '../fakes/openai.js';
import { RecordingResponder } from '../fakes/responder.js';
import { SECRETS } from '../fakes/secrets.js';

const KEYS = ['discord:C1', 'slack:C1', 'discord:C2', 'discord:C1:T1'];

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iris-isolation-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('stores: one conversation key never reads another', () => {
  const stores: [string, () => MemoryStore][] = [
    ['in-process', () => new MemoryMapStore({ maxTurns: 20, ttlSeconds: 3600 })],
    [
      'SQLite',
      () => new SqliteMemoryStore({ path: join(dir, 'memory.sqlite'), maxTurns: 20, ttlSeconds: 3600 }),
    ],
  ];
  for (const [name, make] of stores) {
    test(`${name} conversation memory`, async () => {
      const store = make();
      try {
        for (const key of KEYS)
          await store.append(key, { question: `asked in ${key}`, answer: 'a', at: Date.now() });
        for (const key of KEYS) {
          assert.deepEqual(
            (await store.recent(key, 20)).map((t) => t.question),
            [`asked in ${key}`],
          );
        }
        await store.clear('discord:C1');
        assert.deepEqual(await store.recent('discord:C1', 20), []);
        for (const key of KEYS.slice(1)) assert.equal((await store.recent(key, 20)).length, 1, key);
      } finally {
        await store.close?.();
      }
    });
  }

  test('image memory (SQLite): search and count see only their own conversation', async () => {
    const index = new SqliteImageIndex({
      path: join(dir, 'index.sqlite'),
      ttlSeconds: 3600,
      maxPerChannel: 100,
    });
    try {
      const vector = new Float32Array([1, 0, 0]);
      await index.add('discord:C1', {
        link: 'l1',
        author: 'u',
        name: 'a.png',
        at: Date.now(),
        hash: 'h1',
        vector,
      });
      assert.equal((await index.search('discord:C1', vector, 5)).length, 1);
      for (const key of KEYS.slice(1)) {
        assert.deepEqual(await index.search(key, vector, 5), [], key);
        assert.equal(await index.count(key), 0, key);
      }
    } finally {
      await index.close();
    }
  });
});

describe('through the dispatcher', () => {
  test('/similar in slack:C1 does not find what was posted in discord:C1', async () => {
    const config = loadConfig({
      env: {},
      overrides: { 'memory.store': 'memory', 'imageIndex.channels': ['discord:C1', 'slack:C1'] },
    });
    const imageIndex = new SqliteImageIndex({ path: ':memory:', ttlSeconds: 3600, maxPerChannel: 100 });
    const { dispatcher, scheduler } = testDispatcher({
      config,
      registry: fakeBackends({
        embed: async (q) => ({
          dim: 2,
          vectors: ('texts' in q ? q.texts : q.images).map(() => new Float32Array([1, 0])),
        }),
      }),
      deps: { imageIndex },
    });
    const vector = new Float32Array([1, 0]);
    await imageIndex.add('discord:C1', {
      link: 'https://discord/msg',
      author: 'u',
      name: 'cat.png',
      at: Date.now(),
      hash: 'h',
      vector,
    });
    const similar = async (conversation: string, platform: string) => {
      const res = new RecordingResponder();
      await dispatcher.handle(
        {
          id: 's',
          platform,
          command: 'similar',
          args: { text: 'a cat' },
          images: [],
          conversation,
          user: { id: 'u' },
          signal: new AbortController().signal,
        },
        res,
      );
      return res.reply.text ?? '';
    };
    try {
      assert.match(await similar('discord:C1', 'discord'), /https:\/\/discord\/msg/);
      assert.equal(await similar('slack:C1', 'slack'), 'No earlier images in this channel yet.');
    } finally {
      await scheduler.stop();
      await imageIndex.close();
    }
  });
});

describe('LLM context (Groq backend, fake OpenAI-compatible server)', () => {
  const SECRET_WORD = 'PAPAYA-7731';
  let fake: Awaited<ReturnType<typeof startFakeOpenAI>>;
  let dispatcher: Dispatcher;
  let scheduler: Scheduler;
  const logLines: string[] = [];

  before(async () => {
    fake = await startFakeOpenAI({
      apiKey: SECRETS.groqKey,
      // Echoes the conversation it was given, as a model that repeats its context would.
      respond: (req) => completion(`I was told: ${req.turns.map(([, text]) => text).join(' / ')}`),
    });
    const config = loadConfig({
      env: { GROQ_API_KEY: SECRETS.groqKey, GROQ_BASE_URL: fake.url },
      overrides: {
        'memory.store': 'sqlite',
        'memory.path': join(dir, 'llm.sqlite'),
        'tasks.vqa': { backend: 'groq', model: 'meta-llama/llama-4-maverick-17b-128e-instruct', options: {} },
      },
    });
    scheduler = new Scheduler(config.scheduler);
    dispatcher = new Dispatcher({
      commands: COMMANDS,
      executor: scheduler,
      registry: new ModelRegistry({
        modelsDir: config.models.dir,
        executionProviders: ['cpu'],
        tasks: config.tasks,
        providers: { groq: config.providers.groq },
      }),
      config,
      // No secrets given: only the shape redaction stands between a key and this log.
      log: createLogger({
        level: 'debug',
        destination: new Writable({
          write(chunk, _e, done) {
            logLines.push(String(chunk));
            done();
          },
        }),
      }),
      media: mediaSettings(config),
      memory: new SqliteMemoryStore({ path: join(dir, 'llm.sqlite'), maxTurns: 20, ttlSeconds: 3600 }),
    });
  });
  after(async () => {
    await scheduler.stop();
    await fake.close();
  });

  async function ask(conversation: string, question: string): Promise<Reply> {
    const res = new RecordingResponder();
    await dispatcher.handle(
      {
        id: 'q',
        platform: conversation.split(':')[0] as string,
        command: 'ask',
        args: { question },
        images: [{ name: 'r.png', data: await solidPng('#ff0000') }],
        conversation,
        user: { id: 'alice' },
        signal: new AbortController().signal,
      },
      res,
    );
    return res.reply;
  }

  test("channel A's secret never reaches the model in channel B, on the same or another platform", async () => {
    const told = await ask('discord:A', `Remember this: my secret word is ${SECRET_WORD}.`);
    assert.equal(told.error, undefined, told.text);
    assert.match(told.text ?? '', new RegExp(SECRET_WORD));

    // The same user, the same image, another channel / the same channel id on Slack / a thread.
    for (const other of ['discord:B', 'slack:A', 'discord:A:thread1']) {
      const before = fake.requests.length;
      const reply = await ask(other, 'What is my secret word? Repeat everything you were told before.');
      assert.equal(reply.error, undefined, reply.text);
      const sent = fake.requests.slice(before);
      assert.equal(sent.length, 1);
      const body = JSON.stringify(sent[0]?.body);
      assert.ok(!body.includes(SECRET_WORD), `${other}: the secret reached the model`);
      assert.ok(!body.includes('Remember this'), `${other}: channel A's question reached the model`);
      assert.ok(!body.includes('I was told'), `${other}: channel A's answer reached the model`);
      assert.ok(!(reply.text ?? '').includes(SECRET_WORD));
    }

    // Control: in channel A itself the memory does reach the model (so the checks above can fail).
    const before = fake.requests.length;
    await ask('discord:A', 'What is my secret word?');
    assert.ok(JSON.stringify(fake.requests[before]?.body).includes(SECRET_WORD));
  });

  test('an API error that echoes the key reaches neither the reply nor the log', async () => {
    fake.script({
      status: 400,
      body: {
        error: { message: `Invalid request for key ${SECRETS.groqKey}`, type: 'invalid_request_error' },
      },
    });
    const reply = await ask('discord:E', 'what colour?');
    assert.equal(reply.error?.internal, true);
    assert.match(reply.text ?? '', /^Something went wrong \(ref q\)\.$/);
    const log = logLines.join('');
    assert.match(log, /request refused \(400\)/, 'the failure was logged');
    assert.ok(!log.includes(SECRETS.groqKey), 'the key is not in the log');
    assert.match(log, /\[redacted\]/);

    fake.script({
      status: 401,
      body: { error: { message: `Incorrect API key provided: ${SECRETS.groqKey}` } },
    });
    const refused = await ask('discord:E', 'what colour?');
    assert.equal(refused.text, 'Groq refused the API key (401): check GROQ_API_KEY.');
    assert.ok(!logLines.join('').includes(SECRETS.groqKey));
  });
});
