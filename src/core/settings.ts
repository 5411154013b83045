/**
 * Small per-user / per-channel preferences (e.g. alt-text opt-out, channels with auto alt text) and
 * short-lived lookups (the full prompt behind an /imagine button), kept apart from conversation memory.
 * Keys are namespaced by the caller (`alttext:user:discord:123`, `imagine-prompt:<hash>`).
 * MemorySettingsStore keeps them in-process (forgotten on restart); a persistent store (SQLite, Redis)
 * implements the same interface.
 */
export interface SettingsStore {
  /** The value, or `undefined` when the key was never set, was removed or outlived its TTL. */
  get(key: string): Promise<string | undefined>;
  /** `undefined` removes the key. `ttlSeconds`: forget it after that long (default: kept until removed). */
  set(key: string, value: string | undefined, options?: SettingOptions): Promise<void>;
  close(): Promise<void>;
}

export interface SettingOptions {
  ttlSeconds?: number;
}

/** Milliseconds since the epoch; tests move it. */
export type Clock = () => number;

/** When a value set now with these options expires (ms since the epoch), or undefined for never. */
export function expiryOf(options: SettingOptions | undefined, now: number): number | undefined {
  const ttl = options?.ttlSeconds;
  return ttl === undefined ? undefined : now + ttl * 1000;
}

export class MemorySettingsStore implements SettingsStore {
  readonly #values = new Map<string, { value: string; expiresAt?: number }>();
  readonly #now: Clock;

  constructor(options: { now?: Clock } = {}) {
    this.#now = options.now ?? Date.now;
  }

  async get(key: string): Promise<string | undefined> {
    const entry = this.#values.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= this.#now()) {
      this.#values.delete(key);
      return undefined;
    }
    return entry?.value;
  }

  async set(key: string, value: string | undefined, options?: SettingOptions): Promise<void> {
    if (value === undefined) {
      this.#values.delete(key);
      return;
    }
    const expiresAt = expiryOf(options, this.#now());
    this.#values.set(key, expiresAt === undefined ? { value } : { value, expiresAt });
  }

  async close(): Promise<void> {
    this.#values.clear();
  }
}
