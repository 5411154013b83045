/**
 * Two kinds of failure leave iris on purpose:
 * - UserError: the user can fix it (bad option, bad image, quota). Its message is shown verbatim in chat.
 * - BackendError: a model or remote API failed. `isRetryable` tells the caller whether trying again may help.
 * Anything else is an internal error: logged with a request id, shown as "something went wrong (ref …)".
 */

export const USER_ERROR_CODES = [
  'unknown_command',
  'bad_option',
  'bad_image',
  'image_too_large',
  'image_fetch_failed',
  'busy',
  'quota',
  'too_many_jobs',
  'cancelled',
  'timeout',
  'unknown_backend',
  'unknown_model',
  'model_missing',
  'not_available',
  /** A prompt with a blocklisted word, or an image the safety check withheld. */
  'blocked',
  'forbidden',
  'no_image',
  'not_configured',
  'remote_unavailable',
  'bad_answer',
  'download_failed',
  /** iris is stopping (SIGTERM): the request did not run, or was stopped; send it again later. */
  'shutting_down',
  /** A request over a configured resource budget (e.g. /imagine's memory estimate). */
  'too_large',
  /** A model folder exists but its files could not be loaded (corrupt or incompatible). */
  'model_load_failed',
] as const;
export type UserErrorCode = (typeof USER_ERROR_CODES)[number];

export class UserError extends Error {
  override name = 'UserError';
  readonly code: UserErrorCode;
  /**
   * A fuller text for the operator at their own terminal (the CLI), e.g. which folder was searched and
   * what it holds. Chat shows only `message`: server paths are not for channel members.
   */
  readonly detail?: string;
  constructor(code: UserErrorCode, message: string, options?: { cause?: unknown; detail?: string }) {
    super(message, options);
    this.code = code;
    if (options?.detail !== undefined) this.detail = options.detail;
  }
}

export class BackendError extends Error {
  override name = 'BackendError';
  readonly code: string;
  readonly isRetryable: boolean;
  constructor(code: string, message: string, options: { isRetryable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.code = code;
    this.isRetryable = options.isRetryable;
  }
}

/**
 * What a user hears when iris stops (SIGTERM, deploy): their request was refused, never started, or was
 * stopped before it finished; in every case nothing was kept, so sending it again is the fix.
 */
export function shuttingDown(stage: 'new' | 'waiting' | 'running'): UserError {
  const what = {
    new: 'iris is restarting — send that again in a minute.',
    waiting: 'iris is restarting and did not get to this — send it again in a minute.',
    running: 'iris is restarting and had to stop this before it finished — send it again in a minute.',
  }[stage];
  return new UserError('shutting_down', what);
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}

export function isBackendError(e: unknown): e is BackendError {
  return e instanceof BackendError;
}

/** "a, b or c" — for errors that list the valid choices. */
export function listChoices(choices: readonly string[]): string {
  if (choices.length <= 1) return choices.join('');
  return `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}`;
}
