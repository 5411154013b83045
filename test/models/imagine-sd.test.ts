import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import type { Backend } from '../../src/contracts/backend.js';
import type { ImagineIO } from '../../src/contracts/tasks/imagine.js';
import { readPngText } from '../../src/core/provenance/png-text.js';
import { synthAll } from '../../src/demo/colourworld/index.js';
import { isUserError } from '../../src/errors.js';
import { createSdBackend } from '../../src/models/imagine/sd.js';
import { timestepTensor } from '../../src/models/imagine/tensors.js';
import { loadClipTokenizer } from '../../src/models/imagine/tokenizer.js';
import { sdOptions } from '../../src/models/options.js';
import { fromFloat16, toFloat16 } from '../../src/models/tensors.js';
import { dominant } from '../fakes/colours.js';

const TURBO = 'onnxruntime/sd-turbo';
const V15 = 'stable-diffusion-v1-5/stable-diffusion-v1-5';
const signal = new AbortController().signal;

let root = '';
const backends: Record<string, Backend<'imagine'>> = {};
const sessionRuns: string[] = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'iris-sd-'));
  await synthAll(root);
  for (const id of [TURBO, V15]) {
    backends[id] = await createSdBackend({
      modelDir: join(root, id),
      modelId: id,
      executionProviders: ['cpu'],
      options: sdOptions.parse({ hooks: { onSessionRun: (name: string) => sessionRuns.push(name) } }),
    });
  }
});
after(async () => {
  for (const b of Object.values(backends)) await b.dispose();
  await rm(root, { recursive: true, force: true });
});

const turbo = (over: Partial<ImagineIO['in']> = {}): ImagineIO['in'] => ({
  prompt: 'a red square',
  seed: 7,
  steps: 1,
  guidance: 0,
  width: 128,
  height: 128,
  count: 1,
  ...over,
});
const v15 = (over: Partial<ImagineIO['in']> = {}): ImagineIO['in'] =>
  turbo({ steps: 6, guidance: 7.5, ...over });

describe('colour-world tokenizers (transformers.js, real CLIP BPE files)', () => {
  it('turbo: tokenizer.json built from vocab.json + merges.txt; "!" pads to 77', async () => {
    const tok = await loadClipTokenizer(join(root, TURBO));
    const { ids } = tok.encode(['a red square', 'A  RED, Square!']);
    assert.equal(tok.length, 77);
    const first = ids[0] as number[];
    assert.equal(first.length, 77);
    // <|startoftext|> a</w> red</w> square</w> <|endoftext|> then '!' (id 0) padding, as SD 2.x
    assert.equal(first[1], 320, 'a</w> has id 320 as in the real CLIP vocab');
    assert.equal(first[5], 0);
    assert.deepEqual(
      first.slice(1, 4),
      (ids[1] as number[]).filter((_, i) => i === 1 || i === 2 || i === 4),
    );
  });

  it('v1-5: ships tokenizer.json; pads with <|endoftext|>; long prompts are cut to 77 with EOS last', async () => {
    const tok = await loadClipTokenizer(join(root, V15));
    const { ids, truncated } = tok.encode(['a blue circle', Array(100).fill('red').join(' ')]);
    const eos = (ids[0] as number[])[4];
    assert.equal((ids[0] as number[])[76], eos);
    assert.deepEqual(truncated, [false, true]);
    assert.equal((ids[1] as number[]).length, 77);
    assert.equal((ids[1] as number[])[76], eos);
  });
});

