/**
 * The one gate in front of every model backend.
 *
 * Each queue class ('gpu', 'remote', …) is a bottleneck limiter with `maxConcurrent` slots, ordered by
 * priority then arrival. In front of it, every user gets a small limiter of their own (`perUserSlots`,
 * default 1) whose jobs are passed on to the shared one, as bottleneck's `chain()` does: a user has at most
 * that many jobs in the shared line, and their next one joins the back of the line when one finishes. So a
 * user who floods the queue takes turns with everybody else instead of pushing them behind the flood.
 *
 * Caps and quotas are checked before anything is queued, so a refused job costs nothing.
 */
import Bottleneck from 'bottleneck';
import type { Priority } from '../contracts/command.js';
import { listChoices, shuttingDown, UserError } from '../errors.js';
import { type QuotaConfig, Quotas } from './quota.js';

export interface QueueConfig {
  maxConcurrent: number;
  /** Jobs one user may have in this queue's shared line (waiting or running) at once. Default 1. */
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
}

export interface QueueStats {
  /** Jobs whose fn is executing, including cancelled ones that have not stopped yet (they hold their slot). */
  running: number;
  queued: number;
  maxConcurrent: number;
}

export interface SchedulerStats {
  queues: Record<string, QueueStats>;
  /** fn resolved. */
  done: number;
  /** fn threw. */
  failed: number;
  timedOut: number;
  /** Aborted by the caller or by stop(). */
  cancelled: number;
  /** Refused before queueing: busy, too many jobs, quota, shutting down. */
  refused: number;
}

/** setTimeout fires at once for longer delays. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** bottleneck priorities run 0 (first) to 9. */
const PRIORITIES: Record<Priority, number> = { interactive: 2, normal: 5, batch: 8 };

interface Lane {
  name: string;
  maxConcurrent: number;
  perUserSlots: number;
  shared: Bottleneck;
  users: Map<string, Bottleneck>;
  /** Every job still inside bottleneck, including settled ones passing through. */
  jobs: Set<Job>;
}

interface Job {
  seq: number;
  lane: Lane;
  user: string;
  priority: number;
  timeoutSeconds: number;
  fn: (signal: AbortSignal) => Promise<unknown>;
  onPosition?: (position: number) => void;
  controller: AbortController;
  /** gated: waiting in its user's limiter; shared: in the queue's line; then running, finished. */
  stage: 'gated' | 'shared' | 'running' | 'finished';
  enteredLine: number;
  started: number;
  /**
   * The caller has its answer (result, error, cancel, timeout). bottleneck cannot remove one queued job,
   * so a job settled while waiting stays there and passes through as a no-op when its turn comes.
   */
  settled: boolean;
  position: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  detach: () => void;
}

export class Scheduler {
  readonly #config: SchedulerConfig;
  readonly #now: () => number;
  readonly #lanes = new Map<string, Lane>();
  readonly #quotas: Quotas;
  /** Jobs per user whose caller is still waiting, across queues. */
  readonly #live = new Map<string, number>();
  readonly #totals = { done: 0, failed: 0, timedOut: 0, cancelled: 0, refused: 0 };
  #tick = 0;
  #stopping?: Promise<void>;
  #onJobFinished?: () => void;

