import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { redisClient } from '../../src/core/redis/connection.js';
import { RedisSettingsStore } from '../../src/core/settings-redis.js';
import { type RedisServer, SKIP_NO_REDIS, startRedisServer } from '../fakes/redis-server.js';

describe('RedisSettingsStore on a real redis-server', { skip: SKIP_NO_REDIS }, () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    await server?.close();
  });
  const open = () =>
    new RedisSettingsStore({
      client: redisClient({ url: server.url, prefix: 's1' }, 'client'),
      prefix: 's1',
      ownsClient: true,
    });

  test('two processes see the same settings; a TTL is Redis expiry; undefined removes', async () => {
    const adapterA = open();
    const adapterB = open();
    const raw = redisClient({ url: server.url, prefix: 's1' }, 'client');
    try {
      await adapterA.set('alttext:user:slack:u1', 'off');
      assert.equal(await adapterB.get('alttext:user:slack:u1'), 'off', 'shared');
      await adapterA.set('imagine-prompt:abc', '{"prompt":"p","negative":""}', { ttlSeconds: 600 });
      assert.equal(await adapterB.get('imagine-prompt:abc'), '{"prompt":"p","negative":""}');
      const ttl = await raw.ttl('s1:settings:imagine-prompt:abc');
      assert.ok(ttl > 0 && ttl <= 600, `expires (ttl ${ttl})`);
      assert.equal(await raw.ttl('s1:settings:alttext:user:slack:u1'), -1, 'no TTL: kept');
      await adapterB.set('alttext:user:slack:u1', undefined);
      assert.equal(await adapterA.get('alttext:user:slack:u1'), undefined);
    } finally {
      await adapterA.close();
      await adapterB.close();
      await raw.quit();
    }
  });
});
