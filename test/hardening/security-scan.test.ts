/**
 * Secrets never logged or echoed. The scan of the whole `npm test` run (test/run.ts) must be
 * able to fail: planted secrets in a log folder and in a real runner child are found, with file and line.
 * Also: the logger's IRIS_LOG_DIR copy, redaction by value and by shape, and error rendering.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { renderError } from '../../src/core/dispatch.js';
import { createLogger } from '../../src/core/log.js';
import { redactSecrets } from '../../src/core/redact.js';
import { UserError } from '../../src/errors.js';
import { SECRETS, secretList } from '../fakes/secrets.js';
import { scanDir, scanText } from '../secret-scan.js';

const run = promisify(execFile);

async function tempDir() {
  return mkdtemp(join(tmpdir(), 'iris-scan-test-'));
}

test('the scanner finds a planted secret with its line, and masks it in the report', () => {
  const text = ['{"msg":"ok"}', `{"msg":"auth","token":"${SECRETS.slackBotToken}"}`, 'done'].join('\n');
  const findings = scanText(text, secretList(), 'iris-1.log');
  assert.equal(findings.length, 1);
  assert.deepEqual(
    { file: findings[0]?.file, line: findings[0]?.line, secret: findings[0]?.secret },
    { file: 'iris-1.log', line: 2, secret: 'slackBotToken' },
  );
  assert.ok(!findings[0]?.excerpt.includes(SECRETS.slackBotToken), 'the report does not repeat the secret');
  assert.match(findings[0]?.excerpt ?? '', /<slackBotToken>/);
  assert.deepEqual(scanText('{"msg":"ok","token":"[redacted]"}', secretList()), []);
});

test('the scanner finds URL-encoded and base64 forms, in every file of a folder tree', async () => {
  const dir = await tempDir();
  try {
    await writeFile(join(dir, 'a.log'), `x\nGET /x?t=${encodeURIComponent(SECRETS.hfToken)}\n`);
    await mkdtemp(join(dir, 'sub-')).then((sub) =>
      writeFile(join(sub, 'b.log'), `auth ${Buffer.from(SECRETS.groqKey).toString('base64')}\n`),
    );
    await writeFile(join(dir, 'clean.log'), 'nothing here\n');
    const result = scanDir(dir, secretList());
    assert.equal(result.files, 3);
    assert.deepEqual(
      result.findings.map((f) => [f.file.replace(/^sub-\w+\//, 'sub/'), f.line, f.secret]).sort(),
      [
        ['a.log', 2, 'hfToken'],
        ['sub/b.log', 1, 'groqKey'],
      ],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('IRIS_LOG_DIR: every logger also writes to iris-<pid>.log there, even when its own output is silent', async () => {
  const dir = await tempDir();
  try {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _e, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const quiet = createLogger({ level: 'silent', logDir: dir, secrets: [SECRETS.discordToken] });
    const loud = createLogger({ level: 'warn', logDir: dir, destination: sink });
    quiet.debug({ token: SECRETS.discordToken, note: `token is ${SECRETS.discordToken}` }, 'quiet line');
    loud.info('info line');
    loud.warn({ url: `https://h.example/x?token=${SECRETS.hfToken}` }, 'warn line');
    const files = await readdir(dir);
    assert.deepEqual(files, [`iris-${process.pid}.log`]);
    const text = await readFile(join(dir, files[0] as string), 'utf8');
    assert.match(text, /quiet line/);
    assert.match(text, /info line/);
    assert.match(text, /warn line/);
    assert.equal(lines.length, 1, 'the logger’s own destination keeps its level');
    assert.match(lines[0] ?? '', /warn line/);
    assert.deepEqual(scanText(text, secretList()), [], 'scrubbed by key, by value and by shape');
    assert.match(text, /"token":"\[redacted\]"/);
    assert.match(text, /token=\[redacted\]/);

    // A secret the logger was not told about and that has no known shape does reach the file: the scan
    // is what catches it.
    createLogger({ level: 'silent', logDir: dir }).info(`leak ${SECRETS.slackSigningSecret}`);
    const leaked = scanDir(dir, secretList()).findings;
    assert.deepEqual(
      leaked.map((f) => [f.file, f.secret]),
      [[`iris-${process.pid}.log`, 'slackSigningSecret']],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('test/run.ts fails a run whose logs or output carry a secret, naming file and line', async () => {
  const result = await run(
    process.execPath,
    ['--import', 'tsx', 'test/run.ts', 'test/hardening/fixtures/leaky-run.ts'],
    { env: { ...process.env, IRIS_LOG_DIR: '' } },
  ).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  const kept = /\(logs kept in (.+)\)/.exec(result.stderr)?.[1];
  try {
    assert.equal(result.code, 1, `the run must fail:\n${result.stdout}\n${result.stderr}`);
    assert.match(result.stderr, /secret scan: FAILED — 2 secret\(s\)/);
    assert.match(result.stderr, /iris-\d+\.log:1 {2}discordToken/);
    assert.match(result.stderr, /test-output\.log:\d+ {2}slackSigningSecret/);
    for (const [, value] of secretList()) {
      assert.ok(!`${result.stdout}${result.stderr}`.includes(value), 'the report itself leaks nothing');
    }
    assert.ok(kept, 'the log folder is kept for inspection');
  } finally {
    if (kept) await rm(kept, { recursive: true, force: true });
  }
});

test('redaction by shape: keys echoed by APIs, tokens in URLs, bearer headers, URL credentials', () => {
  const cases: [string, string][] = [
    [
      `401 Incorrect API key provided: ${SECRETS.groqWrongKey}. You can find your API key at …`,
      '401 Incorrect API key provided: [redacted]. You can find your API key at …',
    ],
    [
      `GET https://huggingface.co/m/resolve/main/x.onnx?token=${SECRETS.hfToken}&download=1 failed`,
      'GET https://huggingface.co/m/resolve/main/x.onnx?token=[redacted]&download=1 failed',
    ],
    [`fetch ${SECRETS.hfWrongToken} refused`, 'fetch [redacted] refused'],
    [`Authorization: Bearer ${SECRETS.discordToken}`, 'Authorization: Bearer [redacted]'],
    [`Authorization: Bot ${SECRETS.discordToken}`, 'Authorization: Bot [redacted]'],
    [`redis://iris:${SECRETS.slackSigningSecret}@db:6379`, 'redis://[redacted]@db:6379'],
    [`slack ${SECRETS.slackBotToken} / ${SECRETS.slackAppToken}`, 'slack [redacted] / [redacted]'],
    [`doctor ${SECRETS.discordShapedToken}`, 'doctor [redacted]'],
    ['a plain sentence about tokens and keys', 'a plain sentence about tokens and keys'],
  ];
  for (const [input, expected] of cases) assert.equal(redactSecrets(input), expected);
  assert.equal(redactSecrets(`x ${SECRETS.signedUrlToken} y`, [SECRETS.signedUrlToken]), 'x [redacted] y');
});

test('error rendering never shows a key, even inside a UserError message', () => {
  const reply = renderError(
    new UserError('download_failed', `Could not download https://hf.example/a?token=${SECRETS.hfToken}.`),
    'ref1',
  );
  assert.equal(reply.text, 'Could not download https://hf.example/a?token=[redacted].');
  const internal = renderError(new Error(`boom ${SECRETS.groqKey}`), 'ref2');
  assert.equal(internal.text, 'Something went wrong (ref ref2).');
});
