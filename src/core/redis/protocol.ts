/**
 * The contract between adapter processes (which parse requests and own the conversation with the user) and
 * worker processes (which run backends): what a BullMQ job carries, what it returns, how failures travel.
 */
import type { AnyCommand, Priority } from '../../contracts/command.js';
import { BackendError, isBackendError, isUserError, USER_ERROR_CODES, UserError } from '../../errors.js';
import type { TaskClass } from './connection.js';

export const JOB_NAME = 'run';
export const CANCEL_CHANNEL = 'cancel';

/** What a worker needs to run a command's `run` for one request: no images to fetch, no platform. */
export interface JobData {
  v: 1;
  command: string;
  /** The command's parsed input, encoded by codec.ts (images inline or by reference). */
  input: string;
  request: {
    id: string;
    platform: string;
    conversation: string;
    user: { id: string; name?: string; isAdmin?: boolean };
    args: Record<string, unknown>;
    /** The message the request's images came from: image memory stores it (/similar on a worker). */
    messageLink?: string;
  };
  timeoutSeconds: number;
}

/** A job's return value. Only retryable backend failures make the job fail (and be retried by BullMQ). */
export type JobOutcome =
  | { ok: true; reply: string /* encoded Reply */ }
  | { ok: false; user: { code: string; message: string } }
  | { ok: false; backend: { code: string; message: string } }
  | { ok: false; internal: string };

/** BullMQ priorities: lower runs first, 0 would mean "no priority" (a different list). */
export const BULL_PRIORITY: Record<Priority, number> = { interactive: 2, normal: 5, batch: 8 };

/**
 * The queue a command's jobs go to, so a slow diffusion backlog never delays a caption:
 * remote APIs → llm, /imagine → imagine, every other local model → vision.
 */
export function taskClassOf(command: Pick<AnyCommand, 'name' | 'queue'>): TaskClass {
  if (command.queue === 'remote') return 'llm';
  if (command.name === 'imagine') return 'imagine';
  return 'vision';
}

/** A failure as it crosses process boundaries. */
export function outcomeOfError(err: unknown): JobOutcome {
  if (isUserError(err)) return { ok: false, user: { code: err.code, message: err.message } };
  if (isBackendError(err)) return { ok: false, backend: { code: err.code, message: err.message } };
  return { ok: false, internal: String((err as Error)?.message ?? err) };
}

/** Rebuilds the error a failed outcome stands for, so the adapter renders it like a local one. */
export function errorOfOutcome(outcome: Exclude<JobOutcome, { ok: true }>): Error {
  if ('user' in outcome) {
    const code = (USER_ERROR_CODES as readonly string[]).includes(outcome.user.code)
      ? (outcome.user.code as UserError['code'])
      : 'not_available';
    return new UserError(code, outcome.user.message);
  }
  if ('backend' in outcome)
    return new BackendError(outcome.backend.code, outcome.backend.message, { isRetryable: false });
  return new Error(`worker: ${outcome.internal}`);
}

/** failedReason of a job whose retryable backend error outlived its attempts. */
export function retryableReason(err: BackendError): string {
  return `retryable:${err.code}:${err.message}`;
}

/** The error the user gets for a job that BullMQ failed for good. */
export function errorOfFailedReason(reason: string, attempts: number): Error {
  const retryable = /^retryable:([^:]*):(.*)$/s.exec(reason);
  if (retryable) {
    return new BackendError(retryable[1] || 'backend', retryable[2] ?? '', { isRetryable: true });
  }
  if (/stalled/i.test(reason)) {
    return new UserError(
      'not_available',
      `Your job was interrupted ${attempts > 1 ? `${attempts} times ` : ''}because the worker running it stopped, and was not finished — try again.`,
    );
  }
  return new Error(`job failed: ${reason}`);
}
