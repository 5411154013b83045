/**
 * The worker side of scale-out (`iris worker`): consumes the BullMQ queues of some task classes and runs the
 * commands' `run` with the local model registry, `slots` jobs at once per class.
 *
 * Faults: the job lock is renewed while a job runs; a worker that dies (SIGKILL, OOM) stops renewing, and
 * another worker's stalled-job check puts the job back in line, up to `queue.maxStalls` times, after which
 * it fails and the adapter tells the user. A retryable backend error is retried (`queue.attempts`); every
 * other failure completes the job with the error, so it is shown once and never retried.
 */
import { randomBytes } from 'node:crypto';
import { type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../../config.js';
import type { BackendProvider } from '../../contracts/backend.js';
import type { AnyCommand, CommandContext } from '../../contracts/command.js';
import type { BotRequest } from '../../contracts/request.js';
import { isBackendError, UserError } from '../../errors.js';
import type { ImageIndex } from '../image-index.js';
import type { Logger } from '../log.js';
import type { MemoryStore } from '../memory.js';
import { decodePayload, encodePayload } from './codec.js';
import { type RedisSettings, redisClient, type TaskClass } from './connection.js';
import {
  CANCEL_CHANNEL,
  type JobData,
  type JobOutcome,
  outcomeOfError,
  retryableReason,
} from './protocol.js';
import { workerName } from './queue-stats.js';

export interface IrisWorkerOptions {
  config: Config;
  log: Logger;
  registry: BackendProvider;
  commands: readonly AnyCommand[];
  tasks: readonly TaskClass[];
  /** Jobs run at once per task class. */
  slots: number;
  memory: MemoryStore;
  /** Image memory: /similar runs here (it needs the embed model), against the adapters' shared index. */
  imageIndex?: ImageIndex;
}

export class IrisWorker {
  readonly #options: IrisWorkerOptions;
  readonly #settings: RedisSettings;
  readonly #byName: Map<string, AnyCommand>;
  readonly #workers = new Map<TaskClass, Worker>();
  readonly #clients: Redis[] = [];
  readonly #startedAt = Date.now();
  #subscriber?: Redis;
  /** For image blobs and replies: never the workers' own connections, which block waiting for jobs. */
  #data?: Redis;
  /** Jobs this process finished, by class (for logs and tests). */
  readonly done = { completed: 0, failed: 0 };

  constructor(options: IrisWorkerOptions) {
    this.#options = options;
    this.#settings = { url: options.config.queue.url, prefix: options.config.queue.prefix };
    this.#byName = new Map(options.commands.map((c) => [c.name, c]));
  }

  /** Connects and starts taking jobs; resolves once every queue's worker is running. */
  async start(): Promise<void> {
    const { queue } = this.#options.config;
    const name = workerName(this.#options.slots, randomBytes(3).toString('hex'));
    const lockDuration = Math.round(queue.stalledSeconds * 1000);
    for (const taskClass of this.#options.tasks) {
      const connection = redisClient(this.#settings, 'blocking');
      this.#clients.push(connection);
      const worker = new Worker<JobData, JobOutcome>(
        taskClass,
        (job, _token, signal) => this.#process(job, signal),
        {
          connection,
          prefix: queue.prefix,
          name,
          concurrency: this.#options.slots,
          lockDuration,
          stalledInterval: lockDuration,
          maxStalledCount: queue.maxStalls,
          autorun: false,
        },
      );
      worker.on('error', (err) => this.#options.log.warn({ err: String(err) }, 'worker connection'));
      worker.on('completed', () => this.done.completed++);
      worker.on('failed', () => this.done.failed++);
      this.#workers.set(taskClass, worker);
    }
    this.#data = redisClient(this.#settings, 'blocking');
    this.#subscriber = redisClient(this.#settings, 'blocking');
    this.#subscriber.on('message', (_channel: string, message: string) => {
      const [taskClass, jobId] = message.split(/:(.*)/s) as [TaskClass, string];
      this.#workers.get(taskClass)?.cancelJob(jobId, 'cancelled');
    });
    await this.#subscriber.subscribe(`${queue.prefix}:${CANCEL_CHANNEL}`);
    for (const worker of this.#workers.values()) {
      void worker.run().catch((err) => this.#options.log.error({ err }, 'worker stopped'));
      await worker.waitUntilReady();
    }
  }

  /** Stops taking jobs and waits for the running ones (graceful); `force` abandons them to the stalled check. */
  async close(options: { force?: boolean } = {}): Promise<void> {
    await Promise.allSettled([...this.#workers.values()].map((w) => w.close(options.force)));
    this.#subscriber?.disconnect();
    this.#data?.disconnect();
    for (const c of this.#clients) c.disconnect();
  }

  async #process(job: Job<JobData, JobOutcome>, cancelSignal?: AbortSignal): Promise<JobOutcome> {
    const { config, log, registry, memory, imageIndex } = this.#options;
    const data = job.data;
    const command = this.#byName.get(data.command);
    if (!command) return { ok: false, internal: `this worker has no command /${data.command}` };
    const controller = new AbortController();
    const onCancel = () => controller.abort(new UserError('cancelled', 'Cancelled.'));
    if (cancelSignal?.aborted) onCancel();
    cancelSignal?.addEventListener('abort', onCancel, { once: true });
    const timer = setTimeout(
      () =>
        controller.abort(
          new UserError('timeout', `That took longer than ${data.timeoutSeconds} s and was stopped.`),
        ),
      Math.min(data.timeoutSeconds * 1000, 2 ** 31 - 1),
    );
    const request: BotRequest = {
      ...data.request,
      command: data.command,
      images: [],
      signal: controller.signal,
    };
    const ctx: CommandContext = {
      request,
      config,
      signal: controller.signal,
      deadline: Date.now() + data.timeoutSeconds * 1000,
      backend: (task) => registry.get(task),
      progress: async (p) => {
        if (p.kind === 'running') {
          await job.updateProgress({ step: p.step, total: p.total, message: p.message }).catch(() => {});
        }
      },
      memory,
      ...(imageIndex && { imageIndex }),
      commands: this.#options.commands,
      log: this.#options.log.child({ req: request.id }),
      status: () => ({
        queues: {},
        models: registry.status(),
        uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000),
      }),
    };
    try {
      const input = await decodePayload(data.input, this.#codec());
      const reply = await command.run(input, ctx);
      if (controller.signal.aborted) return outcomeOfError(controller.signal.reason);
      const encoded = await encodePayload(reply, {
        ...this.#codec(),
        inlineBytes: config.queue.inlineBytes,
        ttlSeconds: 3600,
      });
      return { ok: true, reply: encoded };
    } catch (err) {
      if (controller.signal.aborted) return outcomeOfError(controller.signal.reason);
      // Retryable backend failures fail the job so BullMQ runs it again (queue.attempts); nothing else does.
      if (isBackendError(err) && err.isRetryable) throw new Error(retryableReason(err));
      if (!(err instanceof UserError)) log.error({ err, req: data.request.id }, 'job failed');
      return outcomeOfError(err);
    } finally {
      clearTimeout(timer);
      cancelSignal?.removeEventListener('abort', onCancel);
    }
  }

  #codec() {
    return { client: this.#data as Redis, prefix: this.#settings.prefix };
  }
}
