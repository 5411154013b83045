/**
 * Conversation memory on Redis (queue.kind: redis, or memory.store: redis): every adapter and worker sees
 * the same turns, and they survive a restart of any of them.
 *
 * One Redis list per conversation key, newest last, trimmed to `maxTurns` on append; the list expires
 * `ttlSeconds` after the last append, and `recent` leaves out turns older than the TTL (a long-lived
 * conversation keeps its list alive while its old turns still age out one by one).
 * Isolation: each call reads or writes exactly one key, `<prefix>:memory:<conversation>`.
 */
import type { Redis } from 'ioredis';
import type { MemoryOptions, MemoryStore, Turn } from './memory.js';
import { userFacing } from './redis/connection.js';

export interface RedisMemoryOptions extends MemoryOptions {
  client: Redis;
  prefix: string;
  /** Whether close() also quits the client (false when the client is shared). Default false. */
  ownsClient?: boolean;
}

export class RedisMemoryStore implements MemoryStore {
  readonly #options: RedisMemoryOptions;

  constructor(options: RedisMemoryOptions) {
    this.#options = options;
  }

  #key(conversation: string): string {
    return `${this.#options.prefix}:memory:${conversation}`;
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }

  async recent(key: string, n: number): Promise<Turn[]> {
    if (n <= 0) return [];
    const raw = await userFacing(this.#options.client, () =>
      this.#options.client.lrange(this.#key(key), -n, -1),
    );
    const cutoff = this.#now() - this.#options.ttlSeconds * 1000;
    return raw.flatMap((line) => {
      try {
        const turn = JSON.parse(line) as Turn;
        return typeof turn.at === 'number' && turn.at >= cutoff ? [turn] : [];
      } catch {
        return []; // a damaged entry costs one turn, not the conversation
      }
    });
  }

  async append(key: string, turn: Turn): Promise<void> {
    const k = this.#key(key);
    const { maxTurns, ttlSeconds } = this.#options;
    await userFacing(this.#options.client, () =>
      this.#options.client
        .multi()
        .rpush(k, JSON.stringify(turn))
        .ltrim(k, -maxTurns, -1)
        .expire(k, ttlSeconds)
        .exec(),
    );
  }

  async clear(key: string): Promise<void> {
    await userFacing(this.#options.client, () => this.#options.client.del(this.#key(key)));
  }

  async close(): Promise<void> {
    if (this.#options.ownsClient) await this.#options.client.quit().catch(() => {});
  }
}
