import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import type { LoadedImage } from '../../src/contracts/request.js';
import { dHash, hammingDistance } from '../../src/core/dhash.js';
import { SqliteImageIndex } from '../../src/core/image-index-sqlite.js';
import { rememberImage } from '../../src/core/image-memory.js';

async function loaded(name: string, bytes: Buffer): Promise<LoadedImage> {
  const m = await sharp(bytes).metadata();
  return {
    name,
    bytes,
    format: m.format as LoadedImage['format'],
    width: m.width ?? 0,
    height: m.height ?? 0,
  };
}

/** A picture with structure: a diagonal gradient with a bright square, so dHash has bits to set. */
async function scene(flip = false, size = 96): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 96 96">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="${flip ? '#fff' : '#000'}"/><stop offset="1" stop-color="${flip ? '#000' : '#fff'}"/>
    </linearGradient></defs>
    <rect width="96" height="96" fill="url(#g)"/><rect x="${flip ? 56 : 16}" y="30" width="24" height="24" fill="#f80"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

test('dHash: a resized JPEG re-encode stays within a few bits; a different picture does not', async () => {
  const original = await dHash(await loaded('a.png', await scene()));
  const reencoded = await dHash(
    await loaded(
      'a.jpg',
      await sharp(await scene(false, 300))
        .jpeg({ quality: 60 })
        .toBuffer(),
    ),
  );
  const other = await dHash(await loaded('b.png', await scene(true)));
  assert.match(original, /^[0-9a-f]{16}$/);
  assert.ok(hammingDistance(original, reencoded) <= 6, `${original} vs ${reencoded}`);
  assert.ok(hammingDistance(original, other) >= 20, `${original} vs ${other}`);
  assert.equal(hammingDistance('ffffffffffffffff', '0000000000000000'), 64);
});

test('dHash of corrupt bytes is a clear user error naming the file', async () => {
  await assert.rejects(
    dHash({ name: 'bad.png', bytes: Buffer.from('nope'), format: 'png', width: 1, height: 1 }),
    (e: Error & { code?: string }) => e.code === 'bad_image' && /bad\.png/.test(e.message),
  );
});

test('rememberImage flags a near copy only when both CLIP and dHash agree, and links the earlier post', async () => {
  const index = new SqliteImageIndex({ path: ':memory:', ttlSeconds: 3600, maxPerChannel: 100 });
  const policy = { maxBits: 10, minSimilarity: 0.95 };
  const v = (x: number, y: number) => Float32Array.from([x, y].map((c) => c / Math.hypot(x, y)));
  const base = { index, key: 'c', author: 'alice', at: Date.now(), duplicates: policy };
  const first = await rememberImage({
    ...base,
    image: await loaded('a.png', await scene()),
    vector: v(1, 0),
    link: 'https://chat/1',
  });
  assert.deepEqual(first, {});
  // same layout, but CLIP says different content: no notice
  const sameLayout = await rememberImage({
    ...base,
    image: await loaded('a2.png', await scene(false, 97)),
    vector: v(0, 1),
    link: 'https://chat/2',
  });
  assert.deepEqual(sameLayout, {});
  // close in CLIP, different layout: no notice
  const sameContent = await rememberImage({
    ...base,
    image: await loaded('b.png', await scene(true)),
    vector: v(1, 0.01),
    link: 'https://chat/3',
  });
  assert.deepEqual(sameContent, {});
  const copy = await rememberImage({
    ...base,
    image: await loaded(
      'a.jpg',
      await sharp(await scene(false, 300))
        .jpeg({ quality: 60 })
        .toBuffer(),
    ),
    vector: v(1, 0.02),
    link: 'https://chat/4',
  });
  assert.equal(copy.duplicateOf?.link, 'https://chat/1');
  // without the policy (channel not opted in to notices) it is stored but never flagged
  const { duplicates: _policy, ...noNotices } = base;
  const quiet = await rememberImage({
    ...noNotices,
    image: await loaded('a.png', await scene()),
    vector: v(1, 0),
    link: 'x',
  });
  assert.deepEqual(quiet, {});
  assert.equal(await index.count('c'), 5);
  await index.close();
});
