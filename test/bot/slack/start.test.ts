import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { COLOURS, solidPng } from '../../fakes/images.js';
import { SECRETS } from '../../fakes/secrets.js';
import { FakeSlack } from '../../fakes/slack/server.js';
import { postSigned, slashCommandBody } from '../../fakes/slack/sign.js';

const SECRET = SECRETS.slackStartSigningSecret;
let fake: FakeSlack;
let child: ChildProcess;
let stderr = '';
let port = 0;
let dataDir = '';

/**
 * The whole bot as users run it: `iris start --demo` in a child process, configured only through the
 * environment, against the fake Slack. The demo's colour-world CLIP model makes /tags answer for real.
 */
before(async () => {
  fake = await new FakeSlack().start();
  dataDir = await mkdtemp(join(tmpdir(), 'iris-slack-start-'));
  // Keeps whatever iris writes (settings) out of the working tree.
  await writeFile(join(dataDir, 'iris.yaml'), `memory:\n  path: ${join(dataDir, 'iris.sqlite')}\n`);
  child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'start', '--demo'], {
    env: {
      ...process.env,
      SLACK_BOT_TOKEN: fake.tokens.bot,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: fake.apiUrl,
      SLACK_PORT: '0',
      IRIS_ALLOW_HOSTS: `127.0.0.1:${fake.port}`,
      IRIS_LOG_LEVEL: 'warn',
      IRIS_CONFIG: join(dataDir, 'iris.yaml'),
      DISCORD_TOKEN: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`iris start did not report the Slack port:\n${stderr}`)),
      60_000,
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += String(chunk);
      const m = /slack: HTTP receiver on port (\d+)/.exec(stderr);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`iris start exited with ${code}:\n${stderr}`));
    });
  });
});

after(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  await fake.stop();
  await rm(dataDir, { recursive: true, force: true });
});

test("iris start runs the Slack adapter from env alone: /tags on the channel's latest image is answered by CLIP", async () => {
  assert.match(stderr, /slack\s+starting/);
  const file = fake.addFile({ name: 'red.png', bytes: await solidPng(COLOURS.red), mimetype: 'image/png' });
  fake.addMessage({ channel: 'CGEN', user: 'UALICE', text: '', files: [file] });
  const body = slashCommandBody({
    command: '/tags',
    text: 'labels:red,green,blue',
    user_id: 'UALICE',
    channel_id: 'CGEN',
  });
  const res = await postSigned(`http://127.0.0.1:${port}/slack/events`, body, {
    secret: SECRET,
    contentType: 'application/x-www-form-urlencoded',
  });
  assert.equal(res.status, 200);
  const answer = await fake.waitForMessage((m) => /Tags: /.test(m.text ?? ''), 30_000);
  assert.match(
    answer.text ?? '',
    /^_Using the latest image: `red\.png` posted by <@UALICE>\._\nTags: red \d+%/,
  );
  assert.deepEqual(fake.downloads, [{ fileId: file.id, authorized: true }]);
});

test('a forged request to the running bot gets 401', async () => {
  const body = slashCommandBody({ command: '/tags', text: 'forged', user_id: 'UALICE', channel_id: 'CGEN' });
  const res = await postSigned(`http://127.0.0.1:${port}/slack/events`, body, {
    secret: 'wrong',
    contentType: 'application/x-www-form-urlencoded',
  });
  assert.equal(res.status, 401);
});

test('SIGTERM stops it cleanly', async () => {
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
});
