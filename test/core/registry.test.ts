import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { UserError } from '../../src/errors.js';
import { noOptions } from '../../src/models/options.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { defineBackend, type TaskTable } from '../../src/models/table.js';
import type { BackendLoadOptions } from '../../src/models/types.js';

function modelsDir(...ids: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'iris-models-'));
  for (const id of ids) {
    mkdirSync(join(dir, id), { recursive: true });
    writeFileSync(join(dir, id, 'config.json'), '{}');
  }
  return dir;
}

function countingTable() {
  const loads: BackendLoadOptions<unknown>[] = [];
  const disposed: string[] = [];
  let failNext = false;
  const table: TaskTable = {
    tag: {
      description: 'test',
      queue: 'gpu',
      backends: {
        clip: defineBackend({
          defaultModel: 'org/default',
          options: z.strictObject({ batchSize: z.int().min(1).default(8) }),
          load: async () => async (opts) => {
            loads.push(opts);
            if (failNext) {
              failNext = false;
              throw new Error('load failed');
            }
            return {
              task: 'tag',
              id: 'clip',
              model: opts.modelId,
              run: async () => [],
              dispose: async () => void disposed.push(opts.modelId),
            };
          },
        }),
        other: defineBackend({
          defaultModel: 'org/other',
          options: noOptions,
          load: async () => async () => Promise.reject(new Error('unused')),
        }),
      },
    },
  };
  return { table, loads, disposed, failOnce: () => (failNext = true) };
}

test('backends load lazily, once, even for concurrent first requests, and are released', async () => {
  const t = countingTable();
  const dir = modelsDir('org/default');
  const reg = new ModelRegistry({ modelsDir: dir, executionProviders: ['cpu'], tasks: {}, table: t.table });
  assert.equal(t.loads.length, 0);
  assert.equal(reg.status()[0]?.state, 'ready');
  const [a, b] = await Promise.all([reg.get('tag'), reg.get('tag')]);
  assert.equal(a, b);
  assert.equal(t.loads.length, 1);
  assert.equal(t.loads[0]?.modelDir, join(dir, 'org/default'));
  assert.equal(reg.status()[0]?.state, 'loaded');
  await reg.release();
  assert.deepEqual(t.disposed, ['org/default']);
  assert.equal(reg.status()[0]?.state, 'ready');
});

test('batching reaches a backend only where its queue runs more than one job at once', async () => {
  const batching = { enabled: true, windowMs: 5, maxBatch: 8 };
  const loadWith = async (jobsAtOnce?: (queue: string) => number) => {
    const t = countingTable();
    const reg = new ModelRegistry({
      modelsDir: modelsDir('org/default'),
      executionProviders: ['cpu'],
      tasks: {},
      table: t.table,
      batching,
      ...(jobsAtOnce && { jobsAtOnce }),
    });
    await reg.get('tag');
    await reg.release();
    return t.loads[0]?.batching;
  };
  const asked: string[] = [];
  // One job at a time on the backend's queue (`gpu`): nothing could join a batch, so no window to wait out.
  assert.equal(
    await loadWith((queue) => {
      asked.push(queue);
      return 1;
    }),
    undefined,
  );
  assert.deepEqual(asked, ['gpu']);
  assert.deepEqual(await loadWith((queue) => (queue === 'gpu' ? 4 : 1)), batching);
  assert.deepEqual(await loadWith(), batching);
});

test('a failed load is not cached: the next request tries again', async () => {
  const t = countingTable();
  const reg = new ModelRegistry({
    modelsDir: modelsDir('org/default'),
    executionProviders: ['cpu'],
    tasks: {},
    table: t.table,
  });
  t.failOnce();
  // The user sees which model failed, not the folder or the runtime's text (those stay in `cause`).
  await assert.rejects(reg.get('tag'), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.equal(e.code, 'model_load_failed');
    assert.match(e.message, /^The tag model \(org\/default\) could not be loaded/);
    assert.match(String((e.cause as Error).message), /load failed/);
    return true;
  });
  await reg.get('tag');
  assert.equal(t.loads.length, 2);
});

test('config picks backend, model and options; a folder path is used as is', async () => {
  const t = countingTable();
  const dir = modelsDir('org/custom');
  const reg = new ModelRegistry({
    modelsDir: '/nowhere',
    executionProviders: ['cpu'],
    tasks: { tag: { backend: 'clip', model: join(dir, 'org/custom'), options: { batchSize: 4 } } },
    table: t.table,
  });
  await reg.get('tag');
  assert.equal(t.loads[0]?.modelDir, join(dir, 'org/custom'));
  assert.deepEqual(t.loads[0]?.options, { batchSize: 4 });
});

test('an unknown backend lists the valid ones; a missing model lists what the folder has', async () => {
  const t = countingTable();
  const dir = modelsDir('org/default', 'org/another');
  const reg = new ModelRegistry({ modelsDir: dir, executionProviders: ['cpu'], tasks: {}, table: t.table });
  await assert.rejects(reg.get('tag', { backend: 'blip' }), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.equal(e.code, 'unknown_backend');
    assert.match(e.message, /Unknown tag backend blip\. Valid backends: clip or other\./);
    return true;
  });
  await assert.rejects(reg.get('tag', { model: 'org/missing' }), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.equal(e.code, 'model_missing');
    // What chat shows: the task, the model and the fix, not the server's folder or what else it holds.
    assert.equal(
      e.message,
      'The tag model (org/missing) is not installed on this server, so this is unavailable right now. An admin can get it with `iris models pull org/missing`.',
    );
    // What the operator's terminal and the log get.
    assert.match(
      String(e.detail),
      /model org\/missing is not in .*Models there: org\/another or org\/default\./,
    );
    assert.match(String(e.detail), /iris models synth/);
    assert.ok(String(e.detail).includes(dir));
    return true;
  });
  await assert.rejects(reg.get('tag', { model: join(dir, 'gone') }), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.equal(e.code, 'model_missing');
    assert.match(e.message, /^The tag model is not installed on this server/);
    assert.equal(e.message.includes(dir), false, 'a model given as a folder is not named in chat');
    assert.match(String(e.detail), /gone does not exist/);
    return true;
  });
  assert.equal(t.loads.length, 0);
});

test('a task without a row is "not available"; a backend without a model folder loads with no folder', async () => {
  const t = countingTable();
  const dir = modelsDir();
  const table: TaskTable = {
    ...t.table,
    read: {
      description: 'test',
      queue: 'gpu',
      backends: {
        bundled: defineBackend({
          defaultModel: 'eng',
          options: noOptions,
          modelFolder: false,
          load: async () => async (opts) => ({
            task: 'read',
            id: 'bundled',
            model: `${opts.modelId}@${opts.modelDir || 'no folder'}`,
            run: async () => ({ text: '' }),
            dispose: async () => {},
          }),
        }),
      },
    },
  };
  const reg = new ModelRegistry({ modelsDir: dir, executionProviders: ['cpu'], tasks: {}, table });
  await assert.rejects(reg.get('caption'), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.equal(e.code, 'not_available');
    assert.match(e.message, /caption is not available in this build of iris\. Available: tag or read\./);
    return true;
  });
  assert.equal((await reg.get('read')).model, 'eng@no folder');
  assert.deepEqual(
    reg.status().map((s) => [s.task, s.state]),
    [
      ['tag', 'missing'],
      ['read', 'loaded'],
    ],
  );
});
