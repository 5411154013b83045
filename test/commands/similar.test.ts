import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { COMMANDS } from '../../src/commands/index.js';
import { loadConfig } from '../../src/config.js';
import type { BotRequest, ImageRef, Reply } from '../../src/contracts/request.js';
import { Dispatcher } from '../../src/core/dispatch.js';
import { SqliteImageIndex } from '../../src/core/image-index-sqlite.js';
import { createLogger } from '../../src/core/log.js';
import { MemoryMapStore } from '../../src/core/memory.js';
import { Scheduler } from '../../src/core/scheduler.js';
import { synthClip } from '../../src/demo/colourworld/index.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { solidPng } from '../fakes/images.js';
import { RecordingResponder } from '../fakes/responder.js';

interface Hit {
  name: string;
  link: string;
  author: string;
  score: number;
}

let models = '';
let registry: ModelRegistry;
let dispatcher: Dispatcher;
let index: SqliteImageIndex;
let nextId = 0;

before(async () => {
  models = await mkdtemp(join(tmpdir(), 'iris-similar-'));
  await synthClip(join(models, 'Xenova/clip-vit-base-patch32'));
  const config = loadConfig({
    env: {},
    overrides: {
      'models.dir': models,
      'memory.store': 'memory',
      'imageIndex.channels': ['test:one', 'test:two', 'test:dup'],
      'imageIndex.duplicates.channels': ['test:dup'],
    },
  });
  registry = new ModelRegistry({ modelsDir: models, executionProviders: ['cpu'], tasks: config.tasks });
  index = new SqliteImageIndex({ path: ':memory:', ttlSeconds: 3600, maxPerChannel: 100 });
  dispatcher = new Dispatcher({
    commands: COMMANDS,
    executor: new Scheduler(config.scheduler),
    registry,
    config,
    log: createLogger({
      level: 'silent',
      secrets: [],
      destination: new Writable({ write: (_c, _e, d) => d() }),
    }),
    media: {
      limits: { maxBytes: 1e7, maxPixels: 1e7, formats: ['png', 'jpeg'] },
      policy: { allowHosts: [], timeoutMs: 1000 },
    },
    memory: new MemoryMapStore(config.memory),
    imageIndex: index,
  });
});

after(async () => {
  await registry.release();
  await index.close();
});

async function send(fields: Partial<BotRequest>): Promise<Reply> {
  const res = new RecordingResponder();
  const id = `r${++nextId}`;
  await dispatcher.handle(
    {
      id,
      platform: 'test',
      command: 'similar',
      args: {},
      images: [],
      conversation: 'test:one',
      user: { id: 'alice' },
      signal: new AbortController().signal,
      messageLink: `https://chat.example/test/${id}`,
      ...fields,
    },
    res,
  );
  return res.reply as Reply;
}

async function post(name: string, colour: string, conversation = 'test:one'): Promise<Hit[]> {
  const image: ImageRef = { name, data: await solidPng(colour) };
  const reply = await send({ images: [image], conversation });
  assert.equal(reply.error, undefined, reply.text);
  return (reply.data as { hits: Hit[] }).hits;
}

test('/similar by image: the same colour ranks first, with its link, author and score', async () => {
  assert.deepEqual(await post('red.png', '#ff0000'), [], 'nothing earlier yet');
  await post('green.png', '#00ff00');
  await post('blue.png', '#0000ff');
  await post('yellow.png', '#ffff00');
  const hits = await post('dark-red.png', '#c00000');
  assert.equal(hits[0]?.name, 'red.png', JSON.stringify(hits));
  assert.match(hits[0]?.link ?? '', /^https:\/\/chat\.example\/test\/r\d+$/);
  assert.equal(hits[0]?.author, 'alice');
  assert.ok((hits[0]?.score as number) > (hits[1]?.score as number), 'strictly better than the next');
  const reply = await send({
    images: [{ name: 'q.png', data: await solidPng('#0000ee') }],
    args: { top: 2 },
  });
  const names = (reply.data as { hits: Hit[] }).hits.map((h) => h.name);
  assert.equal(names.length, 2);
  assert.equal(names[0], 'blue.png');
  assert.match(reply.text ?? '', /^Most similar earlier images:\n1\. https:\/\/chat\.example/);
});

test('/similar by text uses the text tower: "green" finds the green image first', async () => {
  const reply = await send({ args: { text: 'green' } });
  assert.equal(reply.error, undefined, reply.text);
  const hits = (reply.data as { hits: Hit[] }).hits;
  assert.equal(hits[0]?.name, 'green.png', JSON.stringify(hits));
  const yellow = await send({ args: { text: 'a photo of yellow', top: 1 } });
  assert.deepEqual(
    (yellow.data as { hits: Hit[] }).hits.map((h) => h.name),
    ['yellow.png'],
  );
});

