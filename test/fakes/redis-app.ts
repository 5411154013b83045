/**
 * Pieces of a scaled-out iris for tests: an adapter-side dispatcher whose queued commands go to Redis, and
 * workers running the real IrisWorker with fake backends. Used in-process and by the child-process scripts.
 */
import { Writable } from 'node:stream';
import { mediaSettings } from '../../src/app.js';
import { startWorker } from '../../src/cli/worker.js';
import { COMMANDS } from '../../src/commands/index.js';
import { type Config, loadConfig } from '../../src/config.js';
import { defineCommand } from '../../src/contracts/command.js';
import type { BotRequest } from '../../src/contracts/request.js';
import { Dispatcher } from '../../src/core/dispatch.js';
import { createLogger } from '../../src/core/log.js';
import { createRedisMemory, RedisJobQueue, type TaskClass } from '../../src/core/redis/index.js';
import { BackendError, UserError } from '../../src/errors.js';
import { fakeBackends } from './backends.js';

/**
 * A test command that needs no model: runs `ms` milliseconds in 20 ms steps (reporting each, stopping when
 * its signal aborts) and answers with the worker's pid. `fail`: user | retryable | internal.
 */
export const workCommand = defineCommand<{ ms: number; label: string; fail: string }>({
  name: 'work',
  description: 'test work',
  options: [
    { name: 'ms', type: 'integer', description: 'how long', min: 0, max: 60_000 },
    { name: 'label', type: 'string', description: 'echoed back' },
    { name: 'fail', type: 'string', description: 'how to fail', choices: ['user', 'retryable', 'internal'] },
  ],
  queue: 'gpu',
  async parse({ args }) {
    return { ms: Number(args.ms ?? 0), label: String(args.label ?? ''), fail: String(args.fail ?? '') };
  },
  async run({ ms, label, fail }, ctx) {
    const steps = Math.ceil(ms / 20);
    for (let step = 1; step <= steps; step++) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      await new Promise((r) => setTimeout(r, 20));
      await ctx.progress({ kind: 'running', step, total: steps });
    }
    if (fail === 'user') throw new UserError('bad_option', `no good: ${label}`);
    if (fail === 'retryable') throw new BackendError('flaky', 'flaky backend', { isRetryable: true });
    if (fail === 'internal') throw new Error('internal boom');
    return { text: `${label} by pid:${process.pid}`, data: { label, pid: process.pid } };
  },
});

export const TEST_COMMANDS = [...COMMANDS, workCommand];

/** Config for a test Redis: short locks so a dead worker's job comes back within a couple of seconds. */
export function redisConfig(url: string, overrides: Record<string, unknown> = {}): Config {
  return loadConfig({
    env: { IRIS_REDIS_URL: url },
    overrides: { 'queue.stalledSeconds': 1, 'log.level': 'silent', ...overrides },
  });
}

export function quietLog() {
  return createLogger({
    level: 'warn',
    destination: new Writable({
      write(_chunk, _enc, done) {
        done();
      },
    }),
  });
}

/** An adapter process's side: dispatcher + Redis job queue + Redis memory. */
export function redisAdapter(config: Config) {
  const log = quietLog();
  const jobs = new RedisJobQueue({ config, log, pollMs: 200 });
  const memory = createRedisMemory(config);
  const dispatcher = new Dispatcher({
    commands: TEST_COMMANDS,
    executor: jobs,
    registry: fakeBackends({}),
    config,
    log,
    media: mediaSettings(config),
    memory,
  });
  return {
    dispatcher,
    jobs,
    memory,
    async close() {
      await jobs.close();
      await memory.close();
    },
  };
}

/**
 * The fake tagger workers run: labels like `sleep:300` make it take that long (checking its signal every
 * 20 ms and reporting steps); it answers with the labels given plus `pid:<worker pid>` on top.
 */
export function fakeTagger(options: { onRun?: (labels: string[]) => void } = {}) {
  return fakeBackends({
    tag: async ({ images, labels }, { signal, onProgress }) => {
      options.onRun?.(labels);
      const sleep = Number(labels.find((l) => l.startsWith('sleep:'))?.slice(6) ?? 0);
      const steps = Math.max(1, Math.ceil(sleep / 20));
      for (let step = 1; step <= steps && sleep > 0; step++) {
        if (signal.aborted) throw signal.reason;
        await new Promise((r) => setTimeout(r, 20));
        onProgress?.({ step, total: steps });
      }
      return images.map(() => ({
        labels: [
          { label: `pid:${process.pid}`, score: 0.9 },
          ...labels.map((label) => ({ label, score: 0.1 })),
        ],
      }));
    },
  });
}

export function startFakeWorker(
  config: Config,
  options: {
    tasks?: TaskClass[];
    slots?: number;
    onRun?: (labels: string[]) => void;
    commands?: typeof TEST_COMMANDS;
  } = {},
) {
  return startWorker({
    config,
    tasks: options.tasks ?? ['vision'],
    slots: options.slots ?? 1,
    registry: fakeTagger({ onRun: options.onRun }),
    commands: options.commands ?? TEST_COMMANDS,
    log: quietLog(),
  });
}

let nextId = 0;
export function workRequest(args: Record<string, unknown>, fields: Partial<BotRequest> = {}): BotRequest {
  return {
    id: `w${process.pid}x${++nextId}x${Math.random().toString(36).slice(2, 8)}`,
    platform: 'test',
    command: 'work',
    args,
    images: [],
    conversation: 'test:chan',
    user: { id: 'alice' },
    signal: new AbortController().signal,
    ...fields,
  };
}

export function tagRequest(image: Buffer, labels: string, fields: Partial<BotRequest> = {}): BotRequest {
  return {
    id: `t${process.pid}x${++nextId}x${Math.random().toString(36).slice(2, 8)}`,
    platform: 'test',
    command: 'tags',
    args: { labels },
    images: [{ name: 'r.png', data: image }],
    conversation: 'test:chan',
    user: { id: 'alice' },
    signal: new AbortController().signal,
    ...fields,
  };
}
