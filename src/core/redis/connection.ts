/**
 * Redis connections for scale-out (queue.kind: redis). One URL, two kinds of connection:
 * - `client`: for requests made on behalf of a user (submit a job, read memory, take quota). It fails fast
 *   while Redis is away, so the user hears "temporarily unavailable" instead of waiting forever.
 * - `blocking`: for BullMQ workers and event listeners, which must wait and reconnect on their own
 *   (BullMQ requires maxRetriesPerRequest: null there).
 * Both reconnect by themselves (ioredis retryStrategy) once Redis is back.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { UserError } from '../../errors.js';

export const TASK_CLASSES = ['imagine', 'vision', 'llm'] as const;
export type TaskClass = (typeof TASK_CLASSES)[number];

export interface RedisSettings {
  url: string;
  /** Key prefix of every key iris writes. */
  prefix: string;
}

/** Reconnect quickly at first, then every 2 s at most: a restarted Redis is found within seconds. */
const retryStrategy = (times: number) => Math.min(100 * times, 2000);

export function redisClient(settings: RedisSettings, kind: 'client' | 'blocking'): Redis {
  const options: RedisOptions =
    kind === 'client'
      ? { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 3000, retryStrategy }
      : { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy };
  const client = new Redis(settings.url, { ...options, lazyConnect: false });
  // Errors surface on the commands that fail; the event itself would crash the process if unhandled.
  client.on('error', () => {});
  return client;
}

/**
 * Waits until a client is connected, or throws the "temporarily unavailable" UserError after `timeoutMs`.
 * Many requests may wait for the same reconnect, each with its own 'ready' listener: the client's listener
 * limit is raised by one per waiter and lowered again after, the way BullMQ does on a shared client (it
 * adjusts that limit itself, so a fixed setting would not hold).
 */
export async function whenReady(client: Redis, timeoutMs = 3000): Promise<void> {
  if (client.status === 'ready') return;
  const limited = client.getMaxListeners() !== 0;
  if (limited) client.setMaxListeners(client.getMaxListeners() + 1);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.off('ready', onReady);
        reject(unavailable());
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      client.once('ready', onReady);
    });
  } finally {
    if (limited) client.setMaxListeners(Math.max(1, client.getMaxListeners() - 1));
  }
}

export function unavailable(cause?: unknown): UserError {
  return new UserError(
    'not_available',
    'iris is temporarily unavailable (its job queue cannot be reached) — try again in a minute.',
    { cause },
  );
}

/** True for errors that mean "Redis cannot be reached right now" rather than a bug. */
export function isConnectionError(err: unknown): boolean {
  const message = String((err as Error)?.message ?? err);
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  return (
    /Connection is closed|Stream isn't writeable|enableOfflineQueue|max retries per request|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|connect ETIMEDOUT/i.test(
      message,
    ) || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code)
  );
}

/**
 * Runs a Redis call on a user's behalf: waits up to 3 s for the connection (a client that is just starting
 * or reconnecting), and turns connection failures into the "temporarily unavailable" UserError.
 */
export async function userFacing<T>(client: Redis, fn: () => Promise<T>): Promise<T> {
  await whenReady(client);
  try {
    return await fn();
  } catch (err) {
    if (isConnectionError(err)) throw unavailable(err);
    throw err;
  }
}
