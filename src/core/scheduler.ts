/**
 * The in-process executor: the one gate in front of every model backend when iris runs as one process.
 *
 * Each queue class ('gpu', 'remote', …) has `maxConcurrent` slots and a fair line (fair-queue.ts): priority
 * first, then per-user round robin, then arrival. A user runs at most `perUserSlots` jobs of a queue at once
 * (default 1); their other jobs keep their place in line and the next user's job goes first. Places in line
 * are read from that line, so a change costs a binary search plus one call per job whose place moved.
 *
 * Caps and quotas are checked before anything is queued, so a refused job costs nothing.
 */
import type { Priority } from '../contracts/command.js';
import type { Reply } from '../contracts/request.js';
import { listChoices, shuttingDown, UserError } from '../errors.js';
import type { Executor, ExecutorStats, QueueStats, Submission } from './executor.js';
import { submitter } from './executor.js';
import { type FairEntry, FairQueue } from './fair-queue.js';
import { MemoryQuotaStore, type QuotaConfig, quotaRefusal, quotaWindows } from './quota.js';

export type { QueueStats } from './executor.js';

export interface QueueConfig {
  maxConcurrent: number;
  /** Jobs one user may run in this queue at once. Default 1. */
  perUserSlots?: number;
}

export interface SchedulerConfig {
  /** Queue classes. 'gpu' is shared by all local backends; 'remote' (LLM APIs) never waits behind a diffusion job. */
  queues: Record<string, QueueConfig>;
  /** Max jobs waiting (not running) per queue before new ones are refused with UserError('busy'). */
  highWater: number;
  /** Max jobs one user may have queued+running at once, across queues → UserError('too_many_jobs'). */
  perUserConcurrent: number;
  /** Sliding-window quotas; 0 jobs = unlimited. → UserError('quota', "…try again in N min"). */
  perUser: QuotaConfig;
  perChannel: QuotaConfig;
  /** Default per-job timeout (running time) → UserError('timeout'). */
  jobTimeoutSeconds: number;
}

export interface JobOptions {
  /** Unknown queue → throws an Error listing the valid ones (a programming error). */
  queue: string;
  /** User id (fairness, per-user cap and quota). */
  user: string;
  /** Conversation key (channel quota). */
  channel?: string;
  /** false: no quota is checked or taken (the operator's own jobs). Default true. */
  metered?: boolean;
  /** Interactive questions go before batch tagging. Default 'normal'. */
  priority?: Priority;
  /** Cancel: removes a queued job, or aborts a running one (fn's signal). */
  signal?: AbortSignal;
  timeoutSeconds?: number;
  /** Called while waiting whenever this job's place in line changes (1 = next); never after it starts. */
  onPosition?: (position: number) => void;
  /** Request id, for position(id) and cancel(id). */
  id?: string;
}

export type SchedulerStats = ExecutorStats;

/** setTimeout fires at once for longer delays. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Priority levels of the fair line, first to last. */
const LEVELS: Record<Priority, number> = { interactive: 0, normal: 1, batch: 2 };

interface Lane {
  name: string;
  maxConcurrent: number;
  perUserSlots: number;
  line: FairQueue<Job>;
  /** Jobs holding a slot (a cancelled one keeps it until its fn settles). */
  running: Set<Job>;
  runningBy: Map<string, number>;
  /** Lowest 0-based place in line whose job may have moved since positions were last told. */
  dirtyFrom: number;
  /** A refill is due (see #refillSoon). */
  refill?: NodeJS.Immediate;
}

interface Job {
  id?: string;
  lane: Lane;
  user: string;
  timeoutSeconds: number;
  fn: (signal: AbortSignal) => Promise<unknown>;
  onPosition?: (position: number) => void;
  controller: AbortController;
  stage: 'waiting' | 'running' | 'finished';
  entry?: FairEntry<Job>;
  /** The caller has its answer (result, error, cancel, timeout). */
  settled: boolean;
  /** Last place in line told to onPosition. */
  position: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  detach: () => void;
}

export class Scheduler implements Executor {
  readonly #config: SchedulerConfig;
  readonly #now: () => number;
  readonly #lanes = new Map<string, Lane>();
  readonly #quotas = new MemoryQuotaStore();
  /** Jobs per user whose caller is still waiting, across queues. */
  readonly #live = new Map<string, number>();
  readonly #byId = new Map<string, Job>();
  readonly #totals = { done: 0, failed: 0, timedOut: 0, cancelled: 0, refused: 0 };
  #stopping?: Promise<void>;
  /** Set as soon as stop() begins: no new jobs, no more places in line to tell. */
  #closing = false;
  #onJobFinished?: () => void;

