/**
 * `npm run bench -- similar [--dim 512] [--queries 20] [--k 5]`
 *
 * Query time of /similar's index (SqliteImageIndex.search: a batched cosine scan over one channel's rows
 * in the SQLite file) at 1k, 10k and 100k stored embeddings (synthetic random unit vectors, CLIP
 * ViT-B/32's 512 dims), side by side with the same scan over an in-memory Float32Array matrix (what a
 * per-channel cache would cost; the ceiling for an exact scan). Another channel holds as many rows again,
 * so the conversation filter is exercised. Median of the queries after one warm-up.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type IndexedImage, TopK } from '../src/core/image-index.js';
import { SqliteImageIndex } from '../src/core/image-index-sqlite.js';
import { flag } from './args.js';

/** Deterministic pseudo-random unit vectors (xorshift), so runs compare. */
function vectors(n: number, dim: number, seed: number): Float32Array {
  const out = new Float32Array(n * dim);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  for (let r = 0; r < n; r++) {
    const row = out.subarray(r * dim, (r + 1) * dim);
    const norm = Math.hypot(...row);
    for (let d = 0; d < dim; d++) row[d] = (row[d] as number) / norm;
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function matrixScan(matrix: Float32Array, dim: number, q: Float32Array, k: number): number[] {
  const top = new TopK(k);
  const n = matrix.length / dim;
  for (let r = 0; r < n; r++) {
    let s = 0;
    const o = r * dim;
    for (let d = 0; d < dim; d++) s += (q[d] as number) * (matrix[o + d] as number);
    top.offer(s, r);
  }
  return top.ids;
}

export async function run(args: string[]): Promise<void> {
  const dim = flag(args, 'dim', 512);
  const queries = flag(args, 'queries', 20);
  const k = flag(args, 'k', 5);
  const dir = await mkdtemp(join(tmpdir(), 'iris-bench-similar-'));
  const index = new SqliteImageIndex({
    path: join(dir, 'iris.sqlite'),
    ttlSeconds: 10 * 365 * 86400,
    maxPerChannel: 1_000_000,
  });
  const qs = vectors(queries + 1, dim, 7);
  console.log(`similar: exact cosine top-${k}, ${dim} dims, median of ${queries} queries`);
  console.log('stored   sqlite scan (ms)   in-memory matrix (ms)   sqlite / matrix');
  let stored = 0;
  const all = vectors(100_000, dim, 1);
  try {
    for (const target of [1_000, 10_000, 100_000]) {
      const rows: IndexedImage[] = [];
      for (let i = stored; i < target; i++) {
        rows.push({
          link: `https://chat.example/m/${i}`,
          author: `u${i % 17}`,
          name: `img${i}.png`,
          at: Date.now(),
          hash: `h${i}`,
          vector: all.slice(i * dim, (i + 1) * dim),
        });
      }
      for (let i = 0; i < rows.length; i += 5_000) {
        const part = rows.slice(i, i + 5_000);
        await index.addMany('bench:channel', part);
        await index.addMany('bench:other', part);
      }
      stored = target;
      const matrix = all.subarray(0, target * dim);
      const sqliteMs: number[] = [];
      const matrixMs: number[] = [];
      for (let q = 0; q <= queries; q++) {
        const query = qs.subarray(q * dim, (q + 1) * dim);
        let t = performance.now();
        const hits = await index.search('bench:channel', query, k);
        const a = performance.now() - t;
        t = performance.now();
        const ids = matrixScan(matrix, dim, query, k);
        const b = performance.now() - t;
        if (hits[0]?.image.name !== `img${ids[0]}.png`) throw new Error('the two scans disagree');
        if (q === 0) continue; // warm-up
        sqliteMs.push(a);
        matrixMs.push(b);
      }
      const s = median(sqliteMs);
      const m = median(matrixMs);
      console.log(
        `${String(target).padStart(7)}   ${s.toFixed(2).padStart(16)}   ${m.toFixed(2).padStart(21)}   ${(s / m).toFixed(1).padStart(15)}×`,
      );
    }
  } finally {
    await index.close();
    await rm(dir, { recursive: true, force: true });
  }
}
