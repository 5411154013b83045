/**
 * Graceful shutdown through the dispatch funnel: Dispatcher.drain is what SIGTERM
 * runs in `iris start` before the adapters disconnect (test/cli/shutdown.test.ts drives the signal).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunOptions, TaskIO } from '../../src/contracts/backend.js';
import type { BotRequest } from '../../src/contracts/request.js';
import { deferred, fakeBackends } from '../fakes/backends.js';
import { testDispatcher } from '../fakes/dispatcher.js';
import { solidPng } from '../fakes/images.js';
import { RecordingResponder } from '../fakes/responder.js';

type TagIn = TaskIO['tag']['in'];

/** A tag backend whose every call waits until the test releases it (or its signal aborts). */
function heldTagger() {
  const calls: { input: TagIn; opts: RunOptions; release: () => void }[] = [];
  const started: ((n: number) => void)[] = [];
  const backends = fakeBackends({
    tag: (input, opts) => {
      const gate = deferred();
      calls.push({ input, opts, release: () => gate.resolve() });
      for (const wake of started.splice(0)) wake(calls.length);
      opts.signal.addEventListener('abort', () => gate.reject(opts.signal.reason), { once: true });
      return gate.promise.then(() =>
        input.images.map(() => ({ labels: [{ label: input.labels[0] ?? '?', score: 0.9 }] })),
      );
    },
  });
  const callCount = (n: number) =>
    calls.length >= n ? Promise.resolve() : new Promise<void>((r) => started.push((c) => c >= n && r()));
  return { backends, calls, callCount };
}

function setup(backends: ReturnType<typeof heldTagger>['backends']) {
  // One encoder slot (the queue /tags uses): the second and third users wait in line behind the first.
  return testDispatcher({
    registry: backends,
    overrides: { 'memory.store': 'memory', 'scheduler.queues.encoder.maxConcurrent': 1 },
  });
}

let next = 0;
async function tags(user: string, labels: string): Promise<BotRequest> {
  return {
    id: `sd${++next}`,
    platform: 'test',
    command: 'tags',
    args: { labels },
    images: [{ name: 'red.png', data: await solidPng('#ff0000') }],
    conversation: 'test:chan',
    user: { id: user },
    signal: new AbortController().signal,
  };
}

/** Resolves once the responder was told a place in line. */
function queued(res: RecordingResponder): Promise<void> {
  return new Promise((resolve) => {
    const poll = () =>
      res.events.some((e) => e.type === 'progress' && e.p.kind === 'queued')
        ? resolve()
        : setTimeout(poll, 5);
    poll();
  });
}

/** Resolves once the responder has a final reply. */
function replied(res: RecordingResponder): Promise<void> {
  return new Promise((resolve) => {
    const poll = () => (res.replies.length > 0 ? resolve() : setTimeout(poll, 5));
    poll();
  });
}

test('drain: new requests are refused, waiting users told at once, the running job finishes and its reply is delivered', async () => {
  const held = heldTagger();
  const { dispatcher, scheduler } = setup(held.backends);
  const running = new RecordingResponder();
  const waiting = [new RecordingResponder(), new RecordingResponder()];
  const handled = [
    dispatcher.handle(await tags('alice', 'red,green'), running),
    dispatcher.handle(await tags('bob', 'red,blue'), waiting[0] as RecordingResponder),
    dispatcher.handle(await tags('carol', 'red,white'), waiting[1] as RecordingResponder),
  ];
  await held.callCount(1);
  // Bob and Carol are in line (their images fetched, their jobs queued) before the drain begins: a
  // request still being parsed when it begins is a new one, and gets the other wording.
  for (const res of waiting) await queued(res);
  assert.equal(dispatcher.inFlight, 3);

  let drained = false;
  const draining = dispatcher.drain({ graceMs: 60_000 }).then(() => {
    drained = true;
  });
  // Waiting users hear at once that iris is restarting; nothing of theirs ran.
  for (const res of waiting) {
    await replied(res);
    assert.equal(res.reply.error?.code, 'shutting_down');
    assert.match(res.reply.text ?? '', /restarting and did not get to this — send it again/);
  }
  // A request arriving now is refused with its own wording, and is not queued.
  const late = new RecordingResponder();
  await dispatcher.handle(await tags('dave', 'red'), late);
  assert.equal(late.reply.error?.code, 'shutting_down');
  assert.match(late.reply.text ?? '', /send that again in a minute/);
  assert.equal(held.calls.length, 1, 'only the running job ever reached the backend');

  assert.equal(drained, false, 'drain waits for the running job');
  held.calls[0]?.release();
  await draining;
  await Promise.all(handled);
  assert.equal(running.reply.error, undefined);
  assert.match(running.reply.text ?? '', /red/);
  assert.equal(dispatcher.inFlight, 0);
  assert.equal(scheduler.stats().queues.encoder?.running, 0);
});

test('drain: a job still running when the grace period ends is stopped through its signal, and its user told', async () => {
  const held = heldTagger();
  const { dispatcher, lines } = setup(held.backends);
  const res = new RecordingResponder();
  const handled = dispatcher.handle(await tags('alice', 'red,green'), res);
  await held.callCount(1);
  await dispatcher.drain({ graceMs: 30 });
  await handled;
  assert.equal(held.calls[0]?.opts.signal.aborted, true, 'the backend was asked to stop');
  assert.equal(res.reply.error?.code, 'shutting_down');
  assert.match(res.reply.text ?? '', /had to stop this before it finished/);
  assert.ok(lines.some((l) => l.includes('"msg":"draining"')));
});

test('drain: a reply that cannot be delivered does not hold the shutdown, and drain is idempotent', async () => {
  const held = heldTagger();
  const { dispatcher, lines } = setup(held.backends);
  const broken = new RecordingResponder();
  broken.send = async () => {
    throw new Error('platform is gone');
  };
  const handled = dispatcher.handle(await tags('alice', 'red'), broken);
  await held.callCount(1);
  const first = dispatcher.drain({ graceMs: 60_000 });
  assert.equal(dispatcher.drain({ graceMs: 0 }), first, 'a second signal does not start a second drain');
  held.calls[0]?.release();
  await first;
  await handled;
  assert.ok(lines.some((l) => l.includes('could not deliver the reply')));
  assert.equal(dispatcher.inFlight, 0);
});
