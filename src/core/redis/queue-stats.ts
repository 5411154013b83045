/**
 * What the real BullMQ queues say: a waiting job's place in line, an ETA, queue depths, workers.
 *
 * Place in line follows how BullMQ hands out jobs: first the `wait` list (jobs without a priority, and
 * jobs put back after their worker died), oldest first; then the `prioritized` sorted set (iris gives every
 * job a priority), lowest score first.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TaskClass } from './connection.js';

/** Worker names carry their slot count so /status and ETAs know the capacity: `w<pid>-<random>-s<slots>`. */
export function workerName(slots: number, unique: string): string {
  return `w${process.pid}-${unique}-s${slots}`;
}

export interface ClassStats {
  running: number;
  queued: number;
  /** Slots of the workers connected now (0 = no worker: jobs wait until one starts). */
  maxConcurrent: number;
  workers: string[];
  /** Mean running time of the last finished jobs, ms; undefined before any finished. */
  meanRunMs?: number;
}

const STATS_TTL_MS = 3000;

export class QueueWatch {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #queues: Map<TaskClass, Queue>;
  readonly #cache = new Map<TaskClass, { at: number; stats: Promise<ClassStats> }>();

  constructor(options: { client: Redis; prefix: string; queues: Map<TaskClass, Queue> }) {
    this.#client = options.client;
    this.#prefix = options.prefix;
    this.#queues = options.queues;
  }

  /** 1 = next to start; undefined when the job is not waiting (running, finished, gone). */
  async position(taskClass: TaskClass, jobId: string): Promise<number | undefined> {
    const base = `${this.#prefix}:${taskClass}`;
    const [[, waitLength], [, rank]] = (await this.#client
      .multi()
      .llen(`${base}:wait`)
      .zrank(`${base}:prioritized`, jobId)
      .exec()) as [[unknown, number], [unknown, number | null]];
    if (typeof rank === 'number') return waitLength + rank + 1;
    // LPUSH adds on the left and workers take from the right: the rightmost job is next.
    const index = await this.#client.lpos(`${base}:wait`, jobId);
    return typeof index === 'number' ? waitLength - index : undefined;
  }

  /** Seconds until a job at `position` starts, from the connected slots and recent running times. */
  async eta(taskClass: TaskClass, position: number): Promise<number | undefined> {
    const stats = await this.stats(taskClass);
    if (!stats.meanRunMs || stats.maxConcurrent === 0) return undefined;
    return Math.ceil((Math.ceil(position / stats.maxConcurrent) * stats.meanRunMs) / 1000);
  }

  /** Cached for a few seconds: positions are refreshed often, depths and workers change slowly. */
  stats(taskClass: TaskClass, fresh = false): Promise<ClassStats> {
    const cached = this.#cache.get(taskClass);
    if (!fresh && cached && Date.now() - cached.at < STATS_TTL_MS) return cached.stats;
    const stats = this.#read(taskClass);
    this.#cache.set(taskClass, { at: Date.now(), stats });
    stats.catch(() => this.#cache.delete(taskClass));
    return stats;
  }

  async #read(taskClass: TaskClass): Promise<ClassStats> {
    const queue = this.#queues.get(taskClass) as Queue;
    const [counts, clients, finished] = await Promise.all([
      queue.getJobCounts('active', 'waiting', 'prioritized', 'delayed'),
      queue.getWorkers(),
      queue.getJobs(['completed'], 0, 19),
    ]);
    const names = new Set<string>();
    for (const c of clients) {
      const raw = String((c as { rawname?: string }).rawname ?? '');
      const at = raw.indexOf(':w:');
      if (at >= 0) names.add(raw.slice(at + 3));
    }
    const workers = [...names];
    const maxConcurrent = workers.reduce((sum, name) => sum + Number(/-s(\d+)$/.exec(name)?.[1] ?? 1), 0);
    const runs = finished
      .filter((j) => j?.processedOn && j.finishedOn)
      .map((j) => (j.finishedOn as number) - (j.processedOn as number));
    return {
      running: counts.active ?? 0,
      queued: (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0),
      maxConcurrent,
      workers,
      meanRunMs: runs.length ? runs.reduce((a, b) => a + b, 0) / runs.length : undefined,
    };
  }
}
