/**
 * Remembers keys (event ids, file ids) for a while. Slack retries an event (X-Slack-Retry-Num 1, 2, 3)
 * when its first delivery was not acknowledged in 3 s, and sends both `message` and `file_shared` for one
 * upload; each must run once. Bounded: the oldest keys go first when full.
 */
export class SeenKeys {
  readonly #seen = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(options: { ttlMs?: number; max?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? 60 * 60 * 1000;
    this.#max = options.max ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** True the first time a key is offered (within the TTL), false after. */
  firstTime(key: string): boolean {
    const now = this.#now();
    const at = this.#seen.get(key);
    if (at !== undefined && now - at < this.#ttlMs) return false;
    this.#seen.delete(key);
    this.#seen.set(key, now);
    while (this.#seen.size > this.#max) {
      const oldest = this.#seen.keys().next().value;
      if (oldest === undefined) break;
      this.#seen.delete(oldest);
    }
    return true;
  }
}
