import { after, before, describe } from 'node:test';
import type { Redis } from 'ioredis';
import { redisClient } from '../../src/core/redis/connection.js';
import { RedisQuotaStore } from '../../src/core/redis/quota-store.js';
import { type RedisServer, SKIP_NO_REDIS, startRedisServer } from '../fakes/redis-server.js';
import { quotaStoreCases } from './quota-cases.js';

describe('quotas on Redis (shared by every adapter process)', { skip: SKIP_NO_REDIS }, () => {
  let server: RedisServer;
  const clients: Redis[] = [];
  let n = 0;
  before(async () => {
    server = await startRedisServer();
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await server?.close();
  });
  quotaStoreCases('redis', () => {
    const client = redisClient({ url: server.url, prefix: 'qt' }, 'blocking');
    clients.push(client);
    return new RedisQuotaStore({ client, prefix: `qt${++n}` });
  });
});