describe('imagine/sd on the colour world', () => {
  for (const [id, make] of [
    [TURBO, turbo],
    [V15, v15],
  ] as const) {
    for (const colour of ['red', 'green', 'blue']) {
      it(`${id}: "a ${colour} square" is mostly ${colour}`, async () => {
        const out = await backends[id]?.run(make({ prompt: `a ${colour} square` }), { signal });
        const img = out?.images[0];
        assert.ok(img);
        const meta = await sharp(img.png).metadata();
        assert.deepEqual([meta.format, meta.width, meta.height], ['png', 128, 128]);
        const d = await dominant(img.png);
        assert.equal(d.colour, colour);
        assert.ok(d.share >= 0.8, `${colour}: ${d.share}`);
      });
    }
  }

  it('same seed → identical bytes; another seed → other bytes, same colour', async () => {
    const b = backends[TURBO] as Backend<'imagine'>;
    const a1 = (await b.run(turbo({ seed: 42 }), { signal })).images[0]?.png as Buffer;
    const a2 = (await b.run(turbo({ seed: 42 }), { signal })).images[0]?.png as Buffer;
    const c = (await b.run(turbo({ seed: 43 }), { signal })).images[0]?.png as Buffer;
    assert.ok(a1.equals(a2), 'same seed, same bytes');
    assert.ok(!a1.equals(c), 'different seed, different bytes');
    assert.equal((await dominant(c)).colour, 'red');
  });

  it('count 2 gives seeds s and s+1; image 2 equals a single run with seed s+1', async () => {
    const b = backends[V15] as Backend<'imagine'>;
    const two = await b.run(v15({ seed: 100, count: 2, steps: 3 }), { signal });
    assert.deepEqual(
      two.images.map((i) => i.seed),
      [100, 101],
    );
    const single = await b.run(v15({ seed: 101, steps: 3 }), { signal });
    const [px2, px1] = await Promise.all([
      sharp(two.images[1]?.png).raw().toBuffer(),
      sharp(single.images[0]?.png).raw().toBuffer(),
    ]);
    let maxDiff = 0;
    for (let i = 0; i < px1.length; i++)
      maxDiff = Math.max(maxDiff, Math.abs((px1[i] as number) - (px2[i] as number)));
    assert.ok(maxDiff <= 1, `batched and single runs agree (max diff ${maxDiff})`);
  });

  it('guidance with a negative prompt changes the output and batches uncond+cond in one UNet call', async () => {
    const b = backends[V15] as Backend<'imagine'>;
    sessionRuns.length = 0;
    const plain = await b.run(v15({ steps: 4 }), { signal });
    assert.equal(
      sessionRuns.filter((n) => n === 'unet').length,
      5,
      'PNDM: steps + 1 UNet calls, one per step',
    );
    assert.equal(sessionRuns.filter((n) => n === 'text_encoder').length, 1, 'negative + prompt in one call');
    const negative = await b.run(v15({ steps: 4, negative: 'blue' }), { signal });
    assert.ok(!plain.images[0]?.png.equals(negative.images[0]?.png as Buffer));
    assert.equal((await dominant(negative.images[0]?.png as Buffer)).colour, 'red');
  });

  for (const scheduler of ['euler', 'euler_a', 'lms', 'ddim', 'pndm']) {
    it(`scheduler ${scheduler} lands on the prompt's colour`, async () => {
      const out = await backends[V15]?.run(v15({ prompt: 'a green square', scheduler, steps: 8 }), {
        signal,
      });
      assert.equal(out?.scheduler, scheduler);
      assert.equal((await dominant(out?.images[0]?.png as Buffer)).colour, 'green');
    });
  }

  it('writes prompt, seed, steps and model into the PNG text chunk', async () => {
    const out = await backends[V15]?.run(
      v15({ prompt: 'a blue circle ☀', negative: 'red', modelName: 'v1-5' }),
      {
        signal,
      },
    );
    const text = readPngText(out?.images[0]?.png as Buffer);
    assert.equal(text.Software, 'iris');
    assert.equal(
      text.parameters,
      'a blue circle ☀\nNegative prompt: red\nSteps: 6, Sampler: PNDM, CFG scale: 7.5, Seed: 7, Size: 128x128, Model: v1-5',
    );
  });

  it('reports every step and previews every N steps; aborting stops within one step', async () => {
    const b = backends[V15] as Backend<'imagine'>;
    const steps: number[] = [];
    let previews = 0;
    await b.run(v15({ steps: 10, scheduler: 'ddim', previewEvery: 3 }), {
      signal,
      onProgress: (p) => {
        steps.push(p.step as number);
        if (p.preview) previews++;
        assert.equal(p.total, 10);
      },
    });
    assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(previews, 3);

    const abort = new AbortController();
    sessionRuns.length = 0;
    const seen: number[] = [];
    await assert.rejects(
      b.run(v15({ steps: 20, scheduler: 'ddim' }), {
        signal: abort.signal,
        onProgress: (p) => {
          seen.push(p.step as number);
          if (p.step === 3) abort.abort();
        },
      }),
      (e) => isUserError(e) && e.code === 'cancelled',
    );
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(sessionRuns.filter((n) => n === 'unet').length, 3, 'no UNet call after the abort');
    assert.ok(!sessionRuns.includes('vae_decoder'));
  });

  it('PNDM counts the steps asked for (its warm-up UNet call is part of step 1); progress has no text of its own', async () => {
    const b = backends[V15] as Backend<'imagine'>;
    const seen: string[] = [];
    sessionRuns.length = 0;
    await b.run(v15({ steps: 5, scheduler: 'pndm' }), {
      signal,
      onProgress: (p) => {
        seen.push(`${p.step}/${p.total}`);
        // every renderer (Discord, Slack, playground, console, CLI bar) writes "step N/M" from these fields
        assert.equal(p.message, undefined);
      },
    });
    assert.equal(sessionRuns.filter((n) => n === 'unet').length, 6, 'PNDM runs one UNet call more');
    assert.deepEqual(seen, ['1/5', '2/5', '3/5', '4/5', '5/5']);
  });

  for (const id of [TURBO, V15]) {
    it(`${id}: a variation (img2img through vae_encoder) moves a blue image towards a red prompt`, async () => {
      const blue = await sharp({ create: { width: 96, height: 80, channels: 3, background: '#0000ff' } })
        .png()
        .toBuffer();
      const image = { name: 'b.png', bytes: blue, format: 'png' as const, width: 96, height: 80 };
      const b = backends[id] as Backend<'imagine'>;
      const make = id === TURBO ? turbo : v15;
      const high = await b.run(make({ init: { image, strength: 1 } }), { signal });
      assert.equal((await dominant(high.images[0]?.png as Buffer)).colour, 'red');
      const low = await b.run(
        make({ steps: id === TURBO ? 1 : 20, init: { image, strength: id === TURBO ? 0.2 : 0.05 } }),
        {
          signal,
        },
      );
      if (id === V15)
        assert.equal(
          (await dominant(low.images[0]?.png as Buffer)).colour,
          'blue',
          'low strength keeps blue',
        );
      if (id === TURBO) assert.equal(low.steps, 5, 'turbo: steps raised so that steps × strength ≥ 1');
    });
  }
});

