/**
 * Where the dispatch funnel sends a queued command. Two implementations, one contract:
 * - the in-process Scheduler (src/core/scheduler.ts, the embedded default) runs `run` in a slot here;
 * - the Redis job queue (src/core/redis/job-queue.ts, queue.kind: redis) ships the command's name and
 *   parsed input to an `iris worker`, which runs the same command there.
 * Both check, in this order: shutting down → per-user cap → high water → quotas (the operator is exempt
 * from quotas), and answer every submission exactly once.
 */
import type { AnyCommand } from '../contracts/command.js';
import type { BotRequest, Progress, Reply } from '../contracts/request.js';

type MaybePromise<T> = T | Promise<T>;

export interface Submission {
  command: AnyCommand;
  /** The scheduler queue class (`queueFor(config)` or `queue`): gpu, remote, … */
  queue: string;
  /** What command.parse returned (images already fetched and validated). */
  input: unknown;
  request: BotRequest;
  /** Runs the command in this process (what the in-process executor calls inside a slot). */
  run(signal: AbortSignal): Promise<Reply>;
  /** Queue position, ETA and worker progress for the user (best effort; never throws). */
  progress(p: Progress): void;
}

export interface QueueStats {
  /** Jobs whose work is executing, including cancelled ones that have not stopped yet (they hold their slot). */
  running: number;
  queued: number;
  maxConcurrent: number;
}

export interface ExecutorStats {
  queues: Record<string, QueueStats>;
  /** Worker processes connected now (Redis queue only). */
  workers?: number;
  /** Counted in this process since it started. */
  done: number;
  failed: number;
  timedOut: number;
  /** Aborted by the caller or by drain. */
  cancelled: number;
  /** Refused before queueing: busy, too many jobs, quota, shutting down. */
  refused: number;
}

export interface Executor {
  /** Resolves with the reply, or rejects with the UserError/BackendError the user should see. */
  submit(job: Submission): Promise<Reply>;
  /** Place in line of a waiting request (1 = next); undefined when it is not waiting. */
  position(requestId: string): MaybePromise<number | undefined>;
  /** Cancels a request: a waiting one is removed, a running one aborted; its caller gets 'cancelled'. */
  cancel(requestId: string): MaybePromise<boolean>;
  stats(): MaybePromise<ExecutorStats>;
  /**
   * Refuses new jobs, answers the waiting ones, gives running ones `graceMs`, then answers those too.
   * Resolves once every caller has its answer.
   */
  drain(options: { graceMs: number }): Promise<void>;
}

/** Who a request is for the executors' fairness, caps and quotas. */
export function submitter(request: BotRequest): { user: string; channel: string; metered: boolean } {
  return {
    user: `${request.platform}:${request.user.id}`,
    channel: request.conversation,
    // The operator (the playground's user, the CLI) runs their own iris: quotas are for others.
    metered: !request.user.isOperator,
  };
}
