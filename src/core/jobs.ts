/**
 * Where the dispatch funnel sends a queued command when iris is scaled out (queue.kind: redis): the parsed
 * input goes to a job queue and a worker process runs the command's `run`. Without one, the dispatcher
 * runs commands in its own process through the in-memory Scheduler (the embedded default).
 */
import type { AnyCommand } from '../contracts/command.js';
import type { BotRequest, Progress, Reply } from '../contracts/request.js';

export interface JobSubmission {
  command: AnyCommand;
  /** The scheduler queue the command would use here (`queueFor(config)` or `queue`): 'remote' → llm jobs. */
  queue?: string;
  /** What command.parse returned (images already fetched and validated). */
  input: unknown;
  request: BotRequest;
  /** Queue position, ETA and worker progress for the user (best effort; never throws). */
  progress(p: Progress): void;
}

export interface JobQueueStats {
  queues: Record<string, { running: number; queued: number; maxConcurrent: number }>;
  /** Worker processes connected now. */
  workers: number;
}

export interface JobQueue {
  /** Resolves with the reply, or rejects with the UserError/BackendError the user should see. */
  submit(job: JobSubmission): Promise<Reply>;
  stats(): Promise<JobQueueStats>;
  /** Stops accepting jobs; waiting callers get 'cancelled'. */
  close(): Promise<void>;
}
