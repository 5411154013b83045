import { type Config, loadConfig } from '../config.js';

/** Thrown by an action to end `iris` with this exit code (0 ok, 2 user error, 1 internal error). */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export const out = (line: string) => process.stdout.write(`${line}\n`);
export const err = (line: string) => process.stderr.write(`${line}\n`);

/** `iris`'s own flags (before or after the subcommand) and the shared `--models`. */
export interface ModelFlags {
  config?: string;
  models?: string;
  verbose?: boolean;
}

export function configFrom(flags: ModelFlags, overrides: Record<string, unknown> = {}): Config {
  return loadConfig({ file: flags.config, overrides: { 'models.dir': flags.models, ...overrides } });
}

/** Exit with `code` unless it is 0. */
export function exitWith(code: number): void {
  if (code !== 0) throw new ExitCode(code);
}
