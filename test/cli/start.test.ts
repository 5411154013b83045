import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { synthAll } from '../../src/demo/colourworld/index.js';
import { pageToken, postMessage } from '../bot/playground/harness.js';
import { solidPng } from '../fakes/images.js';
import { SECRETS } from '../fakes/secrets.js';
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

test('`iris start --no-demo` with no models and a busy port explains both and exits 2', async () => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as { port: number }).port;
  const { env, cleanup } = await localEnv(String(port));
  const models = await mkdtemp(join(tmpdir(), 'iris-empty-models-'));
  const child = startIris(['--no-demo', '--models', models], env);
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

/** The demo's temp folder, from the start-up block. */
function demoDirOf(block: string): string {
  const dir = /models \((\S+), colour-world demo\)/.exec(block)?.[1];
  assert.ok(dir, block);
  return dir;
}

/** The data of the playground's first event (`ready`). */
async function readyEvent(
  url: string,
): Promise<{ banner?: { title: string; lines: string[]; command: string } }> {
  const abort = new AbortController();
  const res = await fetch(`${url}api/events`, { signal: abort.signal });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  while (!/event: ready\ndata: .*\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  abort.abort();
  return JSON.parse(/event: ready\ndata: (.*)\n/.exec(text)?.[1] ?? '{}');
}

test('no token and no model on disk: `iris start` runs the demo models by itself, says so, ranks colours by default, and removes them on SIGINT', async () => {
  const { env, cleanup } = await localEnv();
  const empty = await mkdtemp(join(tmpdir(), 'iris-no-models-'));
  const child = startIris([], { ...env, IRIS_MODELS_DIR: empty });
  try {
    const block = await waitForOutput(child, /iris is ready/);
    assert.match(block, /DEMO MODELS: no platform token and no model in \S+iris-no-models-\S+, so iris runs/);
    assert.match(block, /npx iris models pull/);
    const demoDir = demoDirOf(block);
    assert.ok(existsSync(join(demoDir, 'Xenova/clip-vit-base-patch32', 'config.json')));
    const url = /playground: open (http:\S+) in a browser/.exec(block)?.[1] as string;

    const { banner } = await readyEvent(url);
    assert.equal(banner?.title, 'Demo models');
    assert.match(banner?.lines.join(' ') ?? '', /red, green, blue, yellow, cyan, magenta, black, white/);
    assert.equal(banner?.command, 'npx iris models pull');

    // No labels given: the default label set is the demo's colours, so the ranking means something.
    const sent = (await (
      await postMessage(url, await pageToken(url), {
        text: '/tags',
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
    assert.match(answer?.text ?? '', /^Tags: red (9\d|100)%, (green|blue|yellow|cyan|magenta|black|white) /);

    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    assert.equal(existsSync(demoDir), false, 'the demo folder is removed on exit');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(empty, { recursive: true, force: true });
    await cleanup();
  }
});

test('the demo folder is also removed when iris ends by itself (console input ends) and when start-up fails', async () => {
  const { env, cleanup } = await localEnv();
  const dir = await mkdtemp(join(tmpdir(), 'iris-demo-exit-'));
  const config = join(dir, 'console.yaml');
  await writeFile(config, 'memory:\n  store: memory\nplatforms:\n  playground:\n    enabled: false\n');
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  try {
    // Console only, stdin at its end at once: iris stops normally.
    const consoleOnly = startIris(['--demo'], { ...env, IRIS_CONFIG: config });
    let block = '';
    consoleOnly.stderr?.on('data', (c) => {
      block += String(c);
    });
    const [code] = await once(consoleOnly, 'exit');
    assert.equal(code, 0, block);
    assert.match(block, /console\s+on/);
    assert.equal(existsSync(demoDirOf(block)), false);

    // The playground's port is taken: exit 2 with the port's message, and no demo folder left behind.
    const port = String((busy.address() as { port: number }).port);
    const failing = startIris(['--demo'], { ...env, IRIS_PORT: port });
    let stderr = '';
    failing.stderr?.on('data', (c) => {
      stderr += String(c);
    });
    const [failed] = await once(failing, 'exit');
    assert.equal(failed, 2, stderr);
    assert.match(stderr, /error: The playground cannot listen/);
    assert.equal(existsSync(demoDirOf(stderr)), false);
  } finally {
    busy.close();
    await rm(dir, { recursive: true, force: true });
    await cleanup();
  }
});

test('a platform token with models missing: exit 2 before connecting, one line naming them and `iris models pull`', async () => {
  const requests: string[] = [];
  const discord = createHttpServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(500).end();
  });
  await new Promise<void>((resolve) => discord.listen(0, '127.0.0.1', resolve));
  const { env, cleanup } = await localEnv();
  const dir = await mkdtemp(join(tmpdir(), 'iris-token-models-'));
  const models = join(dir, 'models');
  await synthAll(models);
  // Florence-2 (caption and find) is not there; the OCR language's npm package is not installed.
  await rm(join(models, 'onnx-community'), { recursive: true });
  const config = join(dir, 'iris.yaml');
  await writeFile(
    config,
    'memory:\n  store: memory\ntasks:\n  read:\n    backend: tesseract\n    model: deu\n',
  );
  const child = startIris(['--models', models], {
    ...env,
    IRIS_CONFIG: config,
    DISCORD_TOKEN: SECRETS.discordStartToken,
    DISCORD_API_URL: `http://127.0.0.1:${(discord.address() as { port: number }).port}/api`,
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c) => {
    stdout += String(c);
  });
  child.stderr?.on('data', (c) => {
    stderr += String(c);
  });
  try {
    const [code] = await once(child, 'exit');
    assert.equal(code, 2, stderr);
    assert.equal(stdout, '');
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, stderr);
    const line = lines[0] as string;
    assert.match(line, /^error: iris would connect with 3 tasks unable to answer: missing /);
    assert.match(line, /caption \(onnx-community\/Florence-2-base-ft\)/);
    assert.match(line, /find \(onnx-community\/Florence-2-base-ft\)/);
    assert.match(line, /read \(tesseract deu: npm package @tesseract\.js-data\/deu is not installed\)/);
    assert.match(line, /Run `iris models pull`/);
    // Present (tag, vqa, imagine) or not served (embed: image memory is off) → not named.
    assert.doesNotMatch(line, /tag \(|vqa \(|imagine \(|embed \(/);
    assert.deepEqual(requests, [], 'Discord was never contacted');
  } finally {
    discord.close();
    await rm(dir, { recursive: true, force: true });
    await cleanup();
  }
});
