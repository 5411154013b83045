import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pageToken, postMessage } from '../bot/playground/harness.js';
import { solidPng } from '../fakes/images.js';
import { localEnv, startIris, waitForOutput } from './start-harness.js';

test('`iris start --demo` without tokens says what is missing and serves the playground, which answers /tags', async () => {
  const { env, cleanup } = await localEnv();
  const child = startIris(['--demo'], env);
  try {
    const block = await waitForOutput(child, /iris is ready/);
    assert.match(block, /discord\s+off \(set DISCORD_TOKEN/);
    assert.match(block, /no platform token is set/);
    assert.match(block, /tag\s+clip Xenova\/clip-vit-base-patch32: ready/);
    const url = /playground: open (http:\/\/127\.0\.0\.1:\d+\/) in a browser/.exec(block)?.[1];
    assert.ok(url, block);

    const sent = (await (
      await postMessage(url, await pageToken(url), {
        text: '/tags labels:red,green,blue',
        files: [{ name: 'red.png', bytes: await solidPng('#ff0000', 64) }],
      })
    ).json()) as { id: string };
    let answer: { text: string } | undefined;
    for (let i = 0; i < 300 && !answer; i++) {
      const messages = (await (await fetch(`${url}api/messages`)).json()) as {
        replyTo?: string;
        pending?: boolean;
        text: string;
      }[];
      answer = messages.find((m) => m.replyTo === sent.id && !m.pending);
      if (!answer) await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(answer?.text ?? '', /^Tags: red \d+%/, 'the colour-world CLIP model tagged the image red');
  } finally {
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    await cleanup();
    assert.equal(code, 0, 'a signal stops iris cleanly');
  }
});

test('`iris start` with no models and a busy port explains both and exits 2', async () => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as { port: number }).port;
  const { env, cleanup } = await localEnv(String(port));
  const models = await mkdtemp(join(tmpdir(), 'iris-empty-models-'));
  const child = startIris(['--models', models], env);
  let stderr = '';
  child.stderr?.on('data', (c) => {
    stderr += String(c);
  });
  try {
    const [code] = await once(child, 'exit');
    assert.equal(code, 2, stderr);
    assert.match(stderr, /tag\s+clip Xenova\/clip-vit-base-patch32: missing: no folder /);
    assert.match(stderr, /npm start -- --demo/);
    assert.match(
      stderr,
      new RegExp(
        `error: The playground cannot listen on 127\\.0\\.0\\.1:${port} \\(in use\\): set IRIS_PORT`,
      ),
    );
  } finally {
    busy.close();
    await rm(models, { recursive: true, force: true });
    await cleanup();
  }
});
