import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMMANDS } from '../../src/commands/index.js';
import type { BackendProvider } from '../../src/contracts/backend.js';
import type { BotRequest } from '../../src/contracts/request.js';
import { BackendError } from '../../src/errors.js';
import { deferred, fakeBackends } from '../fakes/backends.js';
import { testDispatcher } from '../fakes/dispatcher.js';
import { solidPng } from '../fakes/images.js';
import { RecordingResponder } from '../fakes/responder.js';
import { SECRETS } from '../fakes/secrets.js';

const SECRET = SECRETS.slackConfigToken;

function setup(backends: BackendProvider, overrides: Record<string, unknown> = {}) {
  return testDispatcher({
    registry: backends,
    overrides,
    env: { SLACK_BOT_TOKEN: SECRET },
    secrets: [SECRET],
  });
}

let nextId = 0;
function request(command: string, fields: Partial<BotRequest> = {}): BotRequest {
  return {
    id: `req${++nextId}`,
    platform: 'test',
    command,
    args: {},
    images: [],
    conversation: 'test:chan',
    user: { id: 'alice' },
    signal: new AbortController().signal,
    ...fields,
  };
}

const tagAsRed = fakeBackends({
  tag: async ({ images, labels }) =>
    images.map(() => ({
      labels: labels
        .map((label) => ({ label, score: label === 'red' ? 0.9 : 0.1 / (labels.length - 1) }))
        .sort((a, b) => b.score - a.score),
    })),
});

test('a tags request defers, runs the backend on the image and replies with the top labels', async () => {
  const { dispatcher, scheduler } = setup(tagAsRed);
  const res = new RecordingResponder();
  await dispatcher.handle(
    request('tags', {
      args: { labels: 'green, red,blue' },
      images: [{ name: 'r.png', data: await solidPng('#f00') }],
    }),
    res,
  );
  assert.equal(res.events[0]?.type, 'defer');
  assert.equal(res.reply.error, undefined);
  assert.match(res.reply.text ?? '', /^Tags: red 90%/);
  assert.deepEqual(
    (res.reply.data as { labels: { label: string }[] }[])[0]?.labels.map((l) => l.label),
    ['red', 'green', 'blue'],
  );
  await scheduler.stop();
});

test('unknown command, unknown option and missing image each get a specific user error', async () => {
  const { dispatcher, scheduler } = setup(tagAsRed);
  const cases: [BotRequest, RegExp, string][] = [
    [
      request('imagin'),
      // Every registered command is listed, whichever issues have landed.
      new RegExp(`^Unknown command /imagin\\. Commands: ${COMMANDS.map((c) => `/${c.name}`).join('.*')}\\.$`),
      'unknown_command',
    ],
    [
      request('tags', { args: { colour: 'x' }, images: [{ name: 'a.png', data: await solidPng('red') }] }),
      /no option `colour`.*labels/,
      'bad_option',
    ],
    [request('tags', { args: { labels: 'a' } }), /needs an image/, 'bad_option'],
    [
      request('tags', { args: { top: 'many' }, images: [{ name: 'a.png', data: await solidPng('red') }] }),
      /`top` must be a whole number from 1 to 50/,
      'bad_option',
    ],
    [
      request('tags', { args: { labels: ' , ,' }, images: [{ name: 'a.png', data: await solidPng('red') }] }),
      /at least one label/,
      'bad_option',
    ],
    [
      request('tags', { images: [{ name: 'notes.txt', data: Buffer.from('hello, not an image') }] }),
      /notes\.txt is not an image/,
      'bad_image',
    ],
  ];
  for (const [req, message, code] of cases) {
    const res = new RecordingResponder();
    await dispatcher.handle(req, res);
    assert.match(res.reply.text ?? '', message);
    assert.equal(res.reply.error?.code, code);
    assert.equal(res.reply.error?.internal, false);
  }
  await scheduler.stop();
});

