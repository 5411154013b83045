import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { IndexedImage } from '../../src/core/image-index.js';
import { SqliteImageIndex } from '../../src/core/image-index-sqlite.js';

function unit(...v: number[]): Float32Array {
  const n = Math.hypot(...v);
  return Float32Array.from(v, (x) => x / n);
}

function image(name: string, vector: Float32Array, at = 1_000): IndexedImage {
  return { link: `https://chat/${name}`, author: 'alice', name, at, hash: `h-${name}`, vector };
}

const opts = { path: ':memory:', ttlSeconds: 3600, maxPerChannel: 100, now: () => 1_000 };

test('search ranks by cosine, best first, and returns what was stored', async () => {
  const index = new SqliteImageIndex(opts);
  await index.add('c', image('x', unit(1, 0, 0)));
  await index.add('c', image('xy', unit(1, 1, 0)));
  await index.add('c', { ...image('y', unit(0, 1, 0)), dhash: '00ff00ff00ff00ff' });
  const hits = await index.search('c', unit(1, 0.2, 0), 2);
  assert.deepEqual(
    hits.map((h) => h.image.name),
    ['x', 'xy'],
  );
  assert.ok(Math.abs((hits[0]?.score as number) - (unit(1, 0.2, 0)[0] as number)) < 1e-6);
  assert.deepEqual(hits[0]?.image, {
    link: 'https://chat/x',
    author: 'alice',
    name: 'x',
    at: 1_000,
    hash: 'h-x',
  });
  const y = await index.search('c', unit(0, 1, 0), 1);
  assert.equal(y[0]?.image.dhash, '00ff00ff00ff00ff');
  await index.close();
});

test('conversations never see each other; clear and removeLink touch one conversation only', async () => {
  const index = new SqliteImageIndex(opts);
  await index.add('a', image('in-a', unit(1, 0)));
  await index.add('b', image('in-b', unit(1, 0)));
  assert.deepEqual(
    (await index.search('a', unit(1, 0), 5)).map((h) => h.image.name),
    ['in-a'],
  );
  assert.deepEqual(await index.search('nobody', unit(1, 0), 5), []);
  assert.equal(await index.removeLink('a', 'https://chat/in-b'), 0, 'a link of b is not removable from a');
  assert.equal(await index.removeLink('b', 'https://chat/in-b'), 1);
  assert.equal(await index.count('b'), 0);
  await index.clear('a');
  assert.equal(await index.count('a'), 0);
  await index.close();
});

test('per-channel cap keeps the newest entries; expired entries are neither returned nor kept', async () => {
  let now = 1_000;
  const index = new SqliteImageIndex({ ...opts, maxPerChannel: 3, ttlSeconds: 10, now: () => now });
  for (let i = 0; i < 5; i++) await index.add('c', image(`n${i}`, unit(1, i), now));
  await index.add('other', image('o', unit(1, 0), now));
  assert.equal(await index.count('c'), 3);
  assert.deepEqual((await index.search('c', unit(1, 0), 10)).map((h) => h.image.name).sort(), [
    'n2',
    'n3',
    'n4',
  ]);
  assert.equal(await index.count('other'), 1, 'the cap is per channel');
  now += 11_000;
  assert.deepEqual(await index.search('c', unit(1, 0), 10), [], 'expired');
  await index.add('c', image('fresh', unit(1, 0), now));
  assert.equal(await index.count('c'), 1);
  await index.close();
});

test('vectors of another dimension (another model) are skipped, not mis-scored', async () => {
  const index = new SqliteImageIndex(opts);
  await index.add('c', image('d3', unit(1, 0, 0)));
  await index.add('c', image('d2', unit(1, 0)));
  assert.deepEqual(
    (await index.search('c', unit(1, 0), 5)).map((h) => h.image.name),
    ['d2'],
  );
  await index.close();
});

test('entries persist in the file and share it with other processes (reopen)', async () => {
  const path = join(await mkdtemp(join(tmpdir(), 'iris-index-')), 'sub', 'iris.sqlite');
  const first = new SqliteImageIndex({ ...opts, path });
  await first.add('c', image('kept', unit(0, 1)));
  await first.close();
  const second = new SqliteImageIndex({ ...opts, path });
  assert.deepEqual(
    (await second.search('c', unit(0, 1), 1)).map((h) => h.image.name),
    ['kept'],
  );
  await second.close();
});
