import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import type { AnyCommand, Priority } from '../../src/contracts/command.js';
import type { BotRequest } from '../../src/contracts/request.js';
import { type JobOptions, Scheduler, type SchedulerConfig } from '../../src/core/scheduler.js';
import { UserError } from '../../src/errors.js';

const BASE: SchedulerConfig = {
  queues: { gpu: { maxConcurrent: 1 }, remote: { maxConcurrent: 4 } },
  highWater: 100,
  perUserConcurrent: 100,
  perUser: { jobs: 0, windowSeconds: 3600 },
  perChannel: { jobs: 0, windowSeconds: 3600 },
  jobTimeoutSeconds: 60,
};

function make(
  t: { after: (fn: () => Promise<void>) => void },
  config: Partial<SchedulerConfig> = {},
  now?: () => number,
) {
  const scheduler = new Scheduler({ ...BASE, ...config }, { now });
  t.after(() => scheduler.stop({ graceMs: 0 }));
  return scheduler;
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A job fn the test finishes by hand; `started` resolves with its signal when the scheduler runs it. */
function manual<T = string>() {
  const started = deferred<AbortSignal>();
  const finish = deferred<T>();
  let ran = false;
  return {
    started: started.promise,
    get ran() {
      return ran;
    },
    release: (value: T) => finish.resolve(value),
    fail: (error: unknown) => finish.reject(error),
    fn: (signal: AbortSignal) => {
      ran = true;
      started.resolve(signal);
      return finish.promise;
    },
  };
}

/** Lets queued microtasks and zero-delay timers run (room for a job that should not start). */
async function settle(rounds = 20) {
  for (let i = 0; i < rounds; i++) {
    await tick();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

function isCode(code: string, includes?: string) {
  return (err: unknown) => {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (includes !== undefined) assert.ok(err.message.includes(includes), err.message);
    return true;
  };
}

const gpu = (user: string, extra: Partial<JobOptions> = {}): JobOptions => ({ queue: 'gpu', user, ...extra });

test('never runs more than maxConcurrent jobs of a queue at once', async (t) => {
  const scheduler = make(t, { queues: { gpu: { maxConcurrent: 2, perUserSlots: 2 } } });
  let running = 0;
  let max = 0;
  const jobs = Array.from({ length: 8 }, () => manual<number>());
  const results = jobs.map((job, i) =>
    scheduler.schedule(gpu(`u${i % 3}`), async (signal) => {
      running++;
      max = Math.max(max, running);
      try {
        return await job.fn(signal);
      } finally {
        running--;
      }
    }),
  );
  // Wait until both slots are taken (or no job is left to take one), then finish the oldest running job.
  const startedOrder: number[] = [];
  for (const [i, job] of jobs.entries()) void job.started.then(() => startedOrder.push(i));
  let released = 0;
  while (released < jobs.length) {
    while (startedOrder.length - released < Math.min(2, jobs.length - released)) await tick();
    await settle(); // room for a third job to start, were the limit broken
    assert.ok(running <= 2, `${running} jobs running at once`);
    const oldest = startedOrder[released] as number;
    jobs[oldest]?.release(oldest);
    released++;
  }
  assert.deepEqual(await Promise.all(results), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(max, 2);
  assert.equal(scheduler.stats().done, 8);
});

test('a remote job runs while the gpu queue is saturated with a backlog', async (t) => {
  const scheduler = make(t);
  const gpuJobs = Array.from({ length: 6 }, () => manual());
  const gpuResults = gpuJobs.map((job, i) => scheduler.schedule(gpu(`u${i}`), job.fn));
  await gpuJobs[0]?.started;
  const remote = await scheduler.schedule({ queue: 'remote', user: 'u9' }, async () => 'answer');
  assert.equal(remote, 'answer');
  assert.equal(gpuJobs.filter((j) => j.ran).length, 1, 'the gpu backlog is still waiting');
  assert.deepEqual(scheduler.stats().queues.gpu, { running: 1, queued: 5, maxConcurrent: 1 });
  for (const job of gpuJobs) job.release('ok');
  await Promise.all(gpuResults);
});

test('an interactive job queued after batch jobs runs before them', async (t) => {
  const scheduler = make(t);
  const blocker = manual();
  const started: string[] = [];
  const record = (name: string) => async () => {
    started.push(name);
  };
  const all: Promise<unknown>[] = [scheduler.schedule(gpu('owner'), blocker.fn)];
  await blocker.started;
  for (const name of ['b1', 'b2', 'b3'])
    all.push(scheduler.schedule(gpu(name, { priority: 'batch' }), record(name)));
  all.push(scheduler.schedule(gpu('asker', { priority: 'interactive' }), record('ask')));
  await settle();
  blocker.release('done');
  await Promise.all(all);
  assert.deepEqual(started, ['ask', 'b1', 'b2', 'b3']);
});

test("a user's own interactive job overtakes their queued batch jobs", async (t) => {
  const scheduler = make(t);
  const blocker = manual();
  const started: string[] = [];
  const all: Promise<unknown>[] = [scheduler.schedule(gpu('a'), blocker.fn)];
  await blocker.started;
  for (const name of ['b1', 'b2']) {
    all.push(scheduler.schedule(gpu('a', { priority: 'batch' }), async () => void started.push(name)));
  }
  all.push(scheduler.schedule(gpu('a', { priority: 'interactive' }), async () => void started.push('ask')));
  await settle();
  blocker.release('done');
  await Promise.all(all);
  assert.deepEqual(started, ['ask', 'b1', 'b2']);
});

for (const { maxConcurrent, perUserSlots } of [
  { maxConcurrent: 1, perUserSlots: 1 },
  { maxConcurrent: 2, perUserSlots: 2 },
]) {
  test(`fairness: one user's 50 jobs do not push another's behind them (slots ${maxConcurrent}, per user ${perUserSlots})`, async (t) => {
    const scheduler = make(t, { queues: { gpu: { maxConcurrent, perUserSlots } } });
    // Other users hold every slot while the flood queues up.
    const blockers = Array.from({ length: maxConcurrent }, () => manual());
    const all: Promise<unknown>[] = blockers.map((b, i) => scheduler.schedule(gpu(`x${i}`), b.fn));
    await Promise.all(blockers.map((b) => b.started));
    const started: string[] = [];
    for (let i = 0; i < 50; i++)
      all.push(scheduler.schedule(gpu('flood'), async () => void started.push(`A${i}`)));
    await settle(); // the flood is fully queued before B asks
    all.push(scheduler.schedule(gpu('b'), async () => void started.push('B')));
    await settle();
    for (const b of blockers) b.release('done');
    await Promise.all(all);
    assert.equal(started.length, 51);
    const b = started.indexOf('B');
    assert.ok(
      b <= perUserSlots + maxConcurrent,
      `B started as job #${b + 1}: ${started.slice(0, 8).join(' ')}`,
    );
    // The flood still runs in its own order.
    assert.deepEqual(
      started.filter((s) => s !== 'B'),
      Array.from({ length: 50 }, (_, i) => `A${i}`),
    );
  });
}

test('refuses with busy beyond highWater waiting jobs, leaving the queued ones alone', async (t) => {
  const scheduler = make(t, { highWater: 2 });
  const jobs = [manual(), manual(), manual()];
  const results = jobs.map((job, i) => scheduler.schedule(gpu(`u${i}`), job.fn));
  await assert.rejects(
    scheduler.schedule(gpu('late'), async () => 'never'),
    isCode('busy', 'iris is busy — 2 jobs ahead'),
  );
  // The remote queue has its own line.
  assert.equal(await scheduler.schedule({ queue: 'remote', user: 'late' }, async () => 'ok'), 'ok');
  for (const [i, job] of jobs.entries()) job.release(`r${i}`);
  assert.deepEqual(await Promise.all(results), ['r0', 'r1', 'r2']);
  assert.equal(scheduler.stats().refused, 1);
});

test('highWater 0 still runs a job that gets a free slot', async (t) => {
  const scheduler = make(t, { highWater: 0 });
  const first = manual();
  const result = scheduler.schedule(gpu('a'), first.fn);
  await assert.rejects(
    scheduler.schedule(gpu('b'), async () => 'x'),
    isCode('busy'),
  );
  first.release('ok');
  assert.equal(await result, 'ok');
});

test('caps the jobs one user has running or queued, across queues', async (t) => {
  const scheduler = make(t, { perUserConcurrent: 2 });
  const a = manual();
  const b = manual();
  const first = scheduler.schedule(gpu('u'), a.fn);
  const second = scheduler.schedule({ queue: 'remote', user: 'u' }, b.fn);
  await assert.rejects(
    scheduler.schedule(gpu('u'), async () => 'x'),
    isCode('too_many_jobs', 'You already have 2 jobs running or queued — wait for one to finish.'),
  );
  assert.equal(await scheduler.schedule({ queue: 'remote', user: 'other' }, async () => 'fine'), 'fine');
  b.release('b');
  await second;
  a.release('a');
  await first;
  assert.equal(await scheduler.schedule(gpu('u'), async () => 'again'), 'again');
});

test('per-user quota is a sliding window, and refused jobs do not use it', async (t) => {
  let now = 0;
  const scheduler = make(t, { perUser: { jobs: 2, windowSeconds: 3600 } }, () => now);
  const job = () => scheduler.schedule(gpu('u'), async () => 'ok');
  const minute = 60_000;
  await job(); // t = 0
  now = 30 * minute;
  await job(); // t = 30 min
  now = 40 * minute;
  for (let i = 0; i < 5; i++) {
    await assert.rejects(job(), isCode('quota', 'limit of 2 jobs per hour — try again in 20 min.'));
  }
  assert.equal(await scheduler.schedule(gpu('someone else'), async () => 'ok'), 'ok');
  now = 61 * minute; // the first job left the window; the refusals did not count
  await job();
  // A fixed hourly window would have reset at 60 min and allowed this one.
  now = 70 * minute;
  await assert.rejects(job(), isCode('quota', 'try again in 20 min'));
  now = 90 * minute + 1;
  await job();
});

test('per-channel quota counts every user in the channel', async (t) => {
  let now = 1_000_000;
  const scheduler = make(t, { perChannel: { jobs: 2, windowSeconds: 600 } }, () => now);
  const job = (user: string, channel: string) => scheduler.schedule(gpu(user, { channel }), async () => 'ok');
  await job('a', 'discord:1');
  await job('b', 'discord:1');
  await assert.rejects(
    job('c', 'discord:1'),
    isCode('quota', 'This channel has reached its limit of 2 jobs per 10 min — try again in 10 min.'),
  );
  await job('c', 'discord:2');
  now += 600_000;
  await job('c', 'discord:1');
});

test('onPosition counts down as jobs ahead finish, and stops once the job starts', async (t) => {
  const scheduler = make(t);
  const jobs = [manual(), manual(), manual(), manual()];
  const positions: number[][] = jobs.map(() => []);
  const results = jobs.map((job, i) =>
    scheduler.schedule(gpu(`u${i}`, { onPosition: (p) => positions[i]?.push(p) }), job.fn),
  );
  for (const [i, job] of jobs.entries()) {
    await job.started;
    job.release(`r${i}`);
    await results[i];
  }
  assert.deepEqual(positions, [[], [1], [2, 1], [3, 2, 1]]);
});

test('positions follow the fair order: a newcomer goes between a flooding user’s jobs', async (t) => {
  const scheduler = make(t);
  const blocker = manual();
  const positions = new Map<string, number[]>();
  const started: string[] = [];
  const job = (user: string, name: string) =>
    scheduler.schedule(
      gpu(user, { onPosition: (p) => positions.set(name, [...(positions.get(name) ?? []), p]) }),
      async () => void started.push(name),
    );
  const all: Promise<unknown>[] = [scheduler.schedule(gpu('x'), blocker.fn)];
  await blocker.started;
  all.push(job('a', 'a1'), job('a', 'a2'), job('a', 'a3'));
  all.push(job('b', 'b1'));
  await settle();
  blocker.release('done');
  await Promise.all(all);
  assert.deepEqual(started, ['a1', 'b1', 'a2', 'a3']);
  assert.deepEqual(Object.fromEntries(positions), {
    a1: [1],
    a2: [2, 3, 2, 1],
    a3: [3, 4, 3, 2, 1],
    b1: [2, 1],
  });
});

test('cancelling a queued job rejects it at once, never runs it, and moves the jobs behind it up', async (t) => {
  const scheduler = make(t);
  const blocker = manual();
  const cancel = new AbortController();
  const victim = manual();
  const behind = manual();
  const behindPositions: number[] = [];
  const first = scheduler.schedule(gpu('a'), blocker.fn);
  const cancelled = scheduler.schedule(gpu('b', { signal: cancel.signal }), victim.fn);
  const last = scheduler.schedule(gpu('c', { onPosition: (p) => behindPositions.push(p) }), behind.fn);
  await blocker.started;
  cancel.abort();
  await assert.rejects(cancelled, isCode('cancelled', 'Cancelled.'));
  assert.deepEqual(behindPositions, [2, 1]);
  assert.equal(scheduler.stats().queues.gpu?.queued, 1);
  blocker.release('a');
  await behind.started;
  behind.release('c');
  assert.deepEqual(await Promise.all([first, last]), ['a', 'c']);
  assert.equal(victim.ran, false);
  assert.equal(scheduler.stats().cancelled, 1);
});

test('a signal aborted before scheduling is refused without running or using quota', async (t) => {
  const scheduler = make(t, { perUser: { jobs: 1, windowSeconds: 60 } }, () => 0);
  const job = manual();
  await assert.rejects(
    scheduler.schedule(gpu('u', { signal: AbortSignal.abort() }), job.fn),
    isCode('cancelled'),
  );
  assert.equal(job.ran, false);
  assert.equal(await scheduler.schedule(gpu('u'), async () => 'ok'), 'ok');
});

test('cancelling a running job aborts its signal, answers at once, and holds the slot until fn settles', async (t) => {
  const scheduler = make(t);
  const cancel = new AbortController();
  const stubborn = manual(); // ignores its signal
  const next = manual();
  const running = scheduler.schedule(gpu('a', { signal: cancel.signal }), stubborn.fn);
  const queued = scheduler.schedule(gpu('b'), next.fn);
  const signal = await stubborn.started;
  cancel.abort();
  assert.equal(signal.aborted, true);
  assert.ok(signal.reason instanceof UserError && signal.reason.code === 'cancelled');
  await assert.rejects(running, isCode('cancelled', 'Cancelled.'));
  await settle();
  assert.equal(next.ran, false, 'the GPU slot is still taken by the stubborn job');
  assert.deepEqual(scheduler.stats().queues.gpu, { running: 1, queued: 1, maxConcurrent: 1 });
  stubborn.release('too late'); // its result goes nowhere
  await next.started;
  next.release('b');
  assert.equal(await queued, 'b');
});

test('a job past its timeout is aborted, its caller told, and the next job runs', async (t) => {
  const scheduler = make(t);
  let sawAbort = false;
  const slow = scheduler.schedule(gpu('a', { timeoutSeconds: 0.05 }), (signal) => {
    return new Promise((_, reject) => {
      signal.addEventListener('abort', () => {
        sawAbort = true;
        reject(signal.reason);
      });
    });
  });
  const next = scheduler.schedule(gpu('b'), async () => 'next ran');
  await assert.rejects(slow, isCode('timeout', 'That took longer than 0.05 s and was stopped.'));
  assert.equal(sawAbort, true);
  assert.equal(await next, 'next ran');
  const stats = scheduler.stats();
  assert.equal(stats.timedOut, 1);
  assert.equal(stats.done, 1);
  assert.equal(stats.failed, 0);
});

test('the default timeout comes from the config', async (t) => {
  const scheduler = make(t, { jobTimeoutSeconds: 0.02 });
  await assert.rejects(
    scheduler.schedule(
      gpu('a'),
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', reject)),
    ),
    isCode('timeout', '0.02 s'),
  );
});

test('a job that throws gives its error to that caller only; the queue moves on', async (t) => {
  const scheduler = make(t);
  const boom = new Error('model exploded');
  const failing = scheduler.schedule(gpu('a'), async () => {
    throw boom;
  });
  const syncThrow = scheduler.schedule(gpu('a'), () => {
    throw new TypeError('not even a promise');
  });
  const other = scheduler.schedule(gpu('b'), async () => 'fine');
  await assert.rejects(failing, (err) => err === boom);
  await assert.rejects(syncThrow, TypeError);
  assert.equal(await other, 'fine');
  const stats = scheduler.stats();
  assert.equal(stats.failed, 2);
  assert.equal(stats.done, 1);
});

test('an unknown queue is a programming error listing the valid ones', (t) => {
  const scheduler = make(t);
  assert.throws(
    () => scheduler.schedule({ queue: 'gpus', user: 'u' }, async () => 1),
    /"gpus".*gpu or remote/,
  );
});

test('a throwing onPosition callback does not break the queue', async (t) => {
  const scheduler = make(t);
  const blocker = manual();
  const first = scheduler.schedule(gpu('a'), blocker.fn);
  const second = scheduler.schedule(
    gpu('b', {
      onPosition: () => {
        throw new Error('chat is down');
      },
    }),
    async () => 'ok',
  );
  blocker.release('a');
  assert.deepEqual(await Promise.all([first, second]), ['a', 'ok']);
});

test('stop() cancels queued jobs, waits for running ones, then refuses new ones', async (t) => {
  const scheduler = make(t);
  const running = manual();
  const queued = manual();
  const first = scheduler.schedule(gpu('a'), running.fn);
  const second = scheduler.schedule(gpu('b'), queued.fn);
  await running.started;
  let stopped = false;
  const stopping = scheduler.stop({ graceMs: 60_000 }).then(() => {
    stopped = true;
  });
  await assert.rejects(second, isCode('shutting_down', 'did not get to this'));
  await assert.rejects(
    scheduler.schedule(gpu('c'), async () => 1),
    isCode('shutting_down', 'send that again'),
  );
  await settle();
  assert.equal(stopped, false, 'stop waits for the running job');
  running.release('finished');
  assert.equal(await first, 'finished');
  await stopping;
  assert.equal(queued.ran, false);
});

test('stop() gives up on a running job after graceMs and leaves no timers behind', async (t) => {
  const scheduler = make(t);
  const stubborn = manual();
  const result = scheduler.schedule(gpu('a'), stubborn.fn);
  const signal = await stubborn.started;
  await scheduler.stop({ graceMs: 20 });
  assert.equal(signal.aborted, true);
  await assert.rejects(result, isCode('shutting_down', 'had to stop this'));
  stubborn.release('eventually');
  await settle();
  assert.equal(scheduler.stats().queues.gpu?.running, 0);
  assert.deepEqual(
    process.getActiveResourcesInfo().filter((r) => r === 'Timeout'),
    [],
  );
});

test('a user at their slot limit keeps their place while another user takes the free slot', async (t) => {
  const scheduler = make(t, { queues: { gpu: { maxConcurrent: 2, perUserSlots: 1 } } });
  const a1 = manual();
  const a2 = manual();
  const b1 = manual();
  const positions: number[] = [];
  const all = [
    scheduler.schedule(gpu('a', { id: 'a1' }), a1.fn),
    scheduler.schedule(gpu('a', { id: 'a2', onPosition: (p) => positions.push(p) }), a2.fn),
  ];
  await a1.started;
  assert.equal(scheduler.position('a2'), 1, 'next, though a slot is free: a already runs one');
  all.push(scheduler.schedule(gpu('b', { id: 'b1' }), b1.fn));
  await b1.started;
  assert.equal(scheduler.position('a2'), 1);
  assert.deepEqual(scheduler.stats().queues.gpu, { running: 2, queued: 1, maxConcurrent: 2 });
  a1.release('a1');
  await a2.started;
  assert.equal(scheduler.position('a2'), undefined, 'running: no place in line');
  a2.release('a2');
  b1.release('b1');
  assert.deepEqual(await Promise.all(all), ['a1', 'a2', 'b1']);
  assert.deepEqual(positions, [1]);
});

test('position(id) and cancel(id): the executor contract by request id', async (t) => {
  const scheduler = make(t);
  const blocker = manual();
  const first = scheduler.schedule(gpu('x', { id: 'r0' }), blocker.fn);
  const waiting = ['r1', 'r2', 'r3'].map((id, i) => scheduler.schedule(gpu(`u${i}`, { id }), async () => id));
  await blocker.started;
  assert.deepEqual(
    ['r0', 'r1', 'r2', 'r3', 'nope'].map((id) => scheduler.position(id)),
    [undefined, 1, 2, 3, undefined],
  );
  assert.equal(scheduler.cancel('r2'), true);
  assert.equal(scheduler.cancel('r2'), false, 'already answered');
  assert.equal(scheduler.cancel('nope'), false);
  await assert.rejects(waiting[1] as Promise<string>, isCode('cancelled', 'Cancelled.'));
  assert.equal(scheduler.position('r3'), 2);
  assert.equal(scheduler.cancel('r0'), true, 'a running job is aborted through its signal');
  await assert.rejects(first, isCode('cancelled'));
  blocker.release('late');
  assert.deepEqual(await Promise.all([waiting[0], waiting[2]]), ['r1', 'r3']);
});

test('submit(): the request names the user, channel and priority; the operator is not metered', async (t) => {
  const scheduler = make(t, { perUser: { jobs: 1, windowSeconds: 3600 } }, () => 0);
  const blocker = manual();
  const held = scheduler.schedule(gpu('x'), blocker.fn);
  await blocker.started;
  const progress: unknown[] = [];
  const submission = (id: string, user: BotRequest['user'], priority?: Priority) => ({
    command: { name: 'work', description: '', options: [], priority } as unknown as AnyCommand,
    queue: 'gpu',
    input: {},
    request: {
      id,
      platform: 'test',
      command: 'work',
      args: {},
      images: [],
      conversation: 'test:chan',
      user,
      signal: new AbortController().signal,
    },
    run: async () => ({ text: id }),
    progress: (p: unknown) => progress.push([id, p]),
  });
  const batch = scheduler.submit(submission('batch', { id: 'bob' }, 'batch'));
  const ask = scheduler.submit(submission('ask', { id: 'carol' }, 'interactive'));
  const operator = [1, 2, 3].map((i) =>
    scheduler.submit(submission(`op${i}`, { id: 'me', isOperator: true })),
  );
  await assert.rejects(scheduler.submit(submission('again', { id: 'bob' })), isCode('quota'));
  assert.deepEqual(progress.slice(0, 2), [
    ['batch', { kind: 'queued', position: 1 }],
    ['ask', { kind: 'queued', position: 1 }],
  ]);
  assert.equal(scheduler.position('batch'), 5, 'interactive first, then normal, then batch');
  blocker.release('done');
  await held;
  assert.deepEqual(
    (await Promise.all([ask, ...operator, batch])).map((r) => r.text),
    ['ask', 'op1', 'op2', 'op3', 'batch'],
  );
});

test('jobs that finish together move the line once: each waiting job hears its new place once', async (t) => {
  const scheduler = make(t, { queues: { gpu: { maxConcurrent: 2, perUserSlots: 1 } } });
  const running = [manual(), manual()];
  const all: Promise<unknown>[] = running.map((job, i) => scheduler.schedule(gpu(`r${i}`), job.fn));
  await Promise.all(running.map((job) => job.started));
  const heard: number[][] = [[], [], []];
  for (const [i, list] of heard.entries()) {
    all.push(scheduler.schedule(gpu(`w${i}`, { onPosition: (p) => list.push(p) }), async () => i));
  }
  for (const job of running) job.release('done');
  await Promise.all(all);
  assert.deepEqual(heard, [[1], [2], [3, 1]]);
});