  constructor(config: SchedulerConfig, deps: { now?: () => number } = {}) {
    this.#config = config;
    this.#now = deps.now ?? Date.now;
    this.#quotas = new Quotas(config.perUser, config.perChannel);
    for (const [name, q] of Object.entries(config.queues)) {
      this.#lanes.set(name, {
        name,
        maxConcurrent: q.maxConcurrent,
        perUserSlots: Math.max(1, q.perUserSlots ?? 1),
        shared: new Bottleneck({ maxConcurrent: q.maxConcurrent, id: `iris-${name}` }),
        users: new Map(),
        jobs: new Set(),
      });
    }
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
    if (opts.metered !== false) this.#quotas.record(opts.user, opts.channel, this.#now());
    this.#live.set(opts.user, (this.#live.get(opts.user) ?? 0) + 1);

    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        seq: ++this.#tick,
        lane,
        user: opts.user,
        priority: PRIORITIES[opts.priority ?? 'normal'],
        timeoutSeconds: opts.timeoutSeconds ?? this.#config.jobTimeoutSeconds,
        fn,
        onPosition: opts.onPosition,
        controller: new AbortController(),
        stage: 'gated',
        enteredLine: 0,
        started: 0,
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
      lane.jobs.add(job);
      this.#enqueue(job);
      this.#refreshPositions(lane);
    });
  }

  stats(): SchedulerStats {
    const queues: Record<string, QueueStats> = {};
    for (const lane of this.#lanes.values()) {
      const jobs = [...lane.jobs];
      queues[lane.name] = {
        running: jobs.filter((j) => j.stage === 'running').length,
        queued: jobs.filter(isWaiting).length,
        maxConcurrent: lane.maxConcurrent,
      };
    }
    return { queues, ...this.#totals };
  }

  /**
   * Stops accepting jobs, cancels the queued ones, and waits up to `graceMs` for running ones. Past the
   * deadline their signals are aborted and their callers get 'cancelled'; stop() does not wait further.
   */
  stop(options: { graceMs?: number } = {}): Promise<void> {
    this.#stopping ??= this.#shutdown(options.graceMs ?? 10_000);
    return this.#stopping;
  }

  async #shutdown(graceMs: number): Promise<void> {
    const all = () => [...this.#lanes.values()].flatMap((lane) => [...lane.jobs]);
    for (const job of all()) if (isWaiting(job)) this.#abort(job, shuttingDown('waiting'));
    const busy = () => all().some((j) => j.stage === 'running');
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
    for (const job of all()) if (job.stage === 'running') this.#abort(job, shuttingDown('running'));
  }

  #refusal(lane: Lane, opts: JobOptions): UserError | undefined {
    const { perUserConcurrent, highWater } = this.#config;
    if (this.#stopping) return shuttingDown('new');
    const live = this.#live.get(opts.user) ?? 0;
    if (live >= perUserConcurrent) {
      return new UserError(
        'too_many_jobs',
        `You already have ${live} jobs running or queued — wait for one to finish.`,
      );
    }
    // Waiting = will have to wait for a slot; a job bottleneck is about to start is not waiting.
    const waiting = predictPositions(lane).size;
    const inSlots = [...lane.jobs].filter((j) => j.stage === 'running' || isWaiting(j)).length - waiting;
    // highWater 0 still admits a job that gets a free slot at once.
    if (waiting >= highWater && (waiting > 0 || inSlots >= lane.maxConcurrent)) {
      return new UserError('busy', `iris is busy — ${waiting} jobs ahead. Try again in a minute.`);
    }
    return opts.metered === false ? undefined : this.#quotas.check(opts.user, opts.channel, this.#now());
  }

  /** user limiter → shared limiter → #run. Neither promise rejects: #run reports to the caller itself. */
  #enqueue(job: Job): void {
    const { lane, user } = job;
    const gate =
      lane.users.get(user) ??
      new Bottleneck({ maxConcurrent: lane.perUserSlots, id: `iris-${lane.name}-${user}` });
    lane.users.set(user, gate);
    const options = { priority: job.priority, id: `${lane.name}-${job.seq}` };
    gate
      .schedule(options, () => {
        if (job.settled) {
          lane.jobs.delete(job); // cancelled while waiting for its user's turn
          return Promise.resolve();
        }
        job.stage = 'shared';
        job.enteredLine = ++this.#tick;
        this.#refreshPositions(lane);
        return lane.shared.schedule(options, () => this.#run(job));
      })
      .catch(() => {})
      .finally(() => {
        // Idle user limiters are dropped (no timers to clear: they have no reservoir).
        if (lane.users.get(user) === gate && ![...lane.jobs].some((j) => j.user === user))
          lane.users.delete(user);
      });
  }

  async #run(job: Job): Promise<void> {
    const { lane } = job;
    if (job.settled) {
      lane.jobs.delete(job); // cancelled while in line: give the slot straight back
      this.#refreshPositions(lane);
      return;
    }
    job.stage = 'running';
    job.started = ++this.#tick;
    this.#refreshPositions(lane);
    const timer = setTimeout(
      () =>
        this.#abort(
          job,
          new UserError('timeout', `That took longer than ${job.timeoutSeconds} s and was stopped.`),
        ),
      Math.min(job.timeoutSeconds * 1000, MAX_TIMER_MS),
    );
    try {
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
      lane.jobs.delete(job);
      this.#refreshPositions(lane);
      this.#onJobFinished?.();
    }
  }

  /** Cancel or timeout: the caller is answered at once; a running fn is asked to stop through its signal. */
  #abort(job: Job, reason: UserError): void {
    if (!this.#settle(job)) return;
    if (reason.code === 'timeout') this.#totals.timedOut++;
    else this.#totals.cancelled++;
    if (job.stage === 'running') job.controller.abort(reason);
    job.reject(reason);
    this.#refreshPositions(job.lane);
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

  #refreshPositions(lane: Lane): void {
    const predicted = predictPositions(lane);
    const changed: Job[] = [];
    for (const job of lane.jobs) {
      const position = predicted.get(job) ?? 0;
      if (isWaiting(job) && position > 0 && position !== job.position) {
        job.position = position;
        changed.push(job);
      }
    }
    // Callbacks last: one may cancel a job or schedule another, which refreshes again.
    for (const job of changed) {
      if (!isWaiting(job)) continue;
      try {
        job.onPosition?.(job.position);
      } catch {
        // A failed progress message must not break the queue.
      }
    }
  }
}

