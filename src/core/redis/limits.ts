/**
 * Quotas shared by every adapter process on one Redis, through bottleneck's Redis clustering: one clustered
 * limiter per user and per channel (a bottleneck Group), whose reservoir is the quota and refills every
 * window. Taking a job is one atomic `incrementReservoir(-1)` in Redis, so two adapter processes serving the
 * same user can never both spend the user's last job.
 *
 * Difference from the embedded scheduler's sliding windows (quota.ts): bottleneck refills the whole
 * reservoir at the end of each window (a fixed window per user, starting at their first job), so right at a
 * refill a user may spend up to twice the limit within a short span. docs/scaling.md says so.
 */
import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import { UserError } from '../../errors.js';
import type { QuotaConfig } from '../quota.js';
import { describeWindow } from '../quota.js';
import { userFacing } from './connection.js';

export interface ClusteredQuotaOptions {
  client: Redis;
  prefix: string;
  perUser: QuotaConfig;
  perChannel: QuotaConfig;
  now?: () => number;
}

interface Window {
  config: QuotaConfig;
  group?: Bottleneck.Group;
  id: string;
  who: string;
}

export class ClusteredQuotas {
  readonly #options: ClusteredQuotaOptions;
  readonly #connection: Bottleneck.IORedisConnection;
  readonly #client: Redis;
  readonly #windows: Window[];

  constructor(options: ClusteredQuotaOptions) {
    this.#options = options;
    // bottleneck's own connection (it adds its scripts and a subscriber), failing fast like the caller's client.
    this.#client = options.client.duplicate();
    this.#client.on('error', () => {});
    this.#connection = new Bottleneck.IORedisConnection({ client: this.#client, Redis });
    // A connection error is reported by the call that needed Redis; the event must not crash the process.
    this.#connection.on('error', () => {});
    const window = (config: QuotaConfig, name: string, who: string): Window => {
      const id = `${options.prefix}-quota-${name}`;
      if (config.jobs <= 0) return { config, id, who };
      const ms = config.windowSeconds * 1000;
      const group = new Bottleneck.Group({
        connection: this.#connection,
        id,
        reservoir: config.jobs,
        reservoirRefreshAmount: config.jobs,
        reservoirRefreshInterval: ms,
        // Keys of a quiet user live one window past their last job, so waiting out a quota never resets it early.
        timeout: ms + 60_000,
      });
      return { config, group, id, who };
    };
    this.#windows = [
      window(options.perUser, 'user', "You've reached your"),
      window(options.perChannel, 'channel', 'This channel has reached its'),
    ];
  }

  /**
   * Takes one job from the user's and the channel's quotas, or refuses with UserError('quota') saying when to
   * try again (nothing is taken then). Redis away → UserError('not_available').
   */
  async take(user: string, channel: string | undefined): Promise<UserError | undefined> {
    const keys = [user, channel];
    const taken: Bottleneck[] = [];
    for (const [i, window] of this.#windows.entries()) {
      const key = keys[i];
      if (!window.group || key === undefined) continue;
      const group = window.group;
      const decrement = async () => {
        const limiter = group.key(key);
        await limiter.ready();
        await limiter.currentReservoir(); // applies a due refill before the decrement below
        return { limiter, left: await limiter.incrementReservoir(-1) };
      };
      const { limiter, left } = await userFacing(this.#client, async () => {
        try {
          return await decrement();
        } catch (err) {
          // Redis lost the limiter's keys (restarted empty). bottleneck re-creates them only when the error
          // text is bare, and Redis 7 prefixes "ERR ": start this key's limiter afresh instead.
          if (!/SETTINGS_KEY_NOT_FOUND|UNKNOWN_CLIENT/.test(String((err as Error)?.message))) throw err;
          await group.deleteKey(key).catch(() => {});
          return decrement();
        }
      });
      if (left === null || left === undefined || left >= 0) {
        taken.push(limiter);
        continue;
      }
      await Promise.all([limiter, ...taken].map((l) => l.incrementReservoir(1).catch(() => {})));
      return this.#refusal(window, key);
    }
    return undefined;
  }

  async #refusal(window: Window, key: string): Promise<UserError> {
    const settings = `b_${window.id}-${key}_settings`;
    const last = Number(await this.#client.hget(settings, 'lastReservoirRefresh').catch(() => null));
    const windowMs = window.config.windowSeconds * 1000;
    const now = this.#options.now?.() ?? Date.now();
    const waitMs = last > 0 ? last + windowMs - now : windowMs;
    const minutes = Math.max(1, Math.ceil(waitMs / 60_000));
    return new UserError(
      'quota',
      `${window.who} limit of ${window.config.jobs} jobs per ${describeWindow(window.config.windowSeconds)} — try again in ${minutes} min.`,
    );
  }

  async close(): Promise<void> {
    await this.#connection.disconnect(true).catch(() => {});
  }
}