  constructor(config: SchedulerConfig, deps: { now?: () => number } = {}) {
    this.#config = config;
    this.#now = deps.now ?? Date.now;
    for (const [name, q] of Object.entries(config.queues)) {
      this.#lanes.set(name, {
        name,
        maxConcurrent: q.maxConcurrent,
        perUserSlots: Math.max(1, q.perUserSlots ?? 1),
        line: new FairQueue(Object.keys(LEVELS).length),
        running: new Set(),
        runningBy: new Map(),
        dirtyFrom: Number.POSITIVE_INFINITY,
      });
    }
  }

  submit(job: Submission): Promise<Reply> {
    const { request, command } = job;
    return this.schedule(
      {
        ...submitter(request),
        id: request.id,
        queue: job.queue,
        priority: command.priority,
        signal: request.signal,
        onPosition: (position) => job.progress({ kind: 'queued', position }),
      },
      (signal) => job.run(signal),
    );
  }

  position(requestId: string): number | undefined {
    const job = this.#byId.get(requestId);
    return job?.entry && !job.settled ? job.lane.line.position(job.entry) : undefined;
  }

  cancel(requestId: string): boolean {
    const job = this.#byId.get(requestId);
    if (!job || job.settled) return false;
    this.#abort(job, cancelled());
    return true;
  }

  drain(options: { graceMs: number }): Promise<void> {
    return this.stop(options);
  }

  /** Checks caps and quotas, queues, runs fn(signal) when a slot is free. Rejects with UserError on refusal, cancel, timeout. */
  schedule<T>(opts: JobOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const lane = this.#lanes.get(opts.queue);
    if (!lane) {
      throw new Error(
        `Unknown scheduler queue "${opts.queue}"; expected ${listChoices([...this.#lanes.keys()])}.`,
      );
    }
    if (opts.signal?.aborted) {
      this.#totals.cancelled++;
      return Promise.reject(cancelled());
    }
    const refusal = this.#refusal(lane, opts);
    if (refusal) {
      this.#totals.refused++;
      return Promise.reject(refusal);
    }
    this.#live.set(opts.user, (this.#live.get(opts.user) ?? 0) + 1);

    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        id: opts.id,
        lane,
        user: opts.user,
        timeoutSeconds: opts.timeoutSeconds ?? this.#config.jobTimeoutSeconds,
        fn,
        onPosition: opts.onPosition,
        controller: new AbortController(),
        stage: 'waiting',
        settled: false,
        position: 0,
        resolve: resolve as (value: unknown) => void,
        reject,
        detach: () => {},
      };
      const signal = opts.signal;
      if (signal) {
        const onAbort = () => this.#abort(job, cancelled());
        signal.addEventListener('abort', onAbort, { once: true });
        job.detach = () => signal.removeEventListener('abort', onAbort);
      }
      if (job.id !== undefined && !this.#byId.has(job.id)) this.#byId.set(job.id, job);
      const { entry, index } = lane.line.push(job, job.user, LEVELS[opts.priority ?? 'normal']);
      job.entry = entry;
      this.#moved(lane, index);
      this.#fill(lane);
      this.#tellPositions(lane);
    });
  }

  stats(): SchedulerStats {
    const queues: Record<string, QueueStats> = {};
    for (const lane of this.#lanes.values()) {
      queues[lane.name] = {
        running: lane.running.size,
        queued: lane.line.size,
        maxConcurrent: lane.maxConcurrent,
      };
    }
    return { queues, ...this.#totals };
  }

  /**
   * Stops accepting jobs, cancels the queued ones, and waits up to `graceMs` for running ones. Past the
   * deadline their signals are aborted and their callers get 'shutting_down'; stop() does not wait further.
   */
  stop(options: { graceMs?: number } = {}): Promise<void> {
    this.#stopping ??= this.#shutdown(options.graceMs ?? 10_000);
    return this.#stopping;
  }

  async #shutdown(graceMs: number): Promise<void> {
    this.#closing = true;
    const lanes = [...this.#lanes.values()];
    for (const lane of lanes) {
      const waiting: Job[] = [];
      lane.line.forEachFrom(0, (entry) => void waiting.push(entry.value));
      for (const job of waiting) this.#abort(job, shuttingDown('waiting'));
    }
    const busy = () => lanes.some((lane) => lane.running.size > 0);
    if (busy()) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#onJobFinished = undefined;
          resolve();
        };
        const timer = setTimeout(done, graceMs);
        this.#onJobFinished = () => {
          if (!busy()) done();
        };
      });
    }
    for (const lane of lanes) for (const job of [...lane.running]) this.#abort(job, shuttingDown('running'));
  }

  #refusal(lane: Lane, opts: JobOptions): UserError | undefined {
    const { perUserConcurrent, highWater } = this.#config;
    if (this.#closing) return shuttingDown('new');
    const live = this.#live.get(opts.user) ?? 0;
    if (live >= perUserConcurrent) {
      return new UserError(
        'too_many_jobs',
        `You already have ${live} jobs running or queued — wait for one to finish.`,
      );
    }
    const waiting = lane.line.size;
    const startsNow =
      waiting === 0 &&
      lane.running.size < lane.maxConcurrent &&
      (lane.runningBy.get(opts.user) ?? 0) < lane.perUserSlots;
    // highWater 0 still admits a job that gets a free slot at once.
    if (waiting >= highWater && !startsNow) {
      return new UserError('busy', `iris is busy — ${waiting} jobs ahead. Try again in a minute.`);
    }
    if (opts.metered === false) return undefined;
    const windows = quotaWindows(this.#config, opts.user, opts.channel);
    const full = windows.length > 0 ? this.#quotas.take(windows, this.#now()) : undefined;
    return full && quotaRefusal(full);
  }

  /**
   * After a job finishes: fills the freed slots once the jobs finishing in the same turn of the event loop
   * have all finished, so a burst of them moves the line once (one position message per waiting job,
   * not one per finished job).
   */
  #refillSoon(lane: Lane): void {
    if (lane.refill) return;
    lane.refill = setImmediate(() => {
      lane.refill = undefined;
      this.#fill(lane);
      this.#tellPositions(lane);
    });
  }

  /** Starts waiting jobs while the queue has free slots and someone in line may use one. */
  #fill(lane: Lane): void {
    while (lane.running.size < lane.maxConcurrent) {
      const next = lane.line.take((e) => (lane.runningBy.get(e.user) ?? 0) < lane.perUserSlots);
      if (!next) return;
      this.#moved(lane, next.index);
      const job = next.entry.value;
      job.entry = undefined;
      job.stage = 'running';
      lane.running.add(job);
      lane.runningBy.set(job.user, (lane.runningBy.get(job.user) ?? 0) + 1);
      void this.#run(job);
    }
  }

  async #run(job: Job): Promise<void> {
    const { lane } = job;
    const timer = setTimeout(
      () =>
        this.#abort(
          job,
          new UserError('timeout', `That took longer than ${job.timeoutSeconds} s and was stopped.`),
        ),
      Math.min(job.timeoutSeconds * 1000, MAX_TIMER_MS),
    );
    try {
      // fn starts on the next microtask: a fn that throws at once must not re-enter #fill.
      await null;
      const value = await job.fn(job.controller.signal);
      if (this.#settle(job)) {
        this.#totals.done++;
        job.resolve(value);
      }
    } catch (err) {
      if (this.#settle(job)) {
        this.#totals.failed++;
        job.reject(err);
      }
    } finally {
      // The slot is held until fn settles, even after a cancel or timeout: a GPU job that ignores its
      // signal is still using the GPU, and starting the next one beside it would break maxConcurrent.
      clearTimeout(timer);
      job.stage = 'finished';
      lane.running.delete(job);
      const mine = (lane.runningBy.get(job.user) ?? 1) - 1;
      if (mine > 0) lane.runningBy.set(job.user, mine);
      else lane.runningBy.delete(job.user);
      this.#forget(job);
      this.#refillSoon(lane);
      this.#onJobFinished?.();
    }
  }

  /** Cancel or timeout: the caller is answered at once; a running fn is asked to stop through its signal. */
  #abort(job: Job, reason: UserError): void {
    if (!this.#settle(job)) return;
    if (reason.code === 'timeout') this.#totals.timedOut++;
    else this.#totals.cancelled++;
    if (job.stage === 'running') {
      job.controller.abort(reason);
    } else if (job.entry) {
      const index = job.lane.line.remove(job.entry);
      job.entry = undefined;
      job.stage = 'finished';
      this.#forget(job);
      if (index !== undefined) this.#moved(job.lane, index);
    }
    job.reject(reason);
    this.#tellPositions(job.lane);
  }

  /** Marks the caller answered; false if it already was. */
  #settle(job: Job): boolean {
    if (job.settled) return false;
    job.settled = true;
    job.detach();
    const live = (this.#live.get(job.user) ?? 1) - 1;
    if (live > 0) this.#live.set(job.user, live);
    else this.#live.delete(job.user);
    return true;
  }

  #forget(job: Job): void {
    if (job.id !== undefined && this.#byId.get(job.id) === job) this.#byId.delete(job.id);
  }

  #moved(lane: Lane, index: number): void {
    lane.dirtyFrom = Math.min(lane.dirtyFrom, index);
  }

  /** Tells every waiting job from the first place that moved on its new place (1 = next). */
  #tellPositions(lane: Lane): void {
    const from = lane.dirtyFrom;
    if (from === Number.POSITIVE_INFINITY) return;
    lane.dirtyFrom = Number.POSITIVE_INFINITY;
    const jobs: Job[] = [];
    const positions: number[] = [];
    lane.line.forEachFrom(from, ({ value: job }, position) => {
      if (job.position === position) return;
      job.position = position;
      if (!job.onPosition) return;
      jobs.push(job);
      positions.push(position);
    });
    // Callbacks last: one may cancel a job or schedule another, which tells positions again.
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i] as Job;
      const position = positions[i] as number;
      if (job.stage !== 'waiting' || job.settled || job.position !== position || this.#closing) continue;
      try {
        job.onPosition?.(position);
      } catch {
        // A failed progress message must not break the queue.
      }
    }
  }
}

function cancelled(): UserError {
  return new UserError('cancelled', 'Cancelled.');
}
