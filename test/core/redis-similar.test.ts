import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { createImageIndex } from '../../src/app.js';
import { startWorker } from '../../src/cli/worker.js';
import type { BotRequest } from '../../src/contracts/request.js';
import { createRedisImageIndex } from '../../src/core/redis/index.js';
import { fakeBackends } from '../fakes/backends.js';
import { colourEmbed } from '../fakes/embed.js';
import { solidPng } from '../fakes/images.js';
import { quietLog, redisAdapter, redisConfig, TEST_COMMANDS } from '../fakes/redis-app.js';
import { type RedisServer, SKIP_NO_REDIS, startRedisServer } from '../fakes/redis-server.js';
import { RecordingResponder } from '../fakes/responder.js';

let nextId = 0;
function similar(fields: Partial<BotRequest>): BotRequest {
  return {
    id: `sim${++nextId}x${Math.random().toString(36).slice(2, 8)}`,
    platform: 'test',
    command: 'similar',
    args: {},
    images: [],
    conversation: 'test:chan',
    user: { id: 'asker' },
    signal: new AbortController().signal,
    ...fields,
  };
}

describe('/similar scaled out: adapter → Redis queue → worker, image memory on Redis', {
  skip: SKIP_NO_REDIS,
}, () => {
  let server: RedisServer;
  const open: (() => Promise<unknown>)[] = [];
  before(async () => {
    server = await startRedisServer();
  });
  afterEach(async () => {
    for (const close of open.splice(0)) await close().catch(() => {});
  });
  after(async () => {
    await server?.close();
  });

  test('a worker finds an image another process indexed, and what it indexes is seen by the others', async () => {
    const config = redisConfig(server.url, {
      'queue.prefix': 'sim1',
      'imageIndex.channels': ['test:chan', 'test:other'],
    });
    // Another process (an adapter's or another worker's index) remembered a red post.
    const elsewhere = createImageIndex(config);
    open.push(() => elsewhere.close());
    const red = await solidPng('#f00');
    const [redVector] = (await colourEmbed({ images: [{ name: 'r.png', bytes: red } as never] })).vectors;
    await elsewhere.add('test:chan', {
      link: 'https://chat/red-post',
      author: 'carol',
      name: 'red.png',
      at: Date.now(),
      hash: 'h-red',
      vector: redVector as Float32Array,
    });
    // The worker builds its own Redis index from config (no index injected).
    const stop = await startWorker({
      config,
      tasks: ['vision'],
      slots: 1,
      registry: fakeBackends({ embed: colourEmbed }),
      commands: TEST_COMMANDS,
      log: quietLog(),
    });
    open.push(() => stop());
    const adapter = redisAdapter(config);
    open.push(() => adapter.close());

    const byText = new RecordingResponder();
    await adapter.dispatcher.handle(similar({ args: { text: 'red' } }), byText);
    assert.equal(byText.reply.error, undefined, byText.reply.text);
    assert.match(
      byText.reply.text ?? '',
      /^Most similar earlier images:\n1\. https:\/\/chat\/red-post — posted by carol/,
    );

    const byImage = new RecordingResponder();
    await adapter.dispatcher.handle(
      similar({
        images: [{ name: 'again.png', data: await solidPng('#f00'), postedBy: 'dave' }],
        messageLink: 'https://chat/again-post',
      }),
      byImage,
    );
    assert.equal(byImage.reply.error, undefined, byImage.reply.text);
    assert.match(byImage.reply.text ?? '', /1\. https:\/\/chat\/red-post/);
    // The image asked about was remembered on the worker, with its poster and link, in the shared index.
    const seen = createRedisImageIndex(config);
    open.push(() => seen.close());
    assert.equal(await seen.count('test:chan'), 2);
    const hits = await seen.search('test:chan', redVector as Float32Array, 5);
    assert.deepEqual(hits.map((h) => [h.image.link, h.image.author]).sort(), [
      ['https://chat/again-post', 'dave'],
      ['https://chat/red-post', 'carol'],
    ]);

    const isolated = new RecordingResponder();
    await adapter.dispatcher.handle(similar({ args: { text: 'red' }, conversation: 'test:other' }), isolated);
    assert.match(isolated.reply.text ?? '', /^No earlier images in this channel yet/);
  });
});
