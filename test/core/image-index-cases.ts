/**
 * The ImageIndex contract as one table of cases, run against every implementation (SQLite in
 * image-index-sqlite.test.ts, Redis in image-index-redis.test.ts), so both behave the same.
 * `open` gives a fresh, empty index with these options.
 */
import assert from 'node:assert/strict';
import type { ImageIndex, ImageIndexOptions, IndexedImage } from '../../src/core/image-index.js';

export type OpenIndex = (options: ImageIndexOptions) => Promise<ImageIndex> | ImageIndex;

export function unit(...v: number[]): Float32Array {
  const n = Math.hypot(...v);
  return Float32Array.from(v, (x) => x / n);
}

export function image(name: string, vector: Float32Array, at = 1_000): IndexedImage {
  return { link: `https://chat/${name}`, author: 'alice', name, at, hash: `h-${name}`, vector };
}

export const baseOptions: ImageIndexOptions = { ttlSeconds: 3600, maxPerChannel: 100, now: () => 1_000 };

export const imageIndexCases: { name: string; run: (open: OpenIndex) => Promise<void> }[] = [
  {
    name: 'search ranks by cosine, best first, and returns what was stored',
    async run(open) {
      const index = await open(baseOptions);
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
      assert.deepEqual(await index.search('c', unit(0, 1, 0), 0), []);
      await index.close();
    },
  },
  {
    name: 'conversations never see each other; clear and removeLink touch one conversation only',
    async run(open) {
      const index = await open(baseOptions);
      await index.add('a', image('in-a', unit(1, 0)));
      await index.add('b', image('in-b', unit(1, 0)));
      await index.add('b', image('in-b2', unit(0, 1)));
      assert.deepEqual(
        (await index.search('a', unit(1, 0), 5)).map((h) => h.image.name),
        ['in-a'],
      );
      assert.deepEqual(await index.search('nobody', unit(1, 0), 5), []);
      assert.equal(
        await index.removeLink('a', 'https://chat/in-b'),
        0,
        'a link of b is not removable from a',
      );
      assert.equal(await index.removeLink('b', 'https://chat/in-b'), 1);
      assert.equal(await index.count('b'), 1);
      assert.deepEqual(
        (await index.search('b', unit(1, 0), 5)).map((h) => h.image.name),
        ['in-b2'],
      );
      await index.clear('a');
      assert.equal(await index.count('a'), 0);
      assert.equal(await index.count('b'), 1, 'clearing a leaves b');
      await index.close();
    },
  },
  {
    name: 'removeLink removes every entry of that message and says how many',
    async run(open) {
      const index = await open(baseOptions);
      const link = 'https://chat/msg-1';
      await index.add('c', { ...image('p1', unit(1, 0)), link });
      await index.add('c', { ...image('p2', unit(0, 1)), link });
      await index.add('c', image('other', unit(1, 1)));
      assert.equal(await index.removeLink('c', link), 2);
      assert.equal(await index.removeLink('c', link), 0, 'nothing left to remove');
      assert.deepEqual(
        (await index.search('c', unit(1, 0), 5)).map((h) => h.image.name),
        ['other'],
      );
      await index.close();
    },
  },
  {
    name: 'per-channel cap keeps the newest entries; expired entries are neither returned nor kept',
    async run(open) {
      let now = 1_000;
      const index = await open({ ...baseOptions, maxPerChannel: 3, ttlSeconds: 10, now: () => now });
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
      assert.equal(await index.count('c'), 0);
      await index.add('c', image('fresh', unit(1, 0), now));
      assert.equal(await index.count('c'), 1);
      assert.deepEqual(
        (await index.search('c', unit(1, 0), 10)).map((h) => h.image.name),
        ['fresh'],
      );
      await index.close();
    },
  },
  {
    name: 'vectors of another dimension (another model) are skipped, not mis-scored',
    async run(open) {
      const index = await open(baseOptions);
      await index.add('c', image('d3', unit(1, 0, 0)));
      await index.add('c', image('d2', unit(1, 0)));
      assert.deepEqual(
        (await index.search('c', unit(1, 0), 5)).map((h) => h.image.name),
        ['d2'],
      );
      await index.close();
    },
  },
  {
    name: 'a vector that is a view into a larger buffer is stored as itself',
    async run(open) {
      const index = await open(baseOptions);
      const backing = new Float32Array([9, 9, ...unit(0, 1), 9]);
      await index.add('c', image('view', backing.subarray(2, 4)));
      const [hit] = await index.search('c', unit(0, 1), 1);
      assert.equal(hit?.image.name, 'view');
      assert.ok(Math.abs((hit?.score as number) - 1) < 1e-6, `score ${hit?.score}`);
      await index.close();
    },
  },
];