function isWaiting(job: Job): boolean {
  return !job.settled && (job.stage === 'gated' || job.stage === 'shared');
}

function cancelled(): UserError {
  return new UserError('cancelled', 'Cancelled.');
}

/**
 * Each waiting job's place in line (1 = next), found by replaying what the two bottleneck levels will do
 * if nothing new arrives and running jobs finish oldest first: the line runs by priority then arrival; a
 * freed slot goes to the head of the line, then the finished job's user may send their next job to the back.
 * Jobs that will start without waiting get no position.
 */
function predictPositions(lane: Lane): Map<Job, number> {
  const jobs = [...lane.jobs].sort((a, b) => a.seq - b.seq);
  const running = jobs.filter((j) => j.stage === 'running').sort((a, b) => a.started - b.started);
  const line = jobs.filter((j) => j.stage === 'shared').sort((a, b) => a.enteredLine - b.enteredLine);
  line.sort((a, b) => a.priority - b.priority); // stable: arrival order within a priority
  const gated = new Map<string, Job[]>();
  for (const job of jobs)
    if (job.stage === 'gated' && !job.settled) gated.set(job.user, [...(gated.get(job.user) ?? []), job]);
  for (const queue of gated.values()) queue.sort((a, b) => a.priority - b.priority);
  const inLine = new Map<string, number>();
  for (const job of [...running, ...line]) inLine.set(job.user, (inLine.get(job.user) ?? 0) + 1);

  const join = (user: string) => {
    const queue = gated.get(user);
    while (queue?.length && (inLine.get(user) ?? 0) < lane.perUserSlots) {
      const next = queue.shift() as Job;
      const at = line.findIndex((j) => j.priority > next.priority);
      line.splice(at === -1 ? line.length : at, 0, next);
      inLine.set(user, (inLine.get(user) ?? 0) + 1);
    }
  };
  const leave = (user: string) => {
    inLine.set(user, (inLine.get(user) ?? 1) - 1);
    join(user);
  };

  const positions = new Map<Job, number>();
  let free = lane.maxConcurrent - running.length;
  let waited = false;
  let ahead = 0;
  const start = (job: Job) => {
    if (job.settled) return leave(job.user); // a cancelled job passes through without using the slot
    free--;
    running.push(job);
    if (waited) positions.set(job, ++ahead);
  };
  for (const user of gated.keys()) join(user);
  for (;;) {
    while (free > 0 && line.length > 0) start(line.shift() as Job);
    const finished = running.shift();
    if (!finished) break;
    waited = true;
    free++;
    const next = line.shift();
    if (next) start(next);
    leave(finished.user);
  }
  return positions;
}
