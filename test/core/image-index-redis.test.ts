import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { ImageIndexOptions } from '../../src/core/image-index.js';
import { redisClient } from '../../src/core/redis/connection.js';
import { RedisImageIndex } from '../../src/core/redis/image-index.js';
import { isUserError } from '../../src/errors.js';
import { type RedisServer, SKIP_NO_REDIS, startRedisServer } from '../fakes/redis-server.js';
import { baseOptions, image, imageIndexCases, unit } from './image-index-cases.js';

describe('RedisImageIndex on a real redis-server', { skip: SKIP_NO_REDIS }, () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    await server?.close();
  });

  // Closed even when a test fails, so a failure never leaves a connection holding the process open.
  const opened: RedisImageIndex[] = [];
  afterEach(async () => {
    for (const index of opened.splice(0)) await index.close();
  });
  const probes: ReturnType<typeof redisClient>[] = [];
  afterEach(() => {
    for (const probe of probes.splice(0)) probe.disconnect();
  });
  /** A plain client to look at what the index wrote. */
  const probeFor = (prefix: string) => {
    const probe = redisClient({ url: server.url, prefix }, 'blocking');
    probes.push(probe);
    return probe;
  };
  let prefixes = 0;
  const open = (options: ImageIndexOptions, prefix = `ix${++prefixes}`) => {
    const index = new RedisImageIndex({
      ...options,
      client: redisClient({ url: server.url, prefix }, 'client'),
      prefix,
      ownsClient: true,
    });
    opened.push(index);
    return index;
  };

  for (const c of imageIndexCases) test(c.name, () => c.run((options) => open(options)));

  test('a second index (another process) sees the same entries; keys carry the prefix', async () => {
    const first = open(baseOptions, 'shared');
    await first.add('discord:1', image('kept', unit(0, 1)));
    await first.close();
    const second = open(baseOptions, 'shared');
    assert.deepEqual(
      (await second.search('discord:1', unit(0, 1), 1)).map((h) => h.image.name),
      ['kept'],
    );
    const probe = probeFor('shared');
    assert.deepEqual((await probe.keys('shared:*')).sort(), [
      'shared:images:discord:1:at',
      'shared:images:discord:1:e',
      'shared:images:discord:1:seq',
    ]);
  });

  test('the keys expire in Redis after the TTL (an idle channel leaves nothing behind)', async () => {
    const index = open({ ttlSeconds: 1, maxPerChannel: 10 }, 'ttl');
    await index.add('short', image('soon gone', unit(1, 0), Date.now()));
    const probe = probeFor('ttl');
    for (const key of await probe.keys('ttl:*')) {
      const ttl = await probe.ttl(key);
      assert.ok(ttl > 0 && ttl <= 1, `${key} ttl ${ttl}`);
    }
    assert.equal((await probe.keys('ttl:*')).length, 3);
  });

  test('writers in parallel never overshoot the cap', async () => {
    const index = open({ ...baseOptions, maxPerChannel: 5 });
    const other = open({ ...baseOptions, maxPerChannel: 5 }, `ix${prefixes}`);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? index : other).add('c', image(`p${i}`, unit(1, i)))),
    );
    assert.equal(await index.count('c'), 5);
    assert.equal((await other.search('c', unit(1, 0), 50)).length, 5);
  });

  test('a damaged entry costs itself only', async () => {
    const index = open(baseOptions, 'damaged');
    await index.add('c', image('good', unit(1, 0)));
    const probe = probeFor('damaged');
    await probe.hset('damaged:images:c:e', 'junk', Buffer.from([1, 2, 3]));
    await probe.hset('damaged:images:c:e', 'junk2', Buffer.alloc(40, 0xff));
    assert.deepEqual(
      (await index.search('c', unit(1, 0), 5)).map((h) => h.image.name),
      ['good'],
    );
  });

  test('Redis away → a "temporarily unavailable" UserError on every call; back → works again', async () => {
    const index = open(baseOptions);
    await index.add('k', image('before', unit(1, 0)));
    await server.stop();
    const unavailable = (err: unknown) => {
      assert.ok(isUserError(err), String(err));
      assert.equal(err.code, 'not_available');
      assert.match(err.message, /temporarily unavailable/);
      return true;
    };
    await assert.rejects(index.search('k', unit(1, 0), 5), unavailable);
    await assert.rejects(index.add('k', image('lost', unit(1, 0))), unavailable);
    await assert.rejects(index.removeLink('k', 'https://chat/before'), unavailable);
    await assert.rejects(index.count('k'), unavailable);
    await assert.rejects(index.clear('k'), unavailable);
    await server.restart();
    // The client reconnects by itself; nothing was persisted, so the channel starts empty.
    for (let i = 0; i < 50; i++) {
      try {
        await index.add('k', image('after', unit(1, 0)));
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.deepEqual(
      (await index.search('k', unit(1, 0), 5)).map((h) => h.image.name),
      ['after'],
    );
  });
});
