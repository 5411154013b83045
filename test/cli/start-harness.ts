import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Environment for a child iris with no platform token, in-memory conversation memory, a free playground port. */
export async function localEnv(
  port = '0',
): Promise<{ env: NodeJS.ProcessEnv; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'iris-start-'));
  const config = join(dir, 'config.yaml');
  await writeFile(config, 'memory:\n  store: memory\n');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    IRIS_CONFIG: config,
    IRIS_PORT: port,
    IRIS_LOG_LEVEL: 'warn',
  };
  for (const name of ['DISCORD_TOKEN', 'SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_SIGNING_SECRET'])
    delete env[name];
  return { env, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function startIris(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'start', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Resolves with stderr so far once it matches; rejects when the child exits first. */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in:\n${text}`)), timeoutMs);
    child.stderr?.on('data', (chunk) => {
      text += String(chunk);
      if (pattern.test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`iris exited (${code}) before ${pattern}:\n${text}`));
    });
  });
}
