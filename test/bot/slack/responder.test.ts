import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { WebClient } from '@slack/web-api';
import { SlackResponder } from '../../../src/bot/slack/responder.js';
import { defineCommand } from '../../../src/contracts/command.js';
import { createLogger } from '../../../src/core/log.js';
import { deferred } from '../../fakes/backends.js';
import { startHarness } from './harness.js';

/** A WebClient stand-in that records chat calls (the responder's logic, without HTTP). */
function recordingClient() {
  const calls: { method: string; args: Record<string, unknown> }[] = [];
  const record = (method: string) => async (args: Record<string, unknown>) => {
    calls.push({ method, args });
    return { ok: true, ts: '1.000100', channel: args.channel };
  };
  const client = {
    chat: {
      postMessage: record('chat.postMessage'),
      update: record('chat.update'),
      delete: record('chat.delete'),
      postEphemeral: record('chat.postEphemeral'),
    },
    filesUploadV2: record('files.uploadV2'),
  } as unknown as WebClient;
  return { client, calls };
}

const quietLog = createLogger({
  level: 'silent',
  destination: new Writable({ write: (_c, _e, done) => done() }),
});

test('a burst of progress updates collapses: one message posted, waiting edits dropped, the answer last', async () => {
  const { client, calls } = recordingClient();
  const res = new SlackResponder({
    client,
    target: { channel: 'C1', user: 'U1' },
    log: quietLog,
    progressIntervalMs: 60_000, // no second edit can be due during this test
  });
  await res.progress({ kind: 'running', step: 1, total: 20 });
  const updates: Promise<void>[] = [];
  for (let step = 2; step <= 20; step++) updates.push(res.progress({ kind: 'running', step, total: 20 }));
  await res.send({ text: 'done' });
  await Promise.all(updates);
  assert.deepEqual(
    calls.map((c) => c.method),
    ['chat.postMessage', 'chat.update'],
  );
  assert.match(String(calls[0]?.args.text), /step 1\/20/);
  assert.equal(calls[1]?.args.text, 'done');
});

test('an ephemeral answer leaves no public progress message', async () => {
  const { client, calls } = recordingClient();
  const res = new SlackResponder({
    client,
    target: { channel: 'C1', user: 'U1' },
    log: quietLog,
    progressIntervalMs: 0,
  });
  await res.defer({ ephemeral: true });
  await res.progress({ kind: 'queued', position: 2 });
  await res.send({ text: 'only you', ephemeral: true });
  assert.deepEqual(
    calls.map((c) => [c.method, c.args.user]),
    [['chat.postEphemeral', 'U1']],
  );
});

test('the slash command is acknowledged before the command has finished (Slack allows 3 s)', async () => {
  const gate = deferred();
  const slow = defineCommand<Record<string, never>>({
    name: 'slow',
    description: 'Waits for the test.',
    options: [],
    async parse() {
      return {};
    },
    async run() {
      await gate.promise;
      return { text: 'finally' };
    },
  });
  const h = await startHarness({ commands: [slow] });
  try {
    const res = await h.command({ command: '/slow', text: '' });
    assert.equal(res.status, 200, 'acked while the command is still running');
    assert.ok(!h.fake.messages.some((m) => m.text === 'finally'));
    gate.resolve();
    await h.fake.waitForMessage((m) => m.text === 'finally');
  } finally {
    await h.stop();
  }
});

test('the answer always goes out last, whatever the progress edits in flight (seeded interleavings)', {
  timeout: 60_000,
}, async () => {
  // Before the fix, bottleneck's stop() hung for good when its last job was dropped by LEAK: the reply
  // was never sent (found by test/hardening/load.test.ts). 300 seeded interleavings of edits and waits.
  let seed = 7;
  const random = () => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  const pause = (maxMs: number) => new Promise((r) => setTimeout(r, random() * maxMs));
  for (let round = 0; round < 300; round++) {
    const calls: string[] = [];
    const slow = (method: string) => async (args: Record<string, unknown>) => {
      await pause(10);
      calls.push(`${method}:${args.text}`);
      return { ok: true, ts: '1.000100', channel: args.channel };
    };
    const client = { chat: { postMessage: slow('post'), update: slow('update') } } as unknown as WebClient;
    const res = new SlackResponder({
      client,
      target: { channel: 'C1', user: 'U1' },
      log: quietLog,
      progressIntervalMs: 15,
    });
    const updates = Math.floor(random() * 8);
    for (let i = 0; i < updates; i++) {
      void res.progress({ kind: 'queued', position: updates - i });
      if (random() < 0.5) await pause(25);
    }
    await res.send({ text: 'done' });
    await pause(30); // an edit that slipped past the answer would land now
    assert.equal(
      calls.at(-1),
      calls.length > 1 ? 'update:done' : 'post:done',
      `round ${round}: ${calls.join(' → ')}`,
    );
  }
});
