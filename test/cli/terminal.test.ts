/**
 * What a person at a terminal sees: results on stdout, exactly one `error: …` line on a user error, log
 * lines only in $IRIS_LOG_DIR (or on stderr with --verbose), readable log lines from `iris start` on a
 * terminal and JSON elsewhere, and /imagine progress counted in the steps asked for.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { createLogger, logFormat } from '../../src/core/log.js';
import { synthAll } from '../../src/demo/colourworld/index.js';
import { pageToken, postMessage } from '../bot/playground/harness.js';
import { runIris } from '../fakes/cli.js';
import { solidPng } from '../fakes/images.js';
import { localEnv, startIris } from './start-harness.js';

const SCRIPT = '/usr/bin/script';

let dir = '';
let models = '';
let red = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iris-terminal-'));
  models = join(dir, 'models');
  await synthAll(models);
  red = join(dir, 'red.png');
  await writeFile(red, await solidPng('#ff0000', 32));
});
after(() => rm(dir, { recursive: true, force: true }));

/** The environment without the test runner's log folder, so nothing but the CLI decides where logs go. */
function envWithout(...names: string[]): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of names) delete env[name];
  return env;
}

test('a user error prints exactly one `error: …` line at the default log level (a missing file, a missing model)', async () => {
  const env = envWithout('IRIS_LOG_DIR');
  const missingFile = await runIris(['tag', join(dir, 'missing.png')], { logLevel: 'info', env });
  assert.equal(missingFile.code, 2);
  assert.equal(missingFile.stdout, '');
  assert.deepEqual(missingFile.stderr.trim().split('\n').length, 1, missingFile.stderr);
  assert.match(missingFile.stderr, /^error: .*missing\.png: no such file/);

  // The dispatcher logs the refused request; that line used to reach stderr before the error.
  const missingModel = await runIris(['tag', red, '--models', join(dir, 'empty')], { logLevel: 'info', env });
  assert.equal(missingModel.code, 2);
  const lines = missingModel.stderr.trim().split('\n');
  assert.equal(lines.length, 1, missingModel.stderr);
  assert.match(lines[0] ?? '', /^error: model Xenova\/clip-vit-base-patch32 is not in /);
});

test('log lines go to $IRIS_LOG_DIR, and to stderr as well with --verbose', async () => {
  const logDir = await mkdtemp(join(tmpdir(), 'iris-terminal-logs-'));
  try {
    const env = { ...process.env, IRIS_LOG_DIR: logDir };
    const quiet = await runIris(['tag', red, '--models', join(dir, 'empty')], { logLevel: 'info', env });
    assert.equal(quiet.stderr.trim().split('\n').length, 1, quiet.stderr);
    const logged = readdirSync(logDir).map((f) => readFileSync(join(logDir, f), 'utf8'));
    assert.match(logged.join(''), /"msg":"model missing"/);

    const verbose = await runIris(['--verbose', 'tag', red, '--models', join(dir, 'empty')], {
      logLevel: 'info',
      env,
    });
    assert.equal(verbose.code, 2);
    const [log, error, ...rest] = verbose.stderr.trim().split('\n');
    assert.equal(JSON.parse(log ?? '{}').msg, 'model missing', 'not a terminal: JSON');
    assert.match(error ?? '', /^error: model /);
    assert.deepEqual(rest, []);
  } finally {
    await rm(logDir, { recursive: true, force: true });
  }
});

test('log format: readable lines for a terminal, JSON otherwise; secrets are scrubbed either way', () => {
  assert.equal(logFormat({ isTTY: true }), 'pretty');
  assert.equal(logFormat({ isTTY: false }), 'json');
  assert.equal(logFormat({}), 'json');
  const secret = 'iris-terminal-test-secret-value';
  for (const pretty of [true, false]) {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (c) => {
      text += String(c);
    });
    const log = createLogger({ level: 'info', secrets: [secret], destination: stream, pretty, logDir: '' });
    log.info({ platform: 'discord' }, `connected with ${secret}`);
    assert.ok(!text.includes(secret), text);
    if (pretty)
      assert.match(text, /^\[\d\d:\d\d:\d\d\] INFO: connected with \[redacted\] \{"platform":"discord"\}\n$/);
    else assert.equal(JSON.parse(text).msg, 'connected with [redacted]');
  }
  // destination false: nothing anywhere (no log dir either)
  const nowhere = createLogger({ level: 'info', destination: false, logDir: '' });
  assert.equal(nowhere.isLevelEnabled('info'), false);
});

