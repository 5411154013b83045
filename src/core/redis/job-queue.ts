/**
 * The adapter side of scale-out: each queued request becomes a BullMQ job on the queue of its task class;
 * this process (the one that owns the user's interaction) waits for the result and relays queue position,
 * ETA and worker progress. Quotas are taken in Redis (quota-store.ts), so every adapter process shares them.
 *
 * Results arrive through BullMQ's event stream (QueueEvents); a slow poll of each waiting job's state backs
 * it up, so an event missed during a Redis reconnect never leaves a user waiting, and each request is
 * settled exactly once whichever of the two sees the end first.
 */
import { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../../config.js';
import type { Reply } from '../../contracts/request.js';
import { isUserError, shuttingDown, UserError } from '../../errors.js';
import { type Executor, type ExecutorStats, type Submission, submitter } from '../executor.js';
import type { Logger } from '../log.js';
import { quotaRefusal, quotaWindows } from '../quota.js';
import { decodePayload, encodePayload } from './codec.js';
import { type RedisSettings, redisClient, TASK_CLASSES, type TaskClass, userFacing } from './connection.js';
import {
  BULL_PRIORITY,
  CANCEL_CHANNEL,
  errorOfFailedReason,
  errorOfOutcome,
  JOB_NAME,
  type JobData,
  type JobOutcome,
  taskClassOf,
} from './protocol.js';
import { QueueWatch } from './queue-stats.js';
import { RedisQuotaStore } from './quota-store.js';

export interface RedisJobQueueOptions {
  config: Config;
  log: Logger;
  /** How often waiting jobs' positions and states are checked, ms. Default 500. */
  pollMs?: number;
}

interface Waiter {
  jobId: string;
  taskClass: TaskClass;
  submission: Submission;
  position?: number;
  /** queue.add has returned: before that the job does not exist yet, which is not "lost". */
  added: boolean;
  settled: boolean;
  /** When the state poll last succeeded; a Redis that stays away this long fails the wait. */
  lastSeen: number;
  resolve(reply: Reply): void;
  reject(err: unknown): void;
}

/** A request whose job cannot be read for this long is answered "temporarily unavailable". */
const LOST_AFTER_MS = 30_000;

export class RedisJobQueue implements Executor {
  readonly #config: Config;
  readonly #log: Logger;
  readonly #settings: RedisSettings;
  readonly #client: Redis;
  readonly #queues = new Map<TaskClass, Queue>();
  readonly #events: QueueEvents[] = [];
  readonly #eventClients: Redis[] = [];
  readonly #waiters = new Map<string, Waiter>();
  readonly #live = new Map<string, number>();
  readonly #quotas: RedisQuotaStore;
  readonly #totals = { done: 0, failed: 0, timedOut: 0, cancelled: 0, refused: 0 };
  readonly #watch: QueueWatch;
  readonly #timer: NodeJS.Timeout;
  #closing = false;
  #closed = false;

  constructor(options: RedisJobQueueOptions) {
    this.#config = options.config;
    this.#log = options.log;
    const { url, prefix } = options.config.queue;
    this.#settings = { url, prefix };
    this.#client = redisClient(this.#settings, 'client');
    for (const taskClass of TASK_CLASSES) {
      const queue = new Queue(taskClass, { connection: this.#client, prefix });
      queue.on('error', () => {}); // reported by the calls that fail
      this.#queues.set(taskClass, queue);
      const eventClient = redisClient(this.#settings, 'blocking');
      const events = new QueueEvents(taskClass, { connection: eventClient, prefix });
      events.on('error', () => {});
      events.on('completed', ({ jobId }) => this.#finish(jobId));
      events.on('failed', ({ jobId }) => this.#finish(jobId));
      events.on('progress', ({ jobId, data }) => this.#onProgress(jobId, data));
      this.#events.push(events);
      this.#eventClients.push(eventClient);
    }
    this.#quotas = new RedisQuotaStore({ client: this.#client, prefix });
    this.#watch = new QueueWatch({ client: this.#client, prefix, queues: this.#queues });
    this.#timer = setInterval(() => this.#poll(), options.pollMs ?? 500);
    this.#timer.unref();
  }

  async submit(submission: Submission): Promise<Reply> {
    const { command, request } = submission;
    const taskClass = taskClassOf({ name: command.name, queue: submission.queue });
    const queue = this.#queues.get(taskClass) as Queue;
    if (request.signal.aborted) {
      this.#totals.cancelled++;
      throw cancelled();
    }
    const { user, channel, metered } = submitter(request);
    try {
      await this.#admit(taskClass, user, channel, metered);
    } catch (err) {
      this.#totals.refused++;
      throw err;
    }
    this.#live.set(user, (this.#live.get(user) ?? 0) + 1);
    try {
      const prefix = this.#config.queue.prefix;
      const timeoutSeconds = this.#config.scheduler.jobTimeoutSeconds;
      const data: JobData = {
        v: 1,
        command: command.name,
        input: await userFacing(this.#client, () =>
          encodePayload(submission.input, {
            client: this.#client,
            prefix,
            inlineBytes: this.#config.queue.inlineBytes,
            // Blobs outlive every wait the job could have: queue time is bounded by the per-user caps.
            ttlSeconds: Math.max(3600, timeoutSeconds * 4),
          }),
        ),
        request: {
          id: request.id,
          platform: request.platform,
          conversation: request.conversation,
          user: request.user,
          args: request.args,
          ...(request.messageLink && { messageLink: request.messageLink }),
        },
        timeoutSeconds,
      };
      const jobId = jobIdOf(request.id);
      const result = new Promise<Reply>((resolve, reject) => {
        this.#waiters.set(jobId, {
          jobId,
          taskClass,
          submission,
          added: false,
          settled: false,
          lastSeen: Date.now(),
          resolve,
          reject,
        });
      });
      const onAbort = () => void this.#cancel(jobId);
      request.signal.addEventListener('abort', onAbort, { once: true });
      try {
        await userFacing(this.#client, () =>
          queue.add(JOB_NAME, data, {
            jobId,
            priority: BULL_PRIORITY[command.priority ?? 'normal'],
            attempts: this.#config.queue.attempts,
            backoff: { type: 'exponential', delay: 1000 },
            removeOnComplete: { age: 3600, count: 1000 },
            removeOnFail: { age: 24 * 3600, count: 1000 },
          }),
        );
        const waiter = this.#waiters.get(jobId);
        if (waiter) waiter.added = true;
        // Cancelled while the job was being added: take it back now that it exists.
        if (request.signal.aborted) void this.#withdraw(taskClass, jobId);
      } catch (err) {
        this.#settle(jobId, (w) => w.reject(err));
      }
      void this.#refreshPosition(jobId);
      try {
        return await result;
      } finally {
        request.signal.removeEventListener('abort', onAbort);
      }
    } finally {
      const live = (this.#live.get(user) ?? 1) - 1;
      if (live > 0) this.#live.set(user, live);
      else this.#live.delete(user);
    }
  }

  /** The same checks, in the same order, as the embedded scheduler; the quota is taken last. */
  async #admit(taskClass: TaskClass, user: string, channel: string, metered: boolean): Promise<void> {
    if (this.#closing) throw shuttingDown('new');
    const live = this.#live.get(user) ?? 0;
    if (live >= this.#config.scheduler.perUserConcurrent) {
      throw new UserError(
        'too_many_jobs',
        `You already have ${live} jobs running or queued — wait for one to finish.`,
      );
    }
    const stats = await userFacing(this.#client, () => this.#watch.stats(taskClass, true));
    const waiting = stats.queued;
    if (waiting > 0 && waiting >= this.#config.scheduler.highWater) {
      throw new UserError('busy', `iris is busy — ${waiting} jobs ahead. Try again in a minute.`);
    }
    if (!metered) return;
    const windows = quotaWindows(this.#config.scheduler, user, channel);
    const full = await userFacing(this.#client, () => this.#quotas.take(windows, Date.now()));
    if (full) throw quotaRefusal(full);
  }

  async stats(): Promise<ExecutorStats> {
    const queues: ExecutorStats['queues'] = {};
    const workers = new Set<string>();
    await userFacing(this.#client, async () => {
      for (const taskClass of TASK_CLASSES) {
        const s = await this.#watch.stats(taskClass, true);
        queues[taskClass] = { running: s.running, queued: s.queued, maxConcurrent: s.maxConcurrent };
        for (const w of s.workers) workers.add(w.replace(/-s\d+$/, ''));
      }
    });
    return { queues, workers: workers.size, ...this.#totals };
  }

  async position(requestId: string): Promise<number | undefined> {
    const waiter = this.#waiters.get(jobIdOf(requestId));
    if (!waiter?.added) return undefined;
    return this.#watch.position(waiter.taskClass, waiter.jobId).catch(() => undefined);
  }

  async cancel(requestId: string): Promise<boolean> {
    return this.#cancel(jobIdOf(requestId));
  }

  /**
   * Refuses new jobs at once; the requests this process waits for get `graceMs` (their jobs live in Redis
   * and run on workers), then their callers are told. Connections stay open until close().
   */
  async drain(options: { graceMs: number }): Promise<void> {
    this.#closing = true;
    if (this.#waiters.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, options.graceMs);
        const poll = setInterval(() => this.#waiters.size === 0 && done(), 20);
        function done() {
          clearTimeout(timer);
          clearInterval(poll);
          resolve();
        }
      });
    }
    for (const jobId of [...this.#waiters.keys()]) {
      this.#settle(jobId, (w) => w.reject(shuttingDown('waiting')));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.drain({ graceMs: 0 });
    clearInterval(this.#timer);
    await Promise.allSettled(this.#events.map((e) => e.close()));
    await Promise.allSettled([...this.#queues.values()].map((q) => q.close()));
    for (const c of [...this.#eventClients, this.#client]) c.disconnect();
  }

  /** Removes a waiting job, or asks the worker running it to stop; the user is answered at once. */
  async #cancel(jobId: string): Promise<boolean> {
    const waiter = this.#waiters.get(jobId);
    if (!waiter || waiter.settled) return false;
    this.#settle(jobId, (w) => w.reject(cancelled()));
    await this.#withdraw(waiter.taskClass, jobId);
    return true;
  }

  async #withdraw(taskClass: TaskClass, jobId: string): Promise<void> {
    const queue = this.#queues.get(taskClass) as Queue;
    try {
      await queue.remove(jobId);
    } catch {
      // Locked by a worker: it is running. The worker aborts it when it hears the cancel below.
    }
    const channel = `${this.#config.queue.prefix}:${CANCEL_CHANNEL}`;
    await this.#client.publish(channel, `${taskClass}:${jobId}`).catch(() => {});
  }

  #settle(jobId: string, answer: (w: Waiter) => void): void {
    const waiter = this.#waiters.get(jobId);
    if (!waiter || waiter.settled) return;
    waiter.settled = true;
    this.#waiters.delete(jobId);
    // Count what the caller is told: a wrapped answer sees the value or the error.
    answer({
      ...waiter,
      resolve: (reply) => {
        this.#totals.done++;
        waiter.resolve(reply);
      },
      reject: (err) => {
        const code = isUserError(err) ? err.code : undefined;
        if (code === 'cancelled' || code === 'shutting_down') this.#totals.cancelled++;
        else if (code === 'timeout') this.#totals.timedOut++;
        else this.#totals.failed++;
        waiter.reject(err);
      },
    });
  }

  /** A job finished (event or poll): read its outcome once and answer the waiter. */
  async #finish(jobId: string): Promise<void> {
    const waiter = this.#waiters.get(jobId);
    if (!waiter || waiter.settled) return;
    const queue = this.#queues.get(waiter.taskClass) as Queue;
    const job = await Job.fromId(queue, jobId).catch(() => undefined);
    if (!job) return; // the poll tries again
    const state = await job.getState().catch(() => 'unknown');
    if (state === 'completed') {
      const outcome = job.returnvalue as JobOutcome;
      try {
        if (!outcome.ok) throw errorOfOutcome(outcome);
        const reply = (await decodePayload(outcome.reply, {
          client: this.#client,
          prefix: this.#config.queue.prefix,
        })) as Reply;
        this.#settle(jobId, (w) => w.resolve(reply));
      } catch (err) {
        this.#settle(jobId, (w) => w.reject(err));
      }
    } else if (state === 'failed') {
      const tries = Math.max(job.attemptsMade, job.stalledCounter ?? 0);
      this.#settle(jobId, (w) => w.reject(errorOfFailedReason(job.failedReason ?? '', tries)));
    }
  }

  #onProgress(jobId: string, data: unknown): void {
    const waiter = this.#waiters.get(jobId);
    if (!waiter || waiter.settled || typeof data !== 'object' || data === null) return;
    const p = data as { step?: number; total?: number; message?: string };
    waiter.submission.progress({ kind: 'running', step: p.step, total: p.total, message: p.message });
  }

  async #refreshPosition(jobId: string): Promise<void> {
    const waiter = this.#waiters.get(jobId);
    if (!waiter || waiter.settled) return;
    const position = await this.#watch.position(waiter.taskClass, jobId).catch(() => undefined);
    if (position === undefined || position === waiter.position || waiter.settled) return;
    waiter.position = position;
    const etaSeconds = await this.#watch.eta(waiter.taskClass, position).catch(() => undefined);
    waiter.submission.progress({ kind: 'queued', position, etaSeconds });
  }

  /** Positions for waiting jobs; finished jobs whose event was missed; jobs lost with a restarted Redis. */
  async #poll(): Promise<void> {
    for (const waiter of [...this.#waiters.values()]) {
      if (waiter.settled || !waiter.added) continue;
      const queue = this.#queues.get(waiter.taskClass) as Queue;
      let state: string;
      try {
        if (this.#client.status !== 'ready') throw new Error('not connected');
        state = await queue.getJobState(waiter.jobId);
        waiter.lastSeen = Date.now();
      } catch {
        if (Date.now() - waiter.lastSeen > LOST_AFTER_MS) this.#lose(waiter.jobId, 'cannot be reached');
        continue;
      }
      if (state === 'completed' || state === 'failed') await this.#finish(waiter.jobId);
      else if (state === 'waiting' || state === 'prioritized') await this.#refreshPosition(waiter.jobId);
      else if (state === 'unknown' && Date.now() - waiter.lastSeen < LOST_AFTER_MS) {
        // Not there at all: Redis restarted without its data (or the job was removed by hand).
        if (await this.#queues.get(waiter.taskClass)?.getJob(waiter.jobId)) continue;
        this.#lose(waiter.jobId, 'was restarted and lost it');
      }
    }
  }

  #lose(jobId: string, why: string): void {
    this.#log.warn({ jobId, why }, 'job lost');
    this.#settle(jobId, (w) =>
      w.reject(
        new UserError(
          'not_available',
          `iris is temporarily unavailable (its job queue ${why}) — try again in a minute.`,
        ),
      ),
    );
  }
}

/** The request id is the job id: a request submitted twice (a platform retry) is one job. */
function jobIdOf(requestId: string): string {
  return `r-${requestId}`;
}

function cancelled(): UserError {
  return new UserError('cancelled', 'Cancelled.');
}