test('an internal error shows a ref, hides the stack and secrets, is logged with the request id, and the next job runs', async () => {
  let fail = true;
  const backends = fakeBackends({
    tag: async ({ images }) => {
      if (fail) throw new Error(`boom while using ${SECRET}`);
      return images.map(() => ({ labels: [{ label: 'ok', score: 1 }] }));
    },
  });
  const { dispatcher, scheduler, lines } = setup(backends);
  const image = { name: 'a.png', data: await solidPng('red') };
  const res = new RecordingResponder();
  await dispatcher.handle(request('tags', { id: 'abc123', args: { labels: 'ok' }, images: [image] }), res);
  assert.equal(res.reply.text, 'Something went wrong (ref abc123).');
  assert.deepEqual(res.reply.error, { code: 'internal', internal: true, ref: 'abc123' });
  const logged = lines.join('');
  assert.match(logged, /"req":"abc123"/);
  assert.match(logged, /boom while using \[redacted\]/);
  assert.equal(logged.includes(SECRET), false);

  fail = false;
  const next = new RecordingResponder();
  await dispatcher.handle(request('tags', { args: { labels: 'ok' }, images: [image] }), next);
  assert.equal(next.reply.text, 'Tags: ok 100%');
  await scheduler.stop();
});

test('a retryable backend error says so', async () => {
  const backends = fakeBackends({
    tag: async () => {
      throw new BackendError('unavailable', 'upstream 503', { isRetryable: true });
    },
  });
  const { dispatcher, scheduler } = setup(backends);
  const res = new RecordingResponder();
  await dispatcher.handle(
    request('tags', {
      id: 'r1',
      args: { labels: 'a' },
      images: [{ name: 'a.png', data: await solidPng('red') }],
    }),
    res,
  );
  assert.match(res.reply.text ?? '', /unavailable right now — try again in a moment\. \(ref r1\)/);
  assert.equal(res.reply.error?.code, 'unavailable');
  await scheduler.stop();
});

test('a waiting request hears its queue position, and cancelling it while queued frees it without running', async () => {
  const gate = deferred();
  const started = deferred();
  let runs = 0;
  const backends = fakeBackends({
    tag: async ({ images }) => {
      runs++;
      started.resolve();
      await gate.promise;
      return images.map(() => ({ labels: [{ label: 'x', score: 1 }] }));
    },
  });
  // One encoder slot: the second user's /tags waits behind the first.
  const { dispatcher, scheduler } = setup(backends, { 'scheduler.queues.encoder.maxConcurrent': 1 });
  const image = { name: 'a.png', data: await solidPng('red') };
  const first = new RecordingResponder();
  const firstDone = dispatcher.handle(
    request('tags', { user: { id: 'u1' }, args: { labels: 'x' }, images: [image] }),
    first,
  );

  // The second request is sent once the first holds the slot (under load its parse could finish first).
  await started.promise;
  const cancel = new AbortController();
  const queued = deferred();
  const second = new RecordingResponder().onProgress((p) => {
    if (p.kind === 'queued') queued.resolve();
  });
  const secondDone = dispatcher.handle(
    request('tags', { user: { id: 'u2' }, args: { labels: 'x' }, images: [image], signal: cancel.signal }),
    second,
  );
  await queued.promise;
  assert.deepEqual(
    second.events.find((e) => e.type === 'progress'),
    { type: 'progress', p: { kind: 'queued', position: 1 } },
  );
  cancel.abort();
  await secondDone;
  assert.equal(second.reply.error?.code, 'cancelled');

  gate.resolve();
  await firstDone;
  assert.equal(first.reply.text, 'Tags: x 100%');
  assert.equal(runs, 1, 'the cancelled job never ran');
  await scheduler.stop();
});

test('/help lists every command and explains one; /status runs without a queue slot', async () => {
  const { dispatcher, scheduler } = setup(tagAsRed);
  const help = new RecordingResponder();
  await dispatcher.handle(request('help'), help);
  for (const c of COMMANDS) assert.match(help.reply.text ?? '', new RegExp(`/${c.name} — `));
  assert.equal(help.reply.ephemeral, true);

  const detail = new RecordingResponder();
  await dispatcher.handle(request('help', { args: { command: '/tags' } }), detail);
  assert.match(detail.reply.text ?? '', /`labels`/);

  const status = new RecordingResponder();
  await dispatcher.handle(request('status'), status);
  assert.match(status.reply.text ?? '', /gpu: 0\/1 running, 0 waiting/);
  await scheduler.stop();
});

test('a responder that fails to deliver does not crash the funnel', async () => {
  const { dispatcher, scheduler } = setup(tagAsRed);
  const broken = new RecordingResponder();
  broken.send = async () => {
    throw new Error('socket closed');
  };
  await assert.doesNotReject(dispatcher.handle(request('help'), broken));
  await scheduler.stop();
});
