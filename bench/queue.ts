/**
 * `npm run bench -- queue [jobs]`: jobs/s through the dispatch funnel with an instant backend, measured side
 * by side in one run: the embedded in-memory scheduler vs the Redis queue (BullMQ job per request, a worker
 * in this process, a real redis-server on loopback). What it shows is the cost of the queue itself.
 */
import { Writable } from 'node:stream';
import { mediaSettings } from '../src/app.js';
import { startWorker } from '../src/cli/worker.js';
import { type Config, loadConfig } from '../src/config.js';
import type { BackendProvider } from '../src/contracts/backend.js';
import { defineCommand } from '../src/contracts/command.js';
import type { BotRequest, Reply, Responder } from '../src/contracts/request.js';
import { Dispatcher } from '../src/core/dispatch.js';
import type { Executor } from '../src/core/executor.js';
import { createLogger } from '../src/core/log.js';
import { MemoryMapStore } from '../src/core/memory.js';
import { RedisJobQueue } from '../src/core/redis/index.js';
import { Scheduler } from '../src/core/scheduler.js';
import { queueOf } from '../src/models/tasks.js';
import { redisServerBinary, startRedisServer } from '../test/fakes/redis-server.js';

const instant = defineCommand<Record<string, never>>({
  name: 'instant',
  description: 'returns at once',
  options: [],
  queue: 'gpu',
  async parse() {
    return {};
  },
  async run() {
    return { text: 'ok' };
  },
});

const noBackends: BackendProvider = {
  get: () => Promise.reject(new Error('no backends in this bench')),
  queueOf,
  status: () => [],
};
const log = createLogger({
  level: 'error',
  destination: new Writable({
    write(_c, _e, done) {
      done();
    },
  }),
});

function benchConfig(slots: number, env: Record<string, string> = {}): Config {
  return loadConfig({
    env,
    overrides: {
      'scheduler.queues': { gpu: { maxConcurrent: slots }, remote: { maxConcurrent: 4 } },
      'scheduler.perUser.jobs': 0,
      'scheduler.perChannel.jobs': 0,
      'scheduler.perUserConcurrent': 1000,
      'scheduler.highWater': 100_000,
      'memory.store': 'memory',
      'queue.prefix': `bench${Date.now()}`,
      'log.level': 'error',
    },
  });
}

async function measure(dispatcher: Dispatcher, jobs: number): Promise<{ seconds: number; ok: number }> {
  let ok = 0;
  const responder = (): Responder => ({
    async defer() {},
    async progress() {},
    async send(r: Reply) {
      if (r.text === 'ok') ok++;
    },
  });
  const request = (i: number): BotRequest => ({
    id: `b${i}x${Math.random().toString(36).slice(2, 8)}`,
    platform: 'bench',
    command: 'instant',
    args: {},
    images: [],
    conversation: 'bench:c',
    user: { id: `u${i % 50}` },
    signal: new AbortController().signal,
  });
  const start = performance.now();
  await Promise.all(Array.from({ length: jobs }, (_, i) => dispatcher.handle(request(i), responder())));
  return { seconds: (performance.now() - start) / 1000, ok };
}

function dispatcherFor(config: Config, executor: Executor): Dispatcher {
  return new Dispatcher({
    commands: [instant],
    executor,
    registry: noBackends,
    config,
    log,
    media: mediaSettings(config),
    memory: new MemoryMapStore(config.memory),
  });
}

export async function run(args: string[]): Promise<void> {
  const jobs = Number(args[0] ?? 500);
  const slots = 8;
  if (!redisServerBinary()) {
    console.error('bench queue needs redis-server (apt-get install redis-server)');
    process.exitCode = 2;
    return;
  }
  const server = await startRedisServer();
  try {
    const memoryConfig = benchConfig(slots);
    const memory = dispatcherFor(memoryConfig, new Scheduler(memoryConfig.scheduler));
    await measure(memory, 50); // warm-up
    const memoryRun = await measure(memory, jobs);

    const redisConfig = benchConfig(slots, { IRIS_REDIS_URL: server.url });
    const stopWorker = await startWorker({
      config: redisConfig,
      tasks: ['vision'],
      slots,
      registry: noBackends,
      commands: [instant],
      memory: new MemoryMapStore(redisConfig.memory),
      log,
    });
    const queue = new RedisJobQueue({ config: redisConfig, log, pollMs: 500 });
    const redis = dispatcherFor(redisConfig, queue);
    await measure(redis, 50); // warm-up
    const redisRun = await measure(redis, jobs);
    await queue.close();
    await stopWorker();

    const row = (name: string, r: { seconds: number; ok: number }) =>
      `${name.padEnd(34)} ${String(r.ok).padStart(6)} ${r.seconds.toFixed(2).padStart(8)} ${(r.ok / r.seconds).toFixed(0).padStart(8)}`;
    console.log(`queue bench: ${jobs} instant jobs submitted at once, ${slots} slots, 50 users`);
    console.log(`${'queue'.padEnd(34)} ${'ok'.padStart(6)} ${'s'.padStart(8)} ${'jobs/s'.padStart(8)}`);
    console.log(row('memory (in-process scheduler)', memoryRun));
    console.log(row('redis (BullMQ, 1 worker process)', redisRun));
    const ratio = memoryRun.ok / memoryRun.seconds / (redisRun.ok / redisRun.seconds);
    console.log(`memory ÷ redis jobs/s: ${ratio.toFixed(1)}× (goal ≥ 5×)`);
  } finally {
    await server.close();
  }
}
