/**
 * Scale-out on Redis (queue.kind: redis): one switch moves the job queue, the quotas, conversation memory,
 * settings and image memory to the Redis at queue.url. docs/scaling.md describes the topology.
 */
import type { Config } from '../../config.js';
import type { Logger } from '../log.js';
import { RedisMemoryStore } from '../memory-redis.js';
import { RedisSettingsStore } from '../settings-redis.js';
import { redisClient } from './connection.js';
import { RedisImageIndex } from './image-index.js';
import { RedisJobQueue } from './job-queue.js';

export { TASK_CLASSES, type TaskClass } from './connection.js';
export { RedisImageIndex } from './image-index.js';
export { RedisJobQueue } from './job-queue.js';
export { IrisWorker } from './worker.js';

export function usesRedisQueue(config: Config): boolean {
  return config.queue.kind === 'redis';
}

/** Memory on Redis: with a Redis queue (workers must see what adapters remember), or memory.store: redis. */
export function usesRedisMemory(config: Config): boolean {
  return usesRedisQueue(config) || config.memory.store === 'redis';
}

export function createRedisMemory(config: Config): RedisMemoryStore {
  return new RedisMemoryStore({
    client: redisClient({ url: config.queue.url, prefix: config.queue.prefix }, 'client'),
    prefix: config.queue.prefix,
    ttlSeconds: config.memory.ttlSeconds,
    maxTurns: config.memory.maxTurns,
    ownsClient: true,
  });
}

/** Settings (/alttext choices, long /imagine prompts) beside conversation memory, shared by every adapter. */
export function createRedisSettings(config: Config): RedisSettingsStore {
  return new RedisSettingsStore({
    client: redisClient({ url: config.queue.url, prefix: config.queue.prefix }, 'client'),
    prefix: config.queue.prefix,
    ownsClient: true,
  });
}

/** Image memory (/similar) beside conversation memory, so adapters and workers search the same channels. */
export function createRedisImageIndex(config: Config): RedisImageIndex {
  return new RedisImageIndex({
    client: redisClient({ url: config.queue.url, prefix: config.queue.prefix }, 'client'),
    prefix: config.queue.prefix,
    ttlSeconds: config.imageIndex.ttlSeconds,
    maxPerChannel: config.imageIndex.maxPerChannel,
    ownsClient: true,
  });
}

export function createRedisJobQueue(config: Config, log: Logger): RedisJobQueue {
  return new RedisJobQueue({ config, log });
}
