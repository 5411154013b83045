/**
 * Fairness under batching, through the dispatch funnel: the scheduler picks whom to serve (the encoder
 * queue gives each user one job at a time), then the batcher merges what is being served, users' images
 * taking turns. A user with a flood of requests never fills a batch ahead of the others.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BotRequest } from '../../src/contracts/request.js';
import { Batcher } from '../../src/core/batcher.js';
import { deferred, fakeBackends } from '../fakes/backends.js';
import { testDispatcher } from '../fakes/dispatcher.js';
import { solidPng } from '../fakes/images.js';
import { RecordingResponder } from '../fakes/responder.js';

let nextId = 0;
function tagRequest(user: string, images: string[], data: Buffer): BotRequest {
  return {
    id: `f${++nextId}`,
    platform: 'test',
    command: 'tags',
    args: { labels: 'x' },
    images: images.map((name) => ({ name, data })),
    conversation: `test:${user}`,
    user: { id: user },
    signal: new AbortController().signal,
  };
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; !ok(); i++) {
    if (i > 2000) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('under batching, a user with many requests takes turns with the others inside each batch', async () => {
  // A tag backend on a real batcher whose tower the test holds: batch contents are what is asserted.
  const batches: string[][] = [];
  const hold = { current: deferred() };
  const batcher = new Batcher<string, string>({
    windowMs: 0,
    maxBatch: 4,
    run: async (names) => {
      batches.push(names);
      await hold.current.promise;
      return names;
    },
  });
  const backends = fakeBackends({
    tag: async ({ images }, opts) => {
      const owner = {};
      const names = await Promise.all(
        images.map((img) => batcher.submit(img.name, { owner, signal: opts.signal })),
      );
      return names.map((label) => ({ labels: [{ label, score: 1 }] }));
    },
  });
  const { dispatcher, scheduler } = testDispatcher({
    registry: backends,
    overrides: { 'scheduler.perUserConcurrent': 3 },
  });
  const png = await solidPng('red');
  const send = (user: string, images: string[]) => {
    const res = new RecordingResponder();
    return dispatcher.handle(tagRequest(user, images, png), res).then(() => res.reply);
  };

  // The tower is busy with one image; meanwhile a flood (3 requests of 4 images) and two users arrive.
  const first = send('warm', ['w']);
  await until('the first batch runs', () => batches.length === 1);
  const flood = [1, 2, 3].map((r) =>
    send(
      'flood',
      [1, 2, 3, 4].map((i) => `flood${r}.${i}`),
    ),
  );
  await until("the flood's first request waits in the batcher", () => batcher.stats().waiting === 4);
  const others = [send('bob', ['bob']), send('carol', ['carol'])];
  await until("bob's and carol's images wait too", () => batcher.stats().waiting === 6);
  assert.equal(
    scheduler.stats().queues.encoder?.running,
    4,
    "warm, bob, carol and one flood request: the flood's other two wait for their user's slot",
  );

  const next = deferred();
  const previous = hold.current;
  hold.current = next;
  previous.resolve();
  await until('the second batch runs', () => batches.length === 2);
  // Which flood request was served first, and whether bob or carol, depends on which request finished
  // decoding first; what must hold is the shape: one flood image, both newcomers, the next flood image.
  const second = batches[1] ?? [];
  const served = /^flood(\d)\.1$/.exec(second[0] ?? '')?.[1];
  try {
    assert.ok(served, `the batch starts with the served flood request's first image: ${second.join(', ')}`);
    assert.deepEqual(
      [second[0], [second[1], second[2]].sort(), second[3]],
      [`flood${served}.1`, ['bob', 'carol'], `flood${served}.2`],
      'users take turns: bob and carol are in the first batch after they arrived',
    );
  } finally {
    next.resolve();
  }
  const replies = await Promise.all([first, ...flood, ...others]);
  for (const reply of replies) assert.equal(reply.error, undefined, reply.text);
  const rest = [1, 2, 3].flatMap((r) => [1, 2, 3, 4].map((i) => `flood${r}.${i}`));
  assert.deepEqual(
    batches.slice(2).flat().sort(),
    rest.filter((name) => name !== `flood${served}.1` && name !== `flood${served}.2`).sort(),
  );
  await scheduler.stop();
});
