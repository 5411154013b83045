import { createModelRegistry, secretValues } from '../app.js';
import { COMMANDS } from '../commands/index.js';
import type { Config } from '../config.js';
import type { BackendProvider } from '../contracts/backend.js';
import type { AnyCommand } from '../contracts/command.js';
import type { ImageIndex } from '../core/image-index.js';
import { createLogger, type Logger } from '../core/log.js';
import type { MemoryStore } from '../core/memory.js';
import {
  createRedisImageIndex,
  createRedisMemory,
  IrisWorker,
  TASK_CLASSES,
  type TaskClass,
} from '../core/redis/index.js';
import { listChoices, UserError } from '../errors.js';

/** `--tasks imagine,vision` → task classes; anything else is a user error listing the valid ones. */
export function parseTaskClasses(text: string): TaskClass[] {
  const names = [
    ...new Set(
      text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  const unknown = names.filter((n) => !(TASK_CLASSES as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) {
    const what = unknown.length ? `Unknown task class ${unknown.join(', ')}` : 'No task class given';
    throw new UserError('bad_option', `${what}. --tasks takes a comma list of ${listChoices(TASK_CLASSES)}.`);
  }
  return names as TaskClass[];
}

/** Where a worker connects, for people: host and port only (the URL may hold a password). */
export function describeRedis(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}:${u.port || 6379}${u.pathname.length > 1 ? u.pathname : ''}`;
  } catch {
    return 'redis';
  }
}

export interface WorkerSetup {
  config: Config;
  tasks: readonly TaskClass[];
  slots: number;
  /**
   * Defaults: the model registry from config, every command, a Redis memory store and image index, a
   * stderr logger.
   */
  registry?: BackendProvider & { release?: () => Promise<void> };
  commands?: readonly AnyCommand[];
  memory?: MemoryStore;
  imageIndex?: ImageIndex;
  log?: Logger;
}

/** Starts a worker process's queues; returns a stop function (graceful unless `force`). */
export async function startWorker(
  setup: WorkerSetup,
): Promise<(options?: { force?: boolean }) => Promise<void>> {
  const { config } = setup;
  if (config.queue.kind !== 'redis') {
    throw new UserError(
      'not_available',
      '`iris worker` needs a Redis queue: set IRIS_REDIS_URL (or queue.kind: redis and queue.url in the config).',
    );
  }
  const log = setup.log ?? createLogger({ level: config.log.level, secrets: secretValues(config) });
  // A worker runs `slots` jobs of each of its task classes at once, whatever the queue.
  const registry = setup.registry ?? createModelRegistry(config, { jobsAtOnce: () => setup.slots });
  const memory = setup.memory ?? createRedisMemory(config);
  const imageIndex = setup.imageIndex ?? createRedisImageIndex(config);
  const worker = new IrisWorker({
    config,
    log,
    registry,
    commands: setup.commands ?? COMMANDS,
    tasks: setup.tasks,
    slots: setup.slots,
    memory,
    imageIndex,
  });
  await worker.start();
  return async (options = {}) => {
    await worker.close(options);
    await registry.release?.();
    await memory.close();
    await imageIndex.close();
  };
}

/** `iris worker`: runs until SIGINT/SIGTERM, then finishes the jobs it has (a second signal abandons them). */
export async function workerCli(
  setup: WorkerSetup,
  io: { out: (line: string) => void; err: (line: string) => void },
): Promise<void> {
  const stop = await startWorker(setup);
  const slots = setup.tasks.map((t) => `${t}×${setup.slots}`).join(', ');
  io.err(
    `iris worker: ${slots} on ${describeRedis(setup.config.queue.url)} (prefix ${setup.config.queue.prefix}), models in ${setup.config.models.dir}`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  io.err('iris worker: finishing running jobs (signal again to abandon them to other workers)');
  const force = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await Promise.race([stop(), force.then(() => stop({ force: true }))]);
}