describe('tensor glue', () => {
  it('fp16 round trip is exact for halves and rounds to nearest even', () => {
    const values = Float32Array.from([0, -0, 1, -2.5, 65504, 1e-7, 0.1, 2.71875, 1e6]);
    const back = fromFloat16(toFloat16(values));
    assert.deepEqual([...back.slice(0, 5)], [0, -0, 1, -2.5, 65504]);
    assert.ok(Math.abs((back[6] as number) - 0.1) < 1e-4);
    assert.equal(back[8], Number.POSITIVE_INFINITY);
    assert.equal(fromFloat16(toFloat16(Float32Array.of(1 + 2 ** -11)))[0], 1, 'tie → even');
    assert.equal(
      fromFloat16(toFloat16(Float32Array.of(1 + 3 * 2 ** -11)))[0],
      1 + 2 ** -9,
      'tie → even (up)',
    );
  });

  it('timestep tensors follow the metadata: dtype, scalar, fixed length or batch', () => {
    const t = (type: string, shape: (number | string)[]) =>
      timestepTensor({ name: 'timestep', type, shape }, 999, 4);
    assert.deepEqual(t('int64', [1]).dims, [1]);
    assert.equal((t('int64', [1]).data as BigInt64Array)[0], 999n);
    assert.deepEqual(t('float32', ['batch']).dims, [4]);
    assert.deepEqual(t('float16', []).dims, []);
    assert.equal(fromFloat16(t('float16', ['b']).data as Uint16Array)[3], 999);
    assert.ok(t('int32', [2]) instanceof ort.Tensor);
    assert.throws(() => t('string', [1]), /not supported/);
  });
});
