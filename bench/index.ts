/**
 * `npm run bench -- <name> [args…]`: side-by-side measurements printed as plain text.
 * Each bench module exports `run(args)`; add a line to BENCHES for a new one.
 */
const BENCHES: Record<
  string,
  { description: string; load: () => Promise<{ run(args: string[]): Promise<void> }> }
> = {
  tag: {
    description: 'CLIP zero-shot tagging: transformers.js pipeline vs raw ONNX vs iris',
    load: () => import('./tag.js'),
  },
  imagine: {
    description: 'Stable Diffusion pipeline: time in session.run vs glue (goal: glue ≤ 5 % of model time)',
    load: () => import('./imagine.js'),
  },
  queue: {
    description: 'jobs/s through the in-memory scheduler vs the Redis (BullMQ) queue, instant backend',
    load: () => import('./queue.js'),
  },
  dispatch: {
    description:
      'dispatch funnel overhead (p50/p99 ms) and jobs/s: 1,000 playground requests from 50 users, instant backend',
    load: () => import('./dispatch.js'),
  },
  read: {
    description: 'OCR: tesseract.js one-call API (worker per image) vs iris (one kept worker)',
    load: () => import('./read.js'),
  },
  caption: {
    description:
      'Florence-2 captions: transformers.js preprocessing of the full image vs iris (decode at model size)',
    load: () => import('./caption.js'),
  },
  vqa: {
    description: 'SmolVLM and BLIP-2 follow-up latency: turn 1 vs turn 2 reusing the image features',
    load: () => import('./vqa.js'),
  },
  memory: {
    description: 'RSS after caption vs caption + read + find (one Florence-2), tag vs tag + embed (one CLIP)',
    load: () => import('./memory.js'),
  },
  batching: {
    description:
      '64 concurrent /tags of one image from 16 users: dynamic batching off vs on (img/s, p99 added wait)',
    load: () => import('./batching.js'),
  },
  similar: {
    description: '/similar query time at 1k, 10k, 100k stored embeddings: SQLite scan vs in-memory matrix',
    load: () => import('./similar.js'),
  },
};

const [name, ...args] = process.argv.slice(2);
const bench = name ? BENCHES[name] : undefined;
if (!bench) {
  console.error(`usage: npm run bench -- <name> [args]\n\nbenches:`);
  for (const [n, b] of Object.entries(BENCHES)) console.error(`  ${n.padEnd(10)} ${b.description}`);
  process.exit(name ? 2 : 0);
}
await (await bench.load()).run(args);
