import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { Batcher, type BatcherOptions } from '../../src/core/batcher.js';

/** Lets promise callbacks (not timers) run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A batcher whose runs are recorded and answered by the test (`release`). */
function recorder(options: Partial<BatcherOptions<string, string>> = {}) {
  const batches: string[][] = [];
  const pending: (() => void)[] = [];
  const batcher = new Batcher<string, string>({
    windowMs: 5,
    maxBatch: 8,
    run: (items) => {
      batches.push(items);
      return new Promise((resolve) => pending.push(() => resolve(items.map((i) => `${i}!`))));
    },
    ...options,
  });
  const release = async () => {
    for (const done of pending.splice(0)) done();
    await settle(); // the batch's callers are answered
    await settle(); // the next batch is planned on the next turn of the event loop
    await settle(); // a full next batch starts
  };
  return { batcher, batches, release };
}

describe('Batcher', () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  });
  afterEach(() => {
    mock.timers.reset();
  });

  test('requests within the window run as one batch; each gets its own result', async () => {
    const { batcher, batches, release } = recorder();
    const a = batcher.submit('a');
    mock.timers.tick(2);
    const b = batcher.submit('b');
    mock.timers.tick(2);
    await settle();
    assert.deepEqual(batches, [], 'the window (5 ms from the first item) is still open');
    mock.timers.tick(1);
    assert.deepEqual(batches, [['a', 'b']]);
    await release();
    assert.equal(await a, 'a!');
    assert.equal(await b, 'b!');
    assert.deepEqual(batcher.stats(), { batches: 1, items: 2, waiting: 0 });
  });

  test('a full batch starts at once; the rest waits for the running one, then forms the next', async () => {
    const { batcher, batches, release } = recorder({ maxBatch: 2, windowMs: 1000 });
    const all = ['a', 'b', 'c', 'd', 'e'].map((x) => batcher.submit(x));
    await settle();
    assert.deepEqual(batches, [['a', 'b']], 'full: no waiting for the window');
    await release();
    assert.deepEqual(
      batches,
      [
        ['a', 'b'],
        ['c', 'd'],
      ],
      'the next full batch starts when the first is done',
    );
    await release();
    assert.deepEqual(batches.length, 2, 'a lone item waits for its window');
    mock.timers.tick(1000);
    assert.deepEqual(batches.at(-1), ['e']);
    await release();
    assert.deepEqual(await Promise.all(all), ['a!', 'b!', 'c!', 'd!', 'e!']);
  });

  test('window 0 runs whatever is there at once', async () => {
    const { batcher, batches, release } = recorder({ windowMs: 0 });
    const a = batcher.submit('a');
    assert.deepEqual(batches, [['a']]);
    await release();
    assert.equal(await a, 'a!');
  });

  test('a deadline shorter than the window starts the batch at the deadline', async () => {
    const { batcher, batches, release } = recorder({ windowMs: 1000 });
    const a = batcher.submit('a');
    const b = batcher.submit('b', { deadline: Date.now() + 3 });
    mock.timers.tick(2);
    assert.deepEqual(batches, []);
    mock.timers.tick(1);
    assert.deepEqual(batches, [['a', 'b']], 'b never waits past its deadline, and a rides along');
    await release();
    assert.deepEqual(await Promise.all([a, b]), ['a!', 'b!']);
  });

  test('an item answered with an Error fails only its own request', async () => {
    const batcher = new Batcher<string, string>({
      windowMs: 1000,
      maxBatch: 3,
      run: async (items) => items.map((i) => (i === 'bad' ? new Error(`cannot read ${i}`) : `${i}!`)),
    });
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((x) => batcher.submit(x)));
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
      ['a!', 'cannot read bad', 'c!'],
    );
  });

  test('a batch whose run throws is retried item by item: only the bad input fails', async () => {
    const runs: string[][] = [];
    const batcher = new Batcher<string, string>({
      windowMs: 1000,
      maxBatch: 3,
      run: async (items) => {
        runs.push(items);
        if (items.includes('bad')) throw new Error('shape mismatch');
        return items.map((i) => `${i}!`);
      },
    });
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((x) => batcher.submit(x)));
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
      ['a!', 'shape mismatch', 'c!'],
    );
    assert.deepEqual(runs, [['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });

  test('cancelling a waiting member removes it from the batch; the others run without it', async () => {
    const { batcher, batches, release } = recorder({ windowMs: 1000, maxBatch: 3 });
    const controller = new AbortController();
    const a = batcher.submit('a');
    const b = batcher.submit('b', { signal: controller.signal });
    controller.abort(new Error('cancelled by the user'));
    await assert.rejects(b, /cancelled by the user/);
    assert.equal(batcher.stats().waiting, 1);
    const c = batcher.submit('c');
    const d = batcher.submit('d');
    await settle();
    assert.deepEqual(batches, [['a', 'c', 'd']], 'b no longer counts towards the full batch');
    await release();
    assert.deepEqual(await Promise.all([a, c, d]), ['a!', 'c!', 'd!']);
  });

  test('an already aborted signal is refused without queueing', async () => {
    const { batcher, batches } = recorder();
    await assert.rejects(batcher.submit('a', { signal: AbortSignal.abort(new Error('gone')) }), /gone/);
    mock.timers.tick(10);
    assert.deepEqual(batches, []);
  });

  test('a member cancelled while its batch runs is answered at once; the batch finishes for the rest', async () => {
    const { batcher, batches, release } = recorder({ windowMs: 0 });
    const controller = new AbortController();
    const a = batcher.submit('a', { signal: controller.signal });
    assert.deepEqual(batches, [['a']]);
    controller.abort(new Error('stop'));
    await assert.rejects(a, /stop/);
    await release();
  });

  test('owners take turns: one request with many items cannot fill a batch ahead of others', async () => {
    const { batcher, batches, release } = recorder({ windowMs: 1000, maxBatch: 4 });
    const flood = { name: 'flood' };
    const others = [{ name: 'u2' }, { name: 'u3' }];
    const all = [
      ...['f1', 'f2', 'f3', 'f4', 'f5', 'f6'].map((x) => batcher.submit(x, { owner: flood })),
      batcher.submit('u2', { owner: others[0] }),
      batcher.submit('u3', { owner: others[1] }),
    ];
    await settle();
    assert.deepEqual(batches, [['f1', 'u2', 'u3', 'f2']]);
    await release();
    assert.deepEqual(batches[1], ['f3', 'f4', 'f5', 'f6']);
    await release();
    assert.equal((await Promise.all(all)).length, 8);
  });

  test('items with different keys never share a batch', async () => {
    const { batcher, batches, release } = recorder({
      windowMs: 1000,
      maxBatch: 2,
      keyOf: (item) => item.slice(0, 1),
    });
    const all = ['a1', 'b1', 'a2', 'b2'].map((x) => batcher.submit(x));
    await settle();
    assert.deepEqual(batches, [['a1', 'a2']]);
    await release();
    assert.deepEqual(batches[1], ['b1', 'b2']);
    await release();
    await Promise.all(all);
  });

  test('refuses a maxBatch below 1', () => {
    assert.throws(() => new Batcher({ windowMs: 0, maxBatch: 0, run: async () => [] }), /maxBatch/);
  });
});
