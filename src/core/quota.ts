import { UserError } from '../errors.js';

export interface QuotaConfig {
  /** Jobs allowed in any window; 0 = unlimited. */
  jobs: number;
  windowSeconds: number;
}

/** The per-user and per-channel quotas of one Scheduler. Only accepted jobs are recorded. */
export class Quotas {
  readonly #user: SlidingWindow;
  readonly #channel: SlidingWindow;

  constructor(perUser: QuotaConfig, perChannel: QuotaConfig) {
    this.#user = new SlidingWindow(perUser.jobs, perUser.windowSeconds);
    this.#channel = new SlidingWindow(perChannel.jobs, perChannel.windowSeconds);
  }

  /** UserError('quota') saying when to try again, or undefined when the job may go ahead. */
  check(user: string, channel: string | undefined, now: number): UserError | undefined {
    const userWait = this.#user.retryAfter(user, now);
    if (userWait > 0) return refusal("You've reached your", this.#user, userWait);
    const channelWait = channel === undefined ? 0 : this.#channel.retryAfter(channel, now);
    if (channelWait > 0) return refusal('This channel has reached its', this.#channel, channelWait);
    return undefined;
  }

  record(user: string, channel: string | undefined, now: number): void {
    this.#user.record(user, now);
    if (channel !== undefined) this.#channel.record(channel, now);
  }
}

function refusal(who: string, window: SlidingWindow, waitMs: number): UserError {
  const minutes = Math.max(1, Math.ceil(waitMs / 60_000));
  const per = describeWindow(window.windowMs / 1000);
  return new UserError(
    'quota',
    `${who} limit of ${window.limit} jobs per ${per} — try again in ${minutes} min.`,
  );
}

/**
 * Sliding-window quotas: at most `limit` jobs in any `windowSeconds` span, per key (a user or a channel).
 * bottleneck's reservoir refills on a fixed clock, which lets a user spend twice the limit across a
 * refill; a list of timestamps per key is small and exact.
 */
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
