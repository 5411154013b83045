/**
 * `npm test`: runs every test file with node:test, then scans everything the run logged for the secrets
 * the tests use (test/fakes/secrets.ts). Every iris logger writes a copy of its lines into
 * $IRIS_LOG_DIR (src/core/log.ts), child processes inherit the variable, and the runner's own copy of
 * the test output goes there too; a secret anywhere fails the run with the file and line.
 *
 * `npm test -- test/a.test.ts test/b.test.ts` runs only those files (still scanned).
 * The log folder is removed after a clean scan and kept (its path printed) when a secret was found.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secretList } from './fakes/secrets.js';
import { scanDir } from './secret-scan.js';

function testFiles(args: string[]): string[] {
  if (args.length > 0) return args;
  return (readdirSync('test', { recursive: true }) as string[])
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => join('test', f))
    .sort();
}

/** The environment of the test run; NODE_TEST_CONTEXT is dropped so a run started from a test still runs. */
function childEnv(logDir: string): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return { ...env, IRIS_LOG_DIR: logDir };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const files = testFiles(args);
  const logDir = mkdtempSync(join(tmpdir(), 'iris-test-logs-'));
  const output = createWriteStream(join(logDir, 'test-output.log'));
  const reporter = process.stdout.isTTY ? ['--test-reporter=spec'] : [];
  const child = spawn(
    process.execPath,
    // A test that never settles fails after 10 minutes instead of holding the run (and CI) forever.
    ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=600000', ...reporter, ...files],
    { env: childEnv(logDir), stdio: ['inherit', 'pipe', 'pipe'] },
  );
  child.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    output.write(chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    output.write(chunk);
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  const code = await new Promise<number>((resolve) =>
    child.on('close', (c, signal) => resolve(c ?? (signal ? 1 : 0))),
  );
  await new Promise<void>((resolve) => output.end(resolve));

  const scan = scanDir(logDir, secretList());
  const logs = scan.files - 1;
  if (scan.findings.length > 0) {
    console.error(`\nsecret scan: FAILED — ${scan.findings.length} secret(s) in the logs of this run:`);
    for (const f of scan.findings) console.error(`  ${f.file}:${f.line}  ${f.secret}  …${f.excerpt}…`);
    console.error(`(logs kept in ${logDir})`);
    return 1;
  }
  if (logs < 1 && args.length === 0) {
    // No iris logger wrote anything: the scan would have covered nothing, which is a failure of its own.
    console.error(`\nsecret scan: FAILED — no log files in ${logDir}; is IRIS_LOG_DIR reaching the loggers?`);
    return 1;
  }
  console.log(
    `\nsecret scan: ${scan.lines} lines in ${logs} log file(s) and the test output, no secret found.`,
  );
  rmSync(logDir, { recursive: true, force: true });
  return code;
}

process.exitCode = await main();
