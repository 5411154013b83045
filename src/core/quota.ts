/**
 * Per-user and per-channel quotas: at most `jobs` accepted jobs in any `windowSeconds` span (a sliding
 * window). One policy, two stores with the same semantics: in process (MemoryQuotaStore, for the embedded
 * scheduler) and on Redis (src/core/redis/quota-store.ts, shared by every adapter process). Only accepted
 * jobs are counted: a store takes a hit in every window or in none.
 *
 * Why not rate-limiter-flexible or bottleneck's reservoirs: both count in fixed windows that refill at once,
 * which lets a user spend twice the limit across a refill, and they count refused attempts unless undone.
 * A sorted list of timestamps per key (an array here, a sorted set on Redis) is small and exact.
 */
import { UserError } from '../errors.js';

export interface QuotaConfig {
  /** Jobs allowed in any window; 0 = unlimited. */
  jobs: number;
  windowSeconds: number;
}

export interface QuotaWindow {
  kind: 'user' | 'channel';
  /** The user or conversation key. */
  key: string;
  limit: number;
  windowMs: number;
}

/** Which window is full, and how long until it has room. */
export interface QuotaFull {
  window: QuotaWindow;
  retryAfterMs: number;
}

export interface QuotaStore {
  /**
   * If every window has room, records one hit at `now` in each and returns undefined; otherwise records
   * nothing and returns the first full one (in the order given). Atomic per call.
   */
  take(windows: readonly QuotaWindow[], now: number): QuotaFull | undefined | Promise<QuotaFull | undefined>;
}

/** The windows a job counts against, user first; unlimited ones and a missing channel are left out. */
export function quotaWindows(
  config: { perUser: QuotaConfig; perChannel: QuotaConfig },
  user: string,
  channel: string | undefined,
): QuotaWindow[] {
  const windows: QuotaWindow[] = [];
  const add = (kind: QuotaWindow['kind'], key: string, q: QuotaConfig) => {
    if (q.jobs > 0) windows.push({ kind, key, limit: q.jobs, windowMs: q.windowSeconds * 1000 });
  };
  add('user', user, config.perUser);
  if (channel !== undefined) add('channel', channel, config.perChannel);
  return windows;
}

/** UserError('quota') naming the limit, the window and the minutes to wait. */
export function quotaRefusal(full: QuotaFull): UserError {
  const { window, retryAfterMs } = full;
  const who = window.kind === 'user' ? "You've reached your" : 'This channel has reached its';
  const minutes = Math.max(1, Math.ceil(retryAfterMs / 60_000));
  return new UserError(
    'quota',
    `${who} limit of ${window.limit} jobs per ${describeWindow(window.windowMs / 1000)} — try again in ${minutes} min.`,
  );
}

/** Quotas of one process: a sliding window per window kind. */
export class MemoryQuotaStore implements QuotaStore {
  readonly #windows = new Map<string, SlidingWindow>();

  take(windows: readonly QuotaWindow[], now: number): QuotaFull | undefined {
    const sliding = windows.map((w) => this.#sliding(w));
    for (const [i, window] of windows.entries()) {
      const retryAfterMs = (sliding[i] as SlidingWindow).retryAfter(window.key, now);
      if (retryAfterMs > 0) return { window, retryAfterMs };
    }
    for (const [i, window] of windows.entries()) (sliding[i] as SlidingWindow).record(window.key, now);
    return undefined;
  }

  #sliding(w: QuotaWindow): SlidingWindow {
    const id = `${w.kind}:${w.limit}:${w.windowMs}`;
    let sliding = this.#windows.get(id);
    if (!sliding) {
      sliding = new SlidingWindow(w.limit, w.windowMs / 1000);
      this.#windows.set(id, sliding);
    }
    return sliding;
  }
}

/** At most `limit` hits in any `windowSeconds` span, per key (a user or a channel). */
export class SlidingWindow {
  readonly limit: number;
  readonly windowMs: number;
  readonly #hits = new Map<string, number[]>();
  #lastSweep = Number.NEGATIVE_INFINITY;

  /** `limit` 0 means unlimited. */
  constructor(limit: number, windowSeconds: number) {
    this.limit = limit;
    this.windowMs = windowSeconds * 1000;
  }

  /** Milliseconds until `key` may start another job; 0 when it may now. */
  retryAfter(key: string, now: number): number {
    if (this.limit <= 0) return 0;
    const hits = this.#prune(key, now);
    if (hits.length < this.limit) return 0;
    // Sorted oldest first: once the oldest hit that keeps the count at the limit expires, there is room.
    const oldest = hits[hits.length - this.limit] ?? now;
    return Math.max(1, oldest + this.windowMs - now);
  }

  record(key: string, now: number): void {
    if (this.limit <= 0) return;
    this.#sweep(now);
    const hits = this.#hits.get(key) ?? [];
    hits.push(now);
    this.#hits.set(key, hits);
  }

  #prune(key: string, now: number): number[] {
    const hits = this.#hits.get(key);
    if (!hits) return [];
    const start = hits.findIndex((t) => t > now - this.windowMs);
    if (start === -1) {
      this.#hits.delete(key);
      return [];
    }
    if (start > 0) hits.splice(0, start);
    return hits;
  }

  /** Forgets keys that went quiet, once per window, so the map does not grow with every user ever seen. */
  #sweep(now: number): void {
    if (now - this.#lastSweep < this.windowMs) return;
    this.#lastSweep = now;
    for (const key of [...this.#hits.keys()]) this.#prune(key, now);
  }
}

/** "hour", "minute", "day", else "N min" / "N s" — for quota messages. */
export function describeWindow(seconds: number): string {
  if (seconds === 60) return 'minute';
  if (seconds === 3600) return 'hour';
  if (seconds === 86400) return 'day';
  return seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}
