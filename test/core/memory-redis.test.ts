import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { RedisMemoryStore } from '../../src/core/memory-redis.js';
import { redisClient } from '../../src/core/redis/connection.js';
import { isUserError } from '../../src/errors.js';
import { type RedisServer, SKIP_NO_REDIS, startRedisServer } from '../fakes/redis-server.js';

const turn = (question: string, at: number) => ({ question, answer: `a:${question}`, at });

describe('RedisMemoryStore on a real redis-server', { skip: SKIP_NO_REDIS }, () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    await server?.close();
  });

  const stores: RedisMemoryStore[] = [];
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });
  const open = (options: { now?: () => number; ttlSeconds?: number; maxTurns?: number } = {}) => {
    const store = new RedisMemoryStore({
      client: redisClient({ url: server.url, prefix: 't1' }, 'client'),
      prefix: 't1',
      ttlSeconds: options.ttlSeconds ?? 60,
      maxTurns: options.maxTurns ?? 10,
      now: options.now,
      ownsClient: true,
    });
    stores.push(store);
    return store;
  };

  test('turns are kept per conversation and never seen from another; clear forgets one', async () => {
    const store = open();
    await store.append('discord:1', turn('q1', Date.now()));
    await store.append('slack:1', turn('other', Date.now()));
    await store.append('discord:1', turn('q2', Date.now()));
    await store.append('discord:1:thread', turn('in thread', Date.now()));
    assert.deepEqual(
      (await store.recent('discord:1', 5)).map((t) => t.question),
      ['q1', 'q2'],
    );
    assert.deepEqual(
      (await store.recent('slack:1', 5)).map((t) => t.question),
      ['other'],
    );
    await store.clear('discord:1');
    assert.deepEqual(await store.recent('discord:1', 5), []);
    assert.equal((await store.recent('slack:1', 5)).length, 1);
    assert.equal((await store.recent('discord:1:thread', 5)).length, 1);
    await store.close();
  });

  test('last n oldest-first; maxTurns trims; turns older than the TTL are left out', async () => {
    let now = 100_000;
    const store = open({ ttlSeconds: 10, maxTurns: 3, now: () => now });
    for (let i = 1; i <= 5; i++) await store.append('k', turn(`q${i}`, 100_000 + i * 1000));
    now = 105_000;
    assert.deepEqual(
      (await store.recent('k', 2)).map((t) => t.question),
      ['q4', 'q5'],
    );
    assert.deepEqual(
      (await store.recent('k', 10)).map((t) => t.question),
      ['q3', 'q4', 'q5'],
    );
    now = 114_500;
    assert.deepEqual(
      (await store.recent('k', 10)).map((t) => t.question),
      ['q5'],
    );
    assert.deepEqual(await store.recent('k', 0), []);
    await store.close();
  });

  test('the key expires in Redis after the TTL (nothing lingers)', async () => {
    const store = open({ ttlSeconds: 1 });
    await store.append('short', turn('soon gone', Date.now()));
    const probe = redisClient({ url: server.url, prefix: 't1' }, 'blocking');
    const ttl = await probe.ttl('t1:memory:short');
    assert.ok(ttl > 0 && ttl <= 1, `ttl ${ttl}`);
    await probe.quit();
    await store.close();
  });

  test('a second store (another process, or after a restart) sees the same turns', async () => {
    const first = open();
    await first.append('slack:C1', turn('remember me', Date.now()));
    await first.close();
    const second = open();
    assert.deepEqual(
      (await second.recent('slack:C1', 5)).map((t) => t.question),
      ['remember me'],
    );
    await second.close();
  });

  test('Redis away → a "temporarily unavailable" UserError; back → works again', async () => {
    const store = open();
    await store.append('k2', turn('before', Date.now()));
    await server.stop();
    await assert.rejects(store.recent('k2', 5), (err) => {
      assert.ok(isUserError(err), String(err));
      assert.match((err as Error).message, /temporarily unavailable/);
      return true;
    });
    await server.restart();
    // The client reconnects by itself; nothing was persisted, so the conversation starts empty.
    for (let i = 0; i < 50; i++) {
      try {
        await store.append('k2', turn('after', Date.now()));
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.deepEqual(
      (await store.recent('k2', 5)).map((t) => t.question),
      ['after'],
    );
    await store.close();
  });
});
