import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { Backend, TaskIO } from '../../src/contracts/backend.js';
import { DEFAULT_MEDIA_LIMITS } from '../../src/contracts/media.js';
import type { LoadedImage } from '../../src/contracts/request.js';
import { loadImage } from '../../src/core/media.js';
import { synthBlip2, synthSmolVlm } from '../../src/demo/colourworld/index.js';
import { blip2Options, smolVlmOptions } from '../../src/models/options.js';
import type { BatchingSettings } from '../../src/models/tag/clip-towers.js';
import { createBlip2Vqa } from '../../src/models/vqa/blip2.js';
import { createSmolVlmVqa } from '../../src/models/vqa/smolvlm.js';
import { visionRecorder } from '../fakes/vision-runs.js';

/**
 * Batches here start because they are full, long before this window ends; the window only delays a
 * batch that cannot fill, so the tests never depend on how fast the machine is.
 */
const WINDOW = 2000;

type Vqa = Backend<'vqa'>;
type Question = TaskIO['vqa']['in'];
type Load = (o: { folder: string; batching?: BatchingSettings }) => Promise<Recorded>;

interface Recorded {
  vqa: Vqa;
  /** Frames (images) of each vision-encoder run, in order. */
  runs: number[];
  /** Resolves once `n` frames in all have joined the batcher. */
  queued(n: number): Promise<void>;
}

const loadSmolVlm: Load = async ({ folder, batching }) => {
  const { runs, hooks, queued } = visionRecorder();
  const vqa = await createSmolVlmVqa({
    modelDir: folder,
    modelId: 'cw',
    executionProviders: ['cpu'],
    options: smolVlmOptions.parse({ hooks }),
    ...(batching && { batching }),
  });
  return { vqa, runs, queued };
};

const loadBlip2: Load = async ({ folder, batching }) => {
  const { runs, hooks, queued } = visionRecorder();
  const vqa = await createBlip2Vqa({
    modelDir: folder,
    modelId: 'cw',
    executionProviders: ['cpu'],
    options: blip2Options.parse({ hooks }),
    ...(batching && { batching }),
  });
  return { vqa, runs, queued };
};

async function image(hex: string, width = 32, height = width): Promise<LoadedImage> {
  const png = await sharp({ create: { width, height, channels: 3, background: hex } })
    .png()
    .toBuffer();
  return loadImage(`${hex}.png`, png, DEFAULT_MEDIA_LIMITS);
}

const ask = (images: LoadedImage[], question = 'What colour is the ball?'): Question => ({
  images,
  question,
  history: [],
});
const run = (vqa: Vqa, q: Question, signal = new AbortController().signal) => vqa.run(q, { signal });
const on = (maxBatch: number): BatchingSettings => ({ enabled: true, windowMs: WINDOW, maxBatch });

let root = '';
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'iris-vqa-batching-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

for (const backend of [
  {
    name: 'SmolVLM',
    load: loadSmolVlm,
    synth: (dir: string, failOnMagenta: boolean) => synthSmolVlm(dir, { failOnMagenta }),
    /** Questions about different images by different users; the last one is about two images. */
    questions: async () => [
      ask([await image('#ff0000')]),
      ask([await image('#00ff00')], 'Which colour is the cat?'),
      ask([await image('#0000ff')], 'What colour is it?'),
      ask([await image('#ffff00'), await image('#00ffff')], 'Which colour?'),
    ],
    frames: 5,
  },
  {
    name: 'BLIP-2',
    load: loadBlip2,
    synth: (dir: string, failOnMagenta: boolean) => synthBlip2(dir, { failOnMagenta }),
    questions: async () => [
      ask([await image('#ff0000')]),
      ask([await image('#00ff00')], 'What colour is the cat?'),
      ask([await image('#0000ff')], 'What colour is the dog?'),
      ask([await image('#ffff00')], 'What colour is it?'),
    ],
    frames: 4,
  },
]) {
  describe(`${backend.name}: vision encoder batched across requests`, () => {
    let folder = '';
    let fragile = '';
    before(async () => {
      folder = join(root, `${backend.name}-colour`);
      fragile = join(root, `${backend.name}-fragile`);
      await Promise.all([backend.synth(folder, false), backend.synth(fragile, true)]);
    });

    it('concurrent questions share one vision-encoder run and each gets its unbatched answer', async () => {
      const questions = await backend.questions();
      const plain = await backend.load({ folder });
      const expected = [];
      for (const q of questions) expected.push(await run(plain.vqa, q));
      assert.deepEqual(
        plain.runs,
        questions.map((q) => q.images.length),
      );
      await plain.vqa.dispose();

      const batched = await backend.load({ folder, batching: on(backend.frames) });
      const got = await Promise.all(questions.map((q) => run(batched.vqa, q)));
      assert.deepEqual(batched.runs, [backend.frames], 'one run for every frame of every question');
      assert.deepEqual(got, expected);
      assert.ok(new Set(got.map((g) => g.answer)).size > 2, `distinct answers: ${got.map((g) => g.answer)}`);
      await batched.vqa.dispose();
    });

    it('a failing input fails only its own question', async () => {
      const b = await backend.load({ folder: fragile, batching: on(3) });
      const [red, magenta, blue] = await Promise.all(
        ['#ff0000', '#ff00ff', '#0000ff'].map((hex) => image(hex)),
      );
      const broken: LoadedImage = { ...(red as LoadedImage), bytes: Buffer.from('not a png at all') };
      const outcomes = await Promise.allSettled(
        [
          [red],
          [magenta], // the fragile encoder fails on any run holding magenta
          [broken], // fails to decode, before it joins a batch
          [blue],
        ].map((images) => run(b.vqa, ask(images as LoadedImage[]))),
      );
      assert.deepEqual(
        outcomes.map((o) => (o.status === 'fulfilled' ? o.value.answer : 'failed')),
        ['red', 'failed', 'failed', 'blue'],
      );
      const failed = outcomes[1] as PromiseRejectedResult;
      assert.match(String(failed.reason?.message), /vision encoder failed/);
      // the batch of three failed; each of its questions ran again alone
      assert.deepEqual(b.runs, [3, 1, 1, 1]);
      await b.vqa.dispose();
    });

    it('a question cancelled while its image waits leaves the batch; the others answer', async () => {
      const b = await backend.load({ folder, batching: on(3) });
      const first = run(b.vqa, ask([await image('#ff0000')]));
      await b.queued(1);
      const cancel = new AbortController();
      const cancelled = run(b.vqa, ask([await image('#00ff00')]), cancel.signal);
      await b.queued(2);
      cancel.abort(new Error('cancelled by its user'));
      await assert.rejects(cancelled, (e: Error & { code?: string }) => {
        assert.equal(e.code, 'cancelled');
        return true;
      });
      // two more questions fill the batch (3) with the one still waiting
      const blue = await image('#0000ff');
      const yellow = await image('#ffff00');
      const more = [run(b.vqa, ask([blue])), run(b.vqa, ask([yellow]))];
      assert.deepEqual(
        (await Promise.all([first, ...more])).map((a) => a.answer),
        ['red', 'blue', 'yellow'],
      );
      assert.deepEqual(b.runs, [3], 'the cancelled question took no place in the batch');
      await b.vqa.dispose();
    });
  });
}
