import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { Progress } from '../../src/contracts/request.js';
import { redisClient } from '../../src/core/redis/connection.js';
import { solidPng } from '../fakes/images.js';
import { redisAdapter, redisConfig, startFakeWorker, tagRequest, workRequest } from '../fakes/redis-app.js';
import { type RedisServer, SKIP_NO_REDIS, startRedisServer } from '../fakes/redis-server.js';
import { RecordingResponder } from '../fakes/responder.js';

describe('the Redis job queue (adapter and worker in one process)', { skip: SKIP_NO_REDIS }, () => {
  let server: RedisServer;
  // Closed even when a test fails, so a failure never leaves connections holding the process open.
  const open: (() => Promise<unknown>)[] = [];
  const adapterFor = (config: ReturnType<typeof redisConfig>) => {
    const adapter = redisAdapter(config);
    open.push(() => adapter.close());
    return adapter;
  };
  const workerFor = async (...args: Parameters<typeof startFakeWorker>) => {
    const stop = await startFakeWorker(...args);
    open.push(() => stop());
    return stop;
  };
  before(async () => {
    server = await startRedisServer();
  });
  afterEach(async () => {
    for (const close of open.splice(0)) await close().catch(() => {});
  });
  after(async () => {
    await server?.close();
  });

  test('a /tags request becomes a job on the vision queue; the worker runs it; images travel by reference when large', async () => {
    const config = redisConfig(server.url, { 'queue.prefix': 'q1', 'queue.inlineBytes': 1000 });
    const seen: string[][] = [];
    const stopWorker = await workerFor(config, { onRun: (labels) => seen.push(labels) });
    const adapter = adapterFor(config);
    const big = await solidPng('#f00', 256); // > 1000 bytes: stored once in Redis, referenced by the job
    const res = new RecordingResponder();
    await adapter.dispatcher.handle(tagRequest(big, 'red, green'), res);
    assert.equal(res.reply.error, undefined, res.reply.text);
    assert.match(res.reply.text ?? '', new RegExp(`^Tags: pid:${process.pid} 90%, red 10%, green 10%`));
    assert.deepEqual(seen, [['red', 'green']]);
    const probe = redisClient({ url: server.url, prefix: 'q1' }, 'blocking');
    assert.equal((await probe.keys('q1:blob:*')).length, 1, 'the image was stored once by reference');
    probe.disconnect();
    const jobs = await adapter.jobs.stats();
    assert.equal(jobs.queues.vision?.running, 0);
    await adapter.close();
    await stopWorker();
  });

  test('progress flows back as running steps; a queued job hears its position and ETA from the real queue', async () => {
    const config = redisConfig(server.url, { 'queue.prefix': 'q2' });
    const stopWorker = await workerFor(config, { slots: 1 });
    const adapter = adapterFor(config);
    const first = new RecordingResponder();
    const second = new RecordingResponder();
    const one = adapter.dispatcher.handle(workRequest({ ms: 400, label: 'one' }), first);
    await new Promise((r) => setTimeout(r, 100));
    const two = adapter.dispatcher.handle(
      workRequest({ ms: 60, label: 'two' }, { user: { id: 'bob' } }),
      second,
    );
    await Promise.all([one, two]);
    assert.match(first.reply.text ?? '', /^one by pid:/);
    assert.match(second.reply.text ?? '', /^two by pid:/);
    const steps = first.events.flatMap((e) => (e.type === 'progress' && e.p.kind === 'running' ? [e.p] : []));
    assert.ok(steps.length >= 3, `expected running steps, got ${steps.length}`);
    assert.deepEqual(steps.at(-1), { kind: 'running', step: 20, total: 20, message: undefined });
    const queued = second.events.flatMap((e) =>
      e.type === 'progress' && e.p.kind === 'queued' ? [e.p] : [],
    );
    assert.equal((queued[0] as Progress & { kind: 'queued' })?.position, 1);
    await adapter.close();
    await stopWorker();
  });

  test('cancel removes a waiting job from Redis; a running one is aborted on its worker; each answers once', async () => {
    const config = redisConfig(server.url, { 'queue.prefix': 'q3' });
    const adapter = adapterFor(config);
    // No worker yet: the job waits.
    const waiting = new AbortController();
    const res = new RecordingResponder();
    const pending = adapter.dispatcher.handle(
      workRequest({ ms: 0, label: 'w' }, { signal: waiting.signal }),
      res,
    );
    for (let i = 0; i < 100 && (await adapter.jobs.stats()).queues.vision?.queued !== 1; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await adapter.jobs.stats()).queues.vision?.queued, 1);
    waiting.abort();
    await pending;
    assert.equal(res.reply.text, 'Cancelled.');
    assert.equal((await adapter.jobs.stats()).queues.vision?.queued, 0);

    const runs: string[] = [];
    const stopWorker = await workerFor(config);
    const running = new AbortController();
    const res2 = new RecordingResponder().onProgress((p) => {
      if (p.kind === 'running' && p.step === 3) running.abort();
    });
    await adapter.dispatcher.handle(workRequest({ ms: 5000, label: 'r' }, { signal: running.signal }), res2);
    assert.equal(res2.reply.text, 'Cancelled.');
    // The worker stops the job at its next step and the queue moves on.
    const res3 = new RecordingResponder();
    await adapter.dispatcher.handle(workRequest({ ms: 0, label: 'next' }), res3);
    assert.match(res3.reply.text ?? '', /^next by/);
    runs.push('ok');
    const stats = await adapter.jobs.stats();
    assert.equal(stats.queues.vision?.running, 0);
    assert.equal(res2.replies.length, 1);
    await adapter.close();
    await stopWorker();
  });

  test('position(id) and cancel(id) read and change the real queue', async () => {
    const config = redisConfig(server.url, { 'queue.prefix': 'q3b' });
    const adapter = adapterFor(config);
    // No worker: both jobs wait.
    const requests = [workRequest({ label: 'a' }), workRequest({ label: 'b' }, { user: { id: 'bob' } })];
    const answers = requests.map((req) => {
      const res = new RecordingResponder();
      return adapter.dispatcher.handle(req, res).then(() => res.reply);
    });
    const [a, b] = requests.map((r) => r.id) as [string, string];
    for (let i = 0; i < 100 && (await adapter.jobs.position(b)) !== 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual([await adapter.jobs.position(a), await adapter.jobs.position(b)], [1, 2]);
    assert.equal(await adapter.jobs.cancel(a), true);
    assert.equal(await adapter.jobs.cancel(a), false, 'already answered');
    assert.equal(await adapter.jobs.position(b), 1);
    assert.equal(await adapter.jobs.position('nope'), undefined);
    assert.equal((await answers[0])?.text, 'Cancelled.');
    await adapter.jobs.cancel(b);
    assert.equal((await answers[1])?.error?.code, 'cancelled');
    const stats = await adapter.jobs.stats();
    assert.equal(stats.cancelled, 2);
    await adapter.close();
  });

  test('errors from the worker reach the user once: user error verbatim, retryable retried then "unavailable", internal with a ref', async () => {
    const config = redisConfig(server.url, { 'queue.prefix': 'q4', 'queue.attempts': 2 });
    const stopWorker = await workerFor(config);
    const adapter = adapterFor(config);
    const cases: [string, RegExp, string][] = [
      ['user', /^no good: u$/, 'bad_option'],
      ['retryable', /unavailable right now/, 'flaky'],
      ['internal', /^Something went wrong \(ref /, 'internal'],
    ];
    for (const [fail, text, code] of cases) {
      const res = new RecordingResponder();
      await adapter.dispatcher.handle(workRequest({ label: 'u', fail }), res);
      assert.match(res.reply.text ?? '', text);
      assert.equal(res.reply.error?.code, code);
    }
    await adapter.close();
    await stopWorker();
  });

  test("quotas hold other users on Redis too, but not the operator (the playground's user)", async () => {
    const quota = { jobs: 2, windowSeconds: 3600 };
    const config = redisConfig(server.url, {
      'queue.prefix': 'qop',
      'scheduler.perUser': quota,
      'scheduler.perChannel': quota,
    });
    await workerFor(config);
    const adapter = adapterFor(config);
    const run = async (user: { id: string; isOperator?: boolean }) => {
      const res = new RecordingResponder();
      await adapter.dispatcher.handle(
        workRequest({ label: user.id }, { user, conversation: `test:${user.id}` }),
        res,
      );
      return res.reply;
    };
    const operator = { id: 'local', isOperator: true };
    for (let i = 0; i < 4; i++) assert.equal((await run(operator)).error, undefined, `operator job ${i + 1}`);
    await run({ id: 'alice' });
    await run({ id: 'alice' });
    assert.equal((await run({ id: 'alice' })).error?.code, 'quota', 'another user is still held');
  });

  test('/status shows queue depths per task class and the worker count', async () => {
    const config = redisConfig(server.url, { 'queue.prefix': 'q5' });
    const stopA = await workerFor(config, { tasks: ['vision', 'imagine'], slots: 2 });
    const stopB = await workerFor(config, { tasks: ['vision'] });
    const adapter = adapterFor(config);
    const res = new RecordingResponder();
    await adapter.dispatcher.handle(workRequest({}, { command: 'status' }), res);
    const text = res.reply.text ?? '';
    assert.match(text, /• vision: 0\/3 running, 0 waiting/);
    assert.match(text, /• imagine: 0\/2 running, 0 waiting/);
    assert.match(text, /• llm: 0\/0 running, 0 waiting/);
    assert.match(text, /Workers: 2\./);
    await adapter.close();
    await stopA();
    await stopB();
  });

  test('Redis stopped → "temporarily unavailable"; Redis back → requests work again', async () => {
    const config = redisConfig(server.url, { 'queue.prefix': 'q6' });
    const stopWorker = await workerFor(config);
    const adapter = adapterFor(config);
    const ok = new RecordingResponder();
    await adapter.dispatcher.handle(workRequest({ label: 'before' }), ok);
    assert.match(ok.reply.text ?? '', /^before by/);

    await server.stop();
    const down = new RecordingResponder();
    await adapter.dispatcher.handle(workRequest({ label: 'during' }), down);
    assert.match(down.reply.text ?? '', /temporarily unavailable/);
    assert.equal(down.reply.error?.code, 'not_available');

    await server.restart();
    let text = '';
    for (let i = 0; i < 40 && !text.startsWith('after'); i++) {
      const res = new RecordingResponder();
      await adapter.dispatcher.handle(workRequest({ label: 'after' }), res);
      text = res.reply.text ?? '';
      if (!text.startsWith('after')) await new Promise((r) => setTimeout(r, 250));
    }
    assert.match(text, /^after by/);
    await adapter.close();
    await stopWorker();
  });
});
