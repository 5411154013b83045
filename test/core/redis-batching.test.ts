/**
 * Batching on a worker in Redis mode: `iris worker --slots N` takes up to N vision jobs at once, and their
 * CLIP tower calls run as one batch (the worker's registry owns the batcher). Real redis-server, real
 * IrisWorker, real colour-world CLIP.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startWorker } from '../../src/cli/worker.js';
import { synthClip } from '../../src/demo/colourworld/clip.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { solidPng } from '../fakes/images.js';
import { quietLog, redisAdapter, redisConfig, TEST_COMMANDS, tagRequest } from '../fakes/redis-app.js';
import { type RedisServer, SKIP_NO_REDIS, startRedisServer } from '../fakes/redis-server.js';
import { RecordingResponder } from '../fakes/responder.js';

const COLOURS = { red: '#f00', green: '#0f0', blue: '#00f', yellow: '#ff0' } as const;

describe('batching on a Redis worker', { skip: SKIP_NO_REDIS }, () => {
  let server: RedisServer;
  let root: string;
  before(async () => {
    server = await startRedisServer();
    root = await mkdtemp(join(tmpdir(), 'iris-redis-batching-'));
    await synthClip(join(root, 'clip'));
  });
  after(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  test("a worker with 4 slots runs 4 users' /tags jobs at once, their images in one tower run", async () => {
    const config = redisConfig(server.url, {
      'queue.prefix': 'batching',
      // Vision batches start because they are full; the window only delays the label texts.
      'scheduler.batching': { enabled: true, windowMs: 5000, maxBatch: 4 },
    });
    const visionRuns: number[] = [];
    const registry = new ModelRegistry({
      modelsDir: root,
      executionProviders: ['cpu'],
      batching: config.scheduler.batching,
      tasks: {
        tag: {
          backend: 'clip',
          model: join(root, 'clip'),
          options: { hooks: { onVisionRun: (n: number) => visionRuns.push(n) } },
        },
      },
    });
    const stopWorker = await startWorker({
      config,
      tasks: ['vision'],
      slots: 4,
      registry,
      commands: TEST_COMMANDS,
      log: quietLog(),
    });
    const adapter = redisAdapter(config);
    try {
      const labels = Object.keys(COLOURS).join(', ');
      const replies = await Promise.all(
        Object.entries(COLOURS).map(async ([name, hex], i) => {
          const res = new RecordingResponder();
          const req = tagRequest(await solidPng(hex), labels, { user: { id: `user${i}` } });
          await adapter.dispatcher.handle(req, res);
          return { name, reply: res.reply };
        }),
      );
      for (const { name, reply } of replies) {
        assert.equal(reply.error, undefined, reply.text);
        assert.match(
          reply.text ?? '',
          new RegExp(`^Tags: ${name} `),
          `${name}: each user gets their own result`,
        );
      }
      assert.deepEqual(visionRuns, [4], 'four jobs, one vision-tower run');
    } finally {
      await adapter.close();
      await stopWorker();
    }
  });
});
