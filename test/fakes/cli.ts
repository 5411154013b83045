import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'src/cli/index.ts'];

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `iris` CLI in a child process; never throws on a non-zero exit. */
export async function runIris(
  args: string[],
  options: { logLevel?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...CLI, ...args], {
      env: { ...(options.env ?? process.env), IRIS_LOG_LEVEL: options.logLevel ?? 'silent' },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as CliResult;
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
