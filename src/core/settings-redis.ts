/**
 * Preferences on Redis (beside conversation memory when memory lives there): every adapter process sees
 * the same /alttext choices and the same long /imagine prompts behind buttons. One string key per
 * setting, `<prefix>:settings:<key>`; a TTL is Redis's own expiry.
 */
import type { Redis } from 'ioredis';
import { userFacing } from './redis/connection.js';
import type { SettingOptions, SettingsStore } from './settings.js';

export interface RedisSettingsOptions {
  client: Redis;
  prefix: string;
  /** Whether close() also quits the client (false when the client is shared). Default false. */
  ownsClient?: boolean;
}

export class RedisSettingsStore implements SettingsStore {
  readonly #o: RedisSettingsOptions;

  constructor(options: RedisSettingsOptions) {
    this.#o = options;
  }

  #key(key: string): string {
    return `${this.#o.prefix}:settings:${key}`;
  }

  async get(key: string): Promise<string | undefined> {
    const value = await userFacing(this.#o.client, () => this.#o.client.get(this.#key(key)));
    return value ?? undefined;
  }

  async set(key: string, value: string | undefined, options?: SettingOptions): Promise<void> {
    const client = this.#o.client;
    await userFacing(client, async () => {
      if (value === undefined) await client.del(this.#key(key));
      else if (options?.ttlSeconds !== undefined)
        await client.set(this.#key(key), value, 'EX', options.ttlSeconds);
      else await client.set(this.#key(key), value);
    });
  }

  async close(): Promise<void> {
    if (this.#o.ownsClient) await this.#o.client.quit().catch(() => {});
  }
}
