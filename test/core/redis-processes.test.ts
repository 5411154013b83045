import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { redisClient } from '../../src/core/redis/connection.js';
import { quietLog, redisAdapter, redisConfig, startFakeWorker, workRequest } from '../fakes/redis-app.js';
import { type RedisServer, SKIP_NO_REDIS, startRedisServer } from '../fakes/redis-server.js';
import { RecordingResponder } from '../fakes/responder.js';

const FAKES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fakes');

interface Proc {
  child: ChildProcess;
  lines: string[];
  /** Resolves when a line matching `pattern` has been printed. */
  waitFor(pattern: RegExp): Promise<string>;
  exited: Promise<number | null>;
}

function run(script: string, args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', join(FAKES, script), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  let buffer = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let at = buffer.indexOf('\n'); at >= 0; at = buffer.indexOf('\n')) {
      const line = buffer.slice(0, at);
      buffer = buffer.slice(at + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.pattern.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    child,
    lines,
    exited,
    waitFor(pattern) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve });
        void exited.then((code) =>
          reject(new Error(`${script} exited (${code}) before ${pattern}:\n${stderr}`)),
        );
      });
    },
  };
}

describe('scale-out across processes on a real redis-server', { skip: SKIP_NO_REDIS }, () => {
  let server: RedisServer;
  const children: Proc[] = [];
  before(async () => {
    server = await startRedisServer();
  });
  const open: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const close of open.splice(0)) await close().catch(() => {});
  });
  after(async () => {
    for (const p of children) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await server?.close();
  });

  test('two worker processes share 20 jobs; one is SIGKILLed mid-job and every job still finishes exactly once', async () => {
    const prefix = 'procs';
    const env = { REDIS_URL: server.url, PREFIX: prefix, SLOTS: '2' };
    const [a, b] = [run('redis-worker-proc.ts', [], env), run('redis-worker-proc.ts', [], env)] as [
      Proc,
      Proc,
    ];
    children.push(a, b);
    await Promise.all([a.waitFor(/^ready$/), b.waitFor(/^ready$/)]);
    const config = redisConfig(server.url, { 'queue.prefix': prefix });
    const adapter = redisAdapter(config);
    open.push(() => adapter.close());

    // Round 1: 20 quick jobs from 20 users, shared by both workers.
    const round = async (label: string, ms: number) => {
      const responders = Array.from({ length: 20 }, () => new RecordingResponder());
      const done = Promise.all(
        responders.map((res, i) =>
          adapter.dispatcher.handle(
            workRequest({ ms, label: `${label}${i}` }, { user: { id: `u${i}` } }),
            res,
          ),
        ),
      );
      return { responders, done };
    };
    const first = await round('a', 40);
    await first.done;
    const pids = new Set(first.responders.map((r) => /pid:(\d+)/.exec(r.reply.text ?? '')?.[1]));
    assert.deepEqual(
      [...pids].sort(),
      [String(a.child.pid), String(b.child.pid)].sort(),
      'both workers took jobs',
    );

    // Round 2: slower jobs; worker A is killed as soon as it has started one.
    const second = await round('b', 150);
    await a.waitFor(/^start b/);
    a.child.kill('SIGKILL');
    await a.exited;
    await second.done;
    for (const [i, res] of second.responders.entries()) {
      assert.equal(res.replies.length, 1, `job b${i} answered once`);
      assert.equal(res.reply.error, undefined, res.reply.text);
      assert.match(res.reply.text ?? '', new RegExp(`^b${i} by pid:`));
    }
    // The job A was running finished on B: A never completed it.
    const startedOnA = a.lines.filter((l) => l.startsWith('start b')).map((l) => l.slice(6));
    assert.ok(startedOnA.length > 0);
    for (const label of startedOnA) {
      const res = second.responders[Number(label.slice(1))] as RecordingResponder;
      if ((res.reply.text ?? '').endsWith(`pid:${a.child.pid}`)) continue; // finished before the kill
      assert.match(res.reply.text ?? '', new RegExp(`pid:${b.child.pid}$`));
      assert.ok(b.lines.includes(`start ${label}`), `${label} was run again on B`);
    }
    // Redis's own record: one completion event per job, never two.
    const probe = redisClient({ url: server.url, prefix }, 'blocking');
    const events = await probe.xrange(`${prefix}:vision:events`, '-', '+');
    probe.disconnect();
    const completions = new Map<string, number>();
    for (const [, fields] of events) {
      const at = fields.indexOf('event');
      if (fields[at + 1] !== 'completed') continue;
      const jobId = fields[fields.indexOf('jobId') + 1] as string;
      completions.set(jobId, (completions.get(jobId) ?? 0) + 1);
    }
    assert.equal(completions.size, 40);
    assert.deepEqual(new Set(completions.values()), new Set([1]));
    await adapter.close();
    b.child.kill('SIGTERM');
    await b.exited;
  });

  test('a job whose worker dies more often than queue.maxStalls allows fails, and the user is told once', async () => {
    const prefix = 'stalls';
    const env = { REDIS_URL: server.url, PREFIX: prefix, MAX_STALLS: '0' };
    const workers = [run('redis-worker-proc.ts', [], env), run('redis-worker-proc.ts', [], env)];
    children.push(...workers);
    await Promise.all(workers.map((w) => w.waitFor(/^ready$/)));
    const adapter = redisAdapter(redisConfig(server.url, { 'queue.prefix': prefix }));
    open.push(() => adapter.close());
    const res = new RecordingResponder();
    const done = adapter.dispatcher.handle(workRequest({ ms: 10_000, label: 'doomed' }), res);
    const runner = await Promise.race(workers.map((w) => w.waitFor(/^start doomed$/).then(() => w)));
    runner.child.kill('SIGKILL');
    await done;
    assert.equal(res.replies.length, 1);
    assert.match(
      res.reply.text ?? '',
      /^Your job was interrupted because the worker running it stopped, and was not finished — try again\.$/,
    );
    const survivor = workers.find((w) => w !== runner) as Proc;
    assert.equal(survivor.lines.includes('start doomed'), false, 'not run again past maxStalls');
    survivor.child.kill('SIGTERM');
    await survivor.exited;
  });

  test("two adapter processes share one user's quota", async () => {
    const config = redisConfig(server.url, { 'queue.prefix': 'quota' });
    const stopWorker = await startFakeWorker(config, { slots: 4 });
    open.push(() => stopWorker());
    const env = { REDIS_URL: server.url, PREFIX: 'quota', QUOTA: '3' };
    const procs = [
      run('redis-adapter-proc.ts', ['tags', '3'], env),
      run('redis-adapter-proc.ts', ['tags', '3'], env),
    ];
    children.push(...procs);
    const codes = await Promise.all(procs.map((p) => p.exited));
    assert.deepEqual(codes, [0, 0]);
    const answers = procs.flatMap((p) =>
      p.lines.map((l) => JSON.parse(l) as { text: string; code?: string }),
    );
    assert.equal(answers.length, 6);
    const ok = answers.filter((x) => x.code === undefined);
    const refused = answers.filter((x) => x.code === 'quota');
    assert.equal(ok.length, 3, JSON.stringify(answers));
    assert.equal(refused.length, 3, JSON.stringify(answers));
    assert.match(
      refused[0]?.text ?? '',
      /You've reached your limit of 3 jobs per hour — try again in \d+ min\./,
    );
    for (const x of ok) assert.match(x.text, /^Tags: pid:/);
    await stopWorker();
  });

  test('conversation memory survives an adapter restart (the composition root, stopped and built again)', async () => {
    const config = loadConfig({ env: { IRIS_REDIS_URL: server.url }, overrides: { 'queue.prefix': 'mem' } });
    const first = createApp(config, { log: quietLog() });
    await first.memory.append('slack:C1', { question: 'what colour is it?', answer: 'red', at: Date.now() });
    await first.stop();
    const second = createApp(config, { log: quietLog() });
    open.push(() => second.stop());
    assert.deepEqual(
      (await second.memory.recent('slack:C1', 5)).map((t) => t.question),
      ['what colour is it?'],
    );
    assert.deepEqual(await second.memory.recent('slack:C2', 5), []);
  });
});
