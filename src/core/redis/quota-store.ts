/**
 * Quotas shared by every adapter process on one Redis: the same sliding windows as the in-process store
 * (src/core/quota.ts), one sorted set of hit times per user and per channel. A take is one Lua script, so
 * two adapter processes serving the same user can never both spend the user's last job.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { QuotaFull, QuotaStore, QuotaWindow } from '../quota.js';

/** KEYS: one sorted set per window. ARGV: now, a unique member, then limit and window ms per key. */
const TAKE = `
local now = tonumber(ARGV[1])
for i = 1, #KEYS do
  local limit = tonumber(ARGV[1 + 2 * i])
  local windowMs = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - windowMs)
  local count = redis.call('ZCARD', KEYS[i])
  if count >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    return { i, tonumber(oldest[2]) + windowMs - now }
  end
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2 + 2 * i]))
end
return { 0, 0 }
`;

export class RedisQuotaStore implements QuotaStore {
  readonly #client: Redis;
  readonly #prefix: string;

  constructor(options: { client: Redis; prefix: string }) {
    this.#client = options.client;
    this.#prefix = options.prefix;
  }

  async take(windows: readonly QuotaWindow[], now: number): Promise<QuotaFull | undefined> {
    if (windows.length === 0) return undefined;
    const keys = windows.map((w) => `${this.#prefix}:quota:${w.kind}:${w.key}`);
    const member = `${now}:${randomBytes(6).toString('hex')}`;
    const limits = windows.flatMap((w) => [w.limit, w.windowMs]);
    const [index, waitMs] = (await this.#client.eval(TAKE, keys.length, ...keys, now, member, ...limits)) as [
      number,
      number,
    ];
    const window = windows[index - 1];
    return window ? { window, retryAfterMs: Math.max(1, waitMs) } : undefined;
  }
}
