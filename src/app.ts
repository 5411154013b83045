import { COMMANDS } from './commands/index.js';
import type { Config } from './config.js';
import { SECRET_PATHS } from './config.js';
import type { FetchPolicy, MediaLimits } from './contracts/media.js';
import { Dispatcher } from './core/dispatch.js';
import type { Executor } from './core/executor.js';
import type { ImageIndex } from './core/image-index.js';
import { SqliteImageIndex } from './core/image-index-sqlite.js';
import { createLogger, type Logger } from './core/log.js';
import { MemoryMapStore, type MemoryStore } from './core/memory.js';
import { SqliteMemoryStore } from './core/memory-sqlite.js';
import {
  createRedisImageIndex,
  createRedisJobQueue,
  createRedisMemory,
  createRedisSettings,
  usesRedisMemory,
  usesRedisQueue,
} from './core/redis/index.js';
import { Scheduler } from './core/scheduler.js';
import { MemorySettingsStore, type SettingsStore } from './core/settings.js';
import { SqliteSettingsStore } from './core/settings-sqlite.js';
import { ModelRegistry } from './models/registry.js';
import type { TaskTable } from './models/table.js';

export interface App {
  config: Config;
  log: Logger;
  registry: ModelRegistry;
  /** Runs queued commands: the in-process Scheduler, or with queue.kind redis the Redis job queue, whose jobs run on `iris worker` processes (docs/scaling.md). */
  executor: Executor;
  dispatcher: Dispatcher;
  memory: MemoryStore;
  /** Preferences (/alttext), in the memory store's SQLite file or in-process. */
  settings: SettingsStore;
  /** Image memory (/similar): beside conversation memory (Redis, its SQLite file, or in-process). */
  imageIndex: ImageIndex;
  /**
   * First half of a graceful stop, while adapters are still connected: refuse new requests, answer waiting
   * ones, give running jobs `graceMs` (default scheduler.shutdownGraceSeconds) and deliver their replies.
   */
  drain(graceMs?: number): Promise<void>;
  /** Drains (if not yet done, with a short grace), then releases models and closes the stores. */
  stop(): Promise<void>;
}

/** Hosts platforms serve attachments from; IRIS_ALLOW_HOSTS adds more. */
export const PLATFORM_MEDIA_HOSTS = [
  'cdn.discordapp.com',
  'media.discordapp.net',
  'files.slack.com',
] as const;

export function secretValues(config: Config): string[] {
  return SECRET_PATHS.map((path) =>
    path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)?.[key], config),
  ).filter((v): v is string => typeof v === 'string' && v !== '');
}

export function mediaSettings(config: Config): { limits: MediaLimits; policy: FetchPolicy } {
  return {
    limits: {
      maxBytes: config.media.maxBytes,
      maxPixels: config.media.maxPixels,
      formats: config.media.formats,
    },
    policy: {
      allowHosts: [...PLATFORM_MEDIA_HOSTS, ...config.media.allowHosts],
      // Hosts named in IRIS_ALLOW_HOSTS are trusted to be local (tests, proxies); the platforms' are not.
      privateHosts: [...config.media.allowHosts],
      timeoutMs: config.media.fetchTimeoutSeconds * 1000,
    },
  };
}

/** memory.store: 'sqlite' (file at memory.path, folder created) or 'memory' (in-process, lost on exit). */
export function createMemoryStore(memory: Config['memory']): MemoryStore {
  const options = { ttlSeconds: memory.ttlSeconds, maxTurns: memory.maxTurns };
  return memory.store === 'sqlite'
    ? new SqliteMemoryStore({ ...options, path: memory.path })
    : new MemoryMapStore(options);
}

/** Preferences (/alttext) live beside conversation memory: in its SQLite file, or in-process. */
export function createSettingsStore(memory: Config['memory']): SettingsStore {
  return memory.store === 'sqlite'
    ? new SqliteSettingsStore({ path: memory.path })
    : new MemorySettingsStore();
}

export function createImageIndex(config: Config): ImageIndex {
  if (usesRedisMemory(config)) return createRedisImageIndex(config);
  return new SqliteImageIndex({
    path: config.memory.store === 'sqlite' ? config.memory.path : ':memory:',
    ttlSeconds: config.imageIndex.ttlSeconds,
    maxPerChannel: config.imageIndex.maxPerChannel,
  });
}

/**
 * The model registry of `iris start` and `iris worker` alike: model folders, providers, tasks, remote APIs.
 * `table`: the demo's, which adds backends of its own (loadConfig must have checked config against it).
 */
export function createModelRegistry(
  config: Config,
  options: { table?: TaskTable; jobsAtOnce?(queue: string): number } = {},
): ModelRegistry {
  return new ModelRegistry({
    modelsDir: config.models.dir,
    executionProviders: config.models.executionProviders,
    tasks: config.tasks,
    providers: { groq: config.providers.groq },
    batching: config.scheduler.batching,
    jobsAtOnce: options.jobsAtOnce ?? ((queue) => config.scheduler.queues[queue]?.maxConcurrent ?? 1),
    ...(options.table && { table: options.table }),
  });
}

/** The composition root: config in, a ready dispatcher out. Adapters are started by the caller. */
export function createApp(config: Config, deps: { log?: Logger; table?: TaskTable } = {}): App {
  const log = deps.log ?? createLogger({ level: config.log.level, secrets: secretValues(config) });
  const registry = createModelRegistry(config, { ...(deps.table && { table: deps.table }) });
  const jobs = usesRedisQueue(config) ? createRedisJobQueue(config, log) : undefined;
  const executor: Executor = jobs ?? new Scheduler(config.scheduler);
  const memory = usesRedisMemory(config) ? createRedisMemory(config) : createMemoryStore(config.memory);
  const settings = usesRedisMemory(config) ? createRedisSettings(config) : createSettingsStore(config.memory);
  const imageIndex = createImageIndex(config);
  const dispatcher = new Dispatcher({
    commands: COMMANDS,
    executor,
    registry,
    config,
    log,
    media: mediaSettings(config),
    memory,
    settings,
    imageIndex,
  });
  return {
    config,
    log,
    registry,
    executor,
    dispatcher,
    memory,
    settings,
    imageIndex,
    drain(graceMs = config.scheduler.shutdownGraceSeconds * 1000) {
      return dispatcher.drain({ graceMs });
    },
    async stop() {
      await dispatcher.drain({ graceMs: 5000 });
      await jobs?.close();
      await registry.release();
      await memory.close();
      await settings.close();
      await imageIndex.close();
    },
  };
}