/** Polls `read` until it matches (the children here end only when told to). */
async function until(read: () => string, pattern: RegExp): Promise<string> {
  for (let i = 0; i < 1200 && !pattern.test(read()); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(read(), pattern);
  return read();
}

/** Runs `iris start --demo`, sends a request that logs, and returns its output from "iris is ready" on. */
async function startLogs(onTerminal: boolean): Promise<string> {
  const { env, cleanup } = await localEnv();
  const runEnv = { ...env, IRIS_LOG_LEVEL: 'info' };
  const cli = `${process.execPath} --import tsx src/cli/index.ts start --demo`;
  // `script` runs the child on a terminal (stdout and stderr both go to it); detached: its group is stopped.
  const child = onTerminal
    ? spawn(SCRIPT, ['-qec', cli, '/dev/null'], { env: runEnv, stdio: 'pipe', detached: true })
    : startIris(['--demo'], runEnv);
  let text = '';
  const keep = (c: Buffer) => {
    text += String(c);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  try {
    const block = await until(() => text, /iris is ready/);
    const url = /playground: open (http:\S+) in a browser/.exec(block)?.[1] as string;
    await postMessage(url, await pageToken(url), { text: '/nosuchcommand' });
    const all = await until(() => text, /request refused/);
    return all.slice(all.indexOf('iris is ready'));
  } finally {
    if (onTerminal) process.kill(-(child.pid as number), 'SIGTERM');
    else child.kill('SIGTERM');
    await once(child, 'exit');
    await cleanup();
  }
}

test('iris start logs JSON lines when stderr is not a terminal, readable lines on a terminal', async (t) => {
  const piped = await startLogs(false);
  const jsonLine = piped.split('\n').find((l) => l.includes('request refused'));
  assert.equal(JSON.parse(jsonLine ?? '{}').command, 'nosuchcommand', piped);

  if (!existsSync(SCRIPT)) {
    t.diagnostic(`${SCRIPT} (util-linux) is missing: the terminal half did not run`);
    return;
  }
  const terminal = await startLogs(true);
  assert.match(terminal, /\[\d\d:\d\d:\d\d\] INFO: request refused \{.*"command":"nosuchcommand"/, terminal);
  assert.doesNotMatch(terminal, /"level":30/);
});

test('/imagine progress counts the steps asked for, once each: the console channel and `iris imagine` on a terminal', async (t) => {
  const { env, cleanup } = await localEnv();
  const config = join(dir, 'console.yaml');
  await writeFile(config, 'memory:\n  store: memory\nplatforms:\n  playground:\n    enabled: false\n');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/index.ts', 'start', '--models', models],
    {
      env: { ...env, IRIS_CONFIG: config },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  child.stdout.on('data', (c) => {
    stdout += String(c);
  });
  child.stdin.end('/imagine prompt:"a red square" model:v1-5 steps:3 size:128x128 scheduler:pndm\n');
  const [code] = await once(child, 'exit');
  await cleanup();
  assert.equal(code, 0);
  assert.deepEqual(
    stdout.split('\n').filter((l) => l.startsWith('… step')),
    ['… step 1/3', '… step 2/3', '… step 3/3'],
    stdout,
  );

  if (!existsSync(SCRIPT)) {
    t.diagnostic(`${SCRIPT} (util-linux) is missing: the progress bar half did not run`);
    return;
  }
  const out = join(dir, 'bar.png');
  const cli = [
    `${process.execPath} --import tsx src/cli/index.ts imagine "a red square" --model v1-5 --steps 4`,
    `--scheduler pndm --size 128x128 --out ${out} --models ${models}`,
  ].join(' ');
  const bar = spawn(SCRIPT, ['-qec', cli, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let shown = '';
  bar.stdout.on('data', (c) => {
    shown += String(c);
  });
  const [barCode] = await once(bar, 'exit');
  assert.equal(barCode, 0, shown);
  assert.match(shown, /4\/4 steps/);
  assert.doesNotMatch(shown, /5\/5 steps|\/5 steps/);
});
