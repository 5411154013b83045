import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { loadImage } from '../../src/core/media.js';
import { synthClip } from '../../src/demo/colourworld/clip.js';
import { synthFlorence2 } from '../../src/demo/colourworld/florence2.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { type SharedModelKey, SharedModels } from '../../src/models/shared-models.js';
import { solidPng } from '../fakes/images.js';

const LIMITS = { maxBytes: 1 << 24, maxPixels: 1 << 24, formats: ['png', 'jpeg', 'webp', 'gif'] } as const;
const signal = new AbortController().signal;
const key = (over: Partial<SharedModelKey> = {}): SharedModelKey => ({
  kind: 'm',
  dir: '/models/a',
  dtype: 'fp32',
  executionProviders: ['cpu'],
  ...over,
});

test('one load for concurrent and later leases on the same key; disposed with the last release', async () => {
  const shared = new SharedModels();
  const log: string[] = [];
  const load = (name: string) => async () => {
    log.push(`load ${name}`);
    return { name };
  };
  const dispose = async (m: { name: string }) => void log.push(`dispose ${m.name}`);
  const [a, b] = await Promise.all([
    shared.acquire(key(), load('a'), dispose),
    shared.acquire(key(), load('b'), dispose),
  ]);
  const c = await shared.acquire(key({ settings: {} }), load('c'), dispose);
  assert.equal(a.model, b.model);
  assert.equal(c.model, a.model);
  // Another dtype, provider list, setting or kind is another load.
  const others = await Promise.all([
    shared.acquire(key({ dtype: 'fp16' }), load('fp16'), dispose),
    shared.acquire(key({ executionProviders: ['cuda', 'cpu'] }), load('cuda'), dispose),
    shared.acquire(key({ settings: { intraOpNumThreads: 2 } }), load('threads'), dispose),
    shared.acquire(key({ kind: 'other' }), load('kind'), dispose),
  ]);
  assert.deepEqual(log, ['load a', 'load fp16', 'load cuda', 'load threads', 'load kind']);
  assert.equal(shared.loads('m'), 4);
  assert.equal(shared.loads(), 5);

  await a.release();
  await a.release(); // a second release of one lease does not take another backend's hold
  await b.release();
  assert.equal(log.includes('dispose a'), false, 'c still holds it');
  await c.release();
  assert.equal(log.filter((l) => l === 'dispose a').length, 1);
  for (const o of others) await o.release();
  assert.equal(shared.size, 0);

  // Freed models load again on the next lease.
  const again = await shared.acquire(key(), load('again'), dispose);
  assert.equal(again.model.name, 'again');
  await again.release();
});

test('a failed load is not kept: every waiter sees the error and the next lease loads again', async () => {
  const shared = new SharedModels();
  let calls = 0;
  const failing = async () => {
    calls++;
    throw new Error('corrupt');
  };
  const results = await Promise.allSettled([
    shared.acquire(key(), failing, async () => {}),
    shared.acquire(key(), failing, async () => {}),
  ]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  assert.equal(calls, 1);
  assert.equal(shared.size, 0);
  const ok = await shared.acquire(
    key(),
    async () => 'fine',
    async () => {},
  );
  assert.equal(ok.model, 'fine');
  assert.equal(shared.loads('m'), 2);
});

describe('the registry loads each colour-world model once, whatever tasks share it', () => {
  let dir: string;
  const FLORENCE = 'onnx-community/Florence-2-base-ft';
  const CLIP = 'Xenova/clip-vit-base-patch32';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iris-shared-'));
    await synthFlorence2(join(dir, FLORENCE));
    await synthClip(join(dir, CLIP), { variant: 'colour' });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const registry = (shared: SharedModels) =>
    new ModelRegistry({
      modelsDir: dir,
      executionProviders: ['cpu'],
      shared,
      tasks: {
        caption: { backend: 'florence2', model: FLORENCE, options: {} },
        read: { backend: 'florence2', model: FLORENCE, options: { maxNewTokens: 20 } },
        find: { backend: 'florence2', model: FLORENCE, options: {} },
        tag: { backend: 'clip', model: CLIP, options: { template: 'a photo of {}' } },
        embed: { backend: 'clip', model: CLIP, options: { template: 'a photo of {}', batchSize: 4 } },
      },
    });

  it('caption, read and find run on one Florence-2; tag and embed on one CLIP', async () => {
    const shared = new SharedModels();
    const reg = registry(shared);
    const image = await loadImage('red.png', await solidPng('#ff0000', 32), LIMITS);
    try {
      const caption = await reg.get('caption');
      assert.equal(shared.loads('florence2'), 1);
      const [read, find] = await Promise.all([reg.get('read'), reg.get('find')]);
      assert.equal(shared.loads('florence2'), 1, 'read and find did not load Florence-2 again');
      assert.match((await caption.run({ image }, { signal })).caption, /red/);
      assert.match((await read.run({ image }, { signal })).text, /red/);
      assert.ok((await find.run({ image, object: 'red' }, { signal })).boxes.length > 0);

      const tag = await reg.get('tag');
      const embed = await reg.get('embed');
      assert.equal(shared.loads('clip'), 1, 'embed did not load CLIP again');
      const [tags] = await tag.run({ images: [image], labels: ['green', 'red', 'blue'] }, { signal });
      assert.equal(tags?.labels[0]?.label, 'red');
      assert.equal((await embed.run({ images: [image] }, { signal })).vectors.length, 1);
      assert.equal(shared.size, 2);

      // Releasing one task leaves the model to the others; the last release frees it.
      await reg.release('caption');
      assert.match((await read.run({ image }, { signal })).text, /red/);
      await reg.release('tag');
      assert.equal((await embed.run({ texts: ['red'] }, { signal })).vectors.length, 1);
      assert.equal(shared.size, 2);
      await reg.release();
      assert.equal(shared.size, 0);
      await reg.get('caption');
      assert.equal(
        shared.loads('florence2'),
        2,
        'after everything was released, the next request loads again',
      );
    } finally {
      await reg.release();
    }
  });

  it('a task with another dtype gets its own load (it reads other files)', async () => {
    const shared = new SharedModels();
    const reg = registry(shared);
    try {
      await reg.get('caption');
      await assert.rejects(reg.get('read', { options: { dtype: 'q4' } }), { code: 'model_load_failed' });
      assert.equal(shared.loads('florence2'), 2);
      assert.equal(shared.size, 1, 'the failed load is not kept');
    } finally {
      await reg.release();
    }
  });
});