test('channels are isolated: another channel sees only its own images', async () => {
  assert.deepEqual(await post('cyan.png', '#00ffff', 'test:two'), [], 'test:one images are not visible');
  const hits = await post('red-in-two.png', '#ff0000', 'test:two');
  assert.deepEqual(
    hits.map((h) => h.name),
    ['cyan.png'],
  );
  const inOne = await send({ args: { text: 'cyan', top: 20 } });
  assert.ok(!(inOne.data as { hits: Hit[] }).hits.some((h) => h.name.includes('cyan')));
});

test('a channel that has not opted in indexes nothing and says how to turn it on', async () => {
  const reply = await send({
    images: [{ name: 'red.png', data: await solidPng('#ff0000') }],
    conversation: 'test:off',
  });
  assert.equal(reply.error?.code, 'not_configured');
  assert.match(reply.text ?? '', /imageIndex\.channels/);
  assert.equal(await index.count('test:off'), 0);
});

test('bad input: neither, both, or a corrupt image — each a clear message; the next request still works', async () => {
  const neither = await send({});
  assert.equal(neither.error?.code, 'no_image');
  const both = await send({
    images: [{ name: 'r.png', data: await solidPng('#ff0000') }],
    args: { text: 'red' },
  });
  assert.equal(both.error?.code, 'bad_option');
  assert.match(both.text ?? '', /not both/);
  const before = await index.count('test:one');
  const corrupt = await send({ images: [{ name: 'broken.png', data: Buffer.from('not a png') }] });
  assert.equal(corrupt.error?.internal, false, corrupt.text);
  assert.match(corrupt.text ?? '', /broken\.png/);
  assert.equal(await index.count('test:one'), before, 'nothing stored for a bad image');
  const ok = await send({ args: { text: 'red', top: 1 } });
  assert.equal((ok.data as { hits: Hit[] }).hits[0]?.name, 'red.png');
});

test("/forget also forgets the channel's images", async () => {
  assert.ok((await index.count('test:two')) > 0);
  const reply = await send({ command: 'forget', conversation: 'test:two' });
  assert.equal(reply.error, undefined, reply.text);
  assert.equal(await index.count('test:two'), 0);
  assert.ok((await index.count('test:one')) > 0, 'other channels keep theirs');
});

test('duplicate notice: a re-post of the red image (bigger, as JPEG) links the earlier post; green does not', async () => {
  const first = await send({
    images: [{ name: 'red.png', data: await solidPng('#ff0000') }],
    conversation: 'test:dup',
  });
  assert.equal(first.error, undefined, first.text);
  assert.equal((first.data as { duplicateOf?: string }).duplicateOf, undefined);
  const firstLink = `https://chat.example/test/r${nextId}`;
  const green = await send({
    images: [{ name: 'green.png', data: await solidPng('#00ff00') }],
    conversation: 'test:dup',
  });
  assert.equal((green.data as { duplicateOf?: string }).duplicateOf, undefined, green.text);
  assert.doesNotMatch(green.text ?? '', /posted here before/);
  const repost = await sharp(await solidPng('#ff0000', 64))
    .jpeg({ quality: 80 })
    .toBuffer();
  const again = await send({ images: [{ name: 'red-again.jpg', data: repost }], conversation: 'test:dup' });
  assert.equal(again.error, undefined, again.text);
  assert.equal((again.data as { duplicateOf?: string }).duplicateOf, firstLink);
  assert.match(
    again.text ?? '',
    new RegExp(`This image was posted here before: ${firstLink.replaceAll('.', '\\.')}$`),
  );
  // test:one has duplicate notices off: the same re-post there is not flagged
  const quiet = await send({ images: [{ name: 'red-again.jpg', data: repost }] });
  assert.equal((quiet.data as { duplicateOf?: string }).duplicateOf, undefined);
});

test('images other commands process in an opted-in channel are remembered (here: /tags); not elsewhere', async () => {
  const tagged = await send({
    command: 'tags',
    images: [{ name: 'magenta.png', data: await solidPng('#ff00ff') }],
    args: { labels: 'red,magenta' },
  });
  assert.equal(tagged.error, undefined, tagged.text);
  assert.match(tagged.text ?? '', /^Tags: magenta/);
  const link = `https://chat.example/test/r${nextId}`;
  const found = await send({ args: { text: 'magenta', top: 1 } });
  assert.deepEqual(
    (found.data as { hits: Hit[] }).hits.map((h) => [h.name, h.link]),
    [['magenta.png', link]],
  );
  await send({
    command: 'tags',
    conversation: 'test:off',
    images: [{ name: 'magenta.png', data: await solidPng('#ff00ff') }],
    args: { labels: 'red,magenta' },
  });
  assert.equal(await index.count('test:off'), 0);
});
