/**
 * SIGTERM on a real `iris start` process: the playground stays connected while iris
 * drains, the waiting user is told, the running job finishes and its answer is delivered, the process exits
 * 0; a restart on the same SQLite file carries the conversation on.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ChatMessage } from '../../src/bot/playground/channel.js';
import { pageToken, postMessage, SseClient } from '../bot/playground/harness.js';
import { deferred } from '../fakes/backends.js';
import { solidPng } from '../fakes/images.js';
import { completion, startFakeOpenAI } from '../fakes/openai.js';
import { SECRETS } from '../fakes/secrets.js';
import { startIris, waitForOutput } from './start-harness.js';

const KEY = SECRETS.groqKey;

async function post(url: string, text: string, image?: Buffer): Promise<string> {
  const files = image ? [{ name: 'red.png', bytes: image }] : [];
  const res = await postMessage(url, await pageToken(url), { text, files });
  assert.equal(res.status, 202);
  return ((await res.json()) as { id: string }).id;
}

test('SIGTERM drains: the waiting user is told, the running answer is delivered, exit 0; a restart remembers the conversation', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'iris-shutdown-'));
  const config = join(dir, 'config.yaml');
  await writeFile(
    config,
    [
      `memory: { store: sqlite, path: ${JSON.stringify(join(dir, 'iris.sqlite'))} }`,
      'tasks: { vqa: { backend: groq, model: fake-vision, options: {} } }',
      'scheduler: { shutdownGraceSeconds: 60 }',
    ].join('\n'),
  );
  const fake = await startFakeOpenAI({ apiKey: KEY });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    IRIS_CONFIG: config,
    IRIS_PORT: '0',
    IRIS_LOG_LEVEL: 'warn',
    GROQ_API_KEY: KEY,
    GROQ_BASE_URL: fake.url,
  };
  for (const name of ['DISCORD_TOKEN', 'SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_SIGNING_SECRET'])
    delete env[name];
  const red = await solidPng('#ff0000', 64);
  const start = async () => {
    const child = startIris([], env);
    const block = await waitForOutput(child, /iris is ready/);
    const url = /playground: open (http:\/\/127\.0\.0\.1:\d+\/) in a browser/.exec(block)?.[1];
    assert.ok(url, block);
    const sse = new SseClient(`${url}api/events`);
    await sse.ready;
    const answer = (id: string) =>
      sse.waitFor((m: ChatMessage) => m.author === 'iris' && m.replyTo === id && !m.pending, 60_000);
    return { child, url, sse, answer };
  };

  let first: Awaited<ReturnType<typeof start>> | undefined;
  let second: Awaited<ReturnType<typeof start>> | undefined;
  try {
    first = await start();
    const held = deferred();
    fake.script({ ...completion('It is red.'), after: held.promise });
    const running = await post(first.url, '/ask what colour is it?', red);
    for (let i = 0; i < 600 && fake.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(fake.requests.length, 1, 'the first question reached the backend');
    // Same user, one slot: this one waits behind the first.
    const waiting = await post(first.url, '/ask is it bright?', red);
    await first.sse.waitFor((m) => m.replyTo === waiting && m.pending === true);

    const stderr = waitForOutput(first.child, /iris: stopped/, 60_000);
    stderr.catch(() => {}); // awaited below; a failure before that must not be an unhandled rejection
    first.child.kill('SIGTERM');
    const told = await first.answer(waiting);
    assert.match(told.text, /restarting and did not get to this — send it again/);
    held.resolve();
    const delivered = await first.answer(running);
    assert.match(delivered.text, /It is red\./, 'the running job finished during the grace period');
    assert.match(await stderr, /iris: stopping — new requests are refused/);
    const [code] = await once(first.child, 'exit');
    assert.equal(code, 0);
    assert.equal(fake.requests.length, 1, 'the waiting question never ran');
    first.sse.close();
    first = undefined;

    second = await start();
    fake.script(completion('You asked what colour it is.'));
    const followUp = await post(second.url, '/ask what did I ask before?', red);
    assert.match((await second.answer(followUp)).text, /You asked what colour it is/);
    const turns = fake.requests[1]?.turns.map(([role, text]) => `${role}: ${text}`).join('\n') ?? '';
    assert.match(turns, /user: what colour is it\?/, 'the turn from before the restart was in the context');
    assert.match(turns, /assistant: It is red\./);
    assert.doesNotMatch(turns, /is it bright/, 'the question that never ran was not remembered');
  } finally {
    for (const run of [first, second]) {
      if (!run) continue;
      run.sse.close();
      if (run.child.exitCode === null) {
        run.child.kill('SIGTERM');
        await once(run.child, 'exit');
      }
    }
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  }
});
