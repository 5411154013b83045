import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_MEDIA_LIMITS } from '../../src/contracts/media.js';
import type { LoadedImage } from '../../src/contracts/request.js';
import { loadImage } from '../../src/core/media.js';
import { synthFlorence2 } from '../../src/demo/colourworld/index.js';
import { createFlorence2Captioner } from '../../src/models/caption/florence2.js';
import { createFlorence2Finder } from '../../src/models/find/florence2.js';
import { florence2Options } from '../../src/models/options.js';
import { createFlorence2Reader } from '../../src/models/read/florence2.js';
import { SharedModels } from '../../src/models/shared-models.js';
import type { BatchingSettings } from '../../src/models/tag/clip-towers.js';
import { solidPng } from '../fakes/images.js';
import { visionRecorder } from '../fakes/vision-runs.js';

/** Batches here start because they are full; the window only delays one that cannot fill. */
const WINDOW = 2000;
const on = (maxBatch: number): BatchingSettings => ({ enabled: true, windowMs: WINDOW, maxBatch });
const signal = () => new AbortController().signal;

async function image(hex: string): Promise<LoadedImage> {
  return loadImage(`${hex}.png`, await solidPng(hex), DEFAULT_MEDIA_LIMITS);
}

/** Caption, read and find on one shared Florence-2; `runs` records each batched vision-encoder run. */
async function florence(folder: string, batching?: BatchingSettings) {
  const { runs, hooks, queued } = visionRecorder();
  const load = {
    modelDir: folder,
    modelId: 'cw',
    executionProviders: ['cpu'],
    shared: new SharedModels(),
    ...(batching && { batching }),
  };
  const caption = await createFlorence2Captioner({ ...load, options: florence2Options.parse({ hooks }) });
  // every backend on the shared model hears each run: one counts them, all report their own queued images
  const queuedOnly = { onVisionQueued: hooks.onVisionQueued };
  const read = await createFlorence2Reader({
    ...load,
    options: florence2Options.parse({ hooks: queuedOnly }),
  });
  const find = await createFlorence2Finder({
    ...load,
    options: florence2Options.parse({ hooks: queuedOnly }),
  });
  return {
    caption,
    read,
    find,
    runs,
    queued,
    dispose: () => Promise.all([caption.dispose(), read.dispose(), find.dispose()]),
  };
}

describe('Florence-2: vision encoder batched across caption, read and find', () => {
  let root = '';
  let folder = '';
  let fragile = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'iris-florence-batching-'));
    folder = join(root, 'colour');
    fragile = join(root, 'fragile');
    await Promise.all([synthFlorence2(folder), synthFlorence2(fragile, { failOnMagenta: true })]);
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('concurrent requests share one vision-encoder run and each gets its unbatched answer', async () => {
    const [red, green, blue, yellow] = await Promise.all(
      ['#ff0000', '#00ff00', '#0000ff', '#ffff00'].map((hex) => image(hex)),
    );
    type F = Awaited<ReturnType<typeof florence>>;
    const requests = (f: F) => [
      f.caption.run({ image: red as LoadedImage }, { signal: signal() }),
      f.caption.run({ image: green as LoadedImage, detail: 'detailed' }, { signal: signal() }),
      f.read.run({ image: blue as LoadedImage }, { signal: signal() }),
      f.find.run({ image: yellow as LoadedImage, object: 'yellow' }, { signal: signal() }),
    ];
    const plain = await florence(folder);
    const expected = [];
    for (const request of requests(plain)) expected.push(await request);
    assert.deepEqual(plain.runs, [], 'without batching the vision encoder runs inside generate()');
    await plain.dispose();

    const batched = await florence(folder, on(4));
    const got = await Promise.all(requests(batched));
    assert.deepEqual(batched.runs, [4], 'caption, read and find images in one run');
    assert.deepEqual(got, expected);
    assert.match(JSON.stringify(got[0]), /red/);
    await batched.dispose();
  });

  it('a failing input fails only its own request', async () => {
    const f = await florence(fragile, on(3));
    const [red, magenta, blue] = await Promise.all(
      ['#ff0000', '#ff00ff', '#0000ff'].map((hex) => image(hex)),
    );
    const outcomes = await Promise.allSettled(
      [red, magenta, blue].map((img) => f.caption.run({ image: img as LoadedImage }, { signal: signal() })),
    );
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'fulfilled' ? /red|blue/.exec(o.value.caption)?.[0] : 'failed')),
      ['red', 'failed', 'blue'],
    );
    assert.match(String((outcomes[1] as PromiseRejectedResult).reason?.message), /vision encoder failed/);
    assert.deepEqual(f.runs, [3, 1, 1, 1], 'the batch failed; each of its images ran again alone');
    await f.dispose();
  });

  it('a request cancelled while its image waits leaves the batch; the others answer', async () => {
    const f = await florence(folder, on(3));
    const [red, green, blue, yellow] = await Promise.all(
      ['#ff0000', '#00ff00', '#0000ff', '#ffff00'].map((hex) => image(hex)),
    );
    const first = f.caption.run({ image: red as LoadedImage }, { signal: signal() });
    await f.queued(1);
    const cancel = new AbortController();
    const cancelled = f.read.run({ image: green as LoadedImage }, { signal: cancel.signal });
    await f.queued(2);
    cancel.abort(new Error('cancelled by its user'));
    await assert.rejects(cancelled, (e: Error & { code?: string }) => {
      assert.equal(e.code, 'cancelled');
      return true;
    });
    const more = [blue, yellow].map((img) =>
      f.caption.run({ image: img as LoadedImage }, { signal: signal() }),
    );
    const answers = await Promise.all([first, ...more]);
    assert.deepEqual(
      answers.map((a) => /red|blue|yellow/.exec(a.caption)?.[0]),
      ['red', 'blue', 'yellow'],
    );
    assert.deepEqual(f.runs, [3], 'the cancelled request took no place in the batch');
    await f.dispose();
  });
});
