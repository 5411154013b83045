import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { FakeDiscord } from '../../fakes/discord/server.js';
import { solidPng } from '../../fakes/images.js';
import { SECRETS } from '../../fakes/secrets.js';
import { alice, finalEdit } from './harness.js';

const TOKEN = SECRETS.discordStartToken;

/** Resolves with stderr so far once it matches. */
function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
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
  });
}

test('`iris start --demo` with DISCORD_TOKEN and DISCORD_API_URL connects to the fake and answers /tags', async () => {
  const fake = await new FakeDiscord().start();
  // Memory and settings go to a temporary SQLite file, not ./data of the checkout.
  const dir = await mkdtemp(join(tmpdir(), 'iris-start-'));
  const configFile = join(dir, 'local.yaml');
  await writeFile(configFile, `memory:\n  path: ${JSON.stringify(join(dir, 'iris.sqlite'))}\n`);
  const env = {
    ...process.env,
    DISCORD_TOKEN: TOKEN,
    DISCORD_API_URL: fake.apiUrl,
    IRIS_ALLOW_HOSTS: `127.0.0.1:${fake.port}`,
    IRIS_LOG_LEVEL: 'warn',
    IRIS_CONFIG: configFile,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'start', '--demo'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const started = await waitForOutput(child, /discord: connected as iris/);
    assert.match(started, /discord\s+starting/);
    assert.match(started, /commands registered/);
    assert.equal(fake.gateway.identifies[0]?.token, TOKEN, 'identified with the token from the environment');
    assert.ok(!started.includes(TOKEN), 'the token is never printed');

    const file = fake.addAttachment({ filename: 'red.png', data: await solidPng('#ff0000', 64) });
    const { token } = fake.interaction({
      kind: 'command',
      name: 'tags',
      user: alice,
      options: { image: file, labels: 'red, green, blue' },
    });
    const edit = await finalEdit(fake, token, (j) => /^Tags:/.test(j.content ?? ''));
    assert.match(edit.json.content, /^Tags: red \d+%/, 'the colour-world CLIP model tagged the image red');

    const invite = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'src/cli/index.ts', 'discord', 'invite'],
      {
        env,
      },
    );
    const url = new URL(invite.stdout.trim());
    assert.equal(
      url.searchParams.get('client_id'),
      fake.appId,
      'the application id came from GET /applications/@me',
    );
    assert.equal(url.searchParams.get('scope'), 'bot applications.commands');
    assert.ok(BigInt(url.searchParams.get('permissions') ?? '0') & (1n << 15n), 'Attach Files is asked for');
  } finally {
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    await fake.stop();
    assert.equal(code, 0, 'a signal stops iris cleanly');
  }
});
