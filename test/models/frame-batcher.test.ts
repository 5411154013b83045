import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Frame, FrameBatcher, framesOf, type StackedInputs } from '../../src/models/frame-batcher.js';

/** A frame of `values` with dims `dims` (their product is values.length). */
const frame = (dims: number[], ...values: number[]): Frame => ({
  x: { type: 'float32', data: Float32Array.from(values), dims },
});

/** A fake encoder: each frame's output is [its first value, its value count]; records each run's inputs. */
function fakeEncoder(windowMs = 20, maxBatch = 8) {
  const runs: number[][] = [];
  const batcher = new FrameBatcher({
    batching: { enabled: true, windowMs, maxBatch },
    encode: async ({ x }: StackedInputs, frames) => {
      const input = x as { data: Float32Array; dims: readonly number[] };
      runs.push([...input.dims]);
      const per = input.data.length / frames;
      const data = new Float32Array(frames * 2);
      for (let i = 0; i < frames; i++) data.set([input.data[i * per] as number, per], i * 2);
      return { data, dims: [frames, 2] };
    },
  });
  return { batcher, runs };
}

const call = () => ({ signal: new AbortController().signal });

describe('FrameBatcher (vision encoders of the VQA backends)', () => {
  it('frames of different shapes never share a run; frame counts may differ', async () => {
    const { batcher, runs } = fakeEncoder();
    const [two, wide, one] = await Promise.all([
      batcher.encode([frame([2, 2], 1, 0, 0, 0), frame([2, 2], 2, 0, 0, 0)], call()),
      batcher.encode([frame([1, 4], 3, 0, 0, 0)], call()),
      batcher.encode([frame([2, 2], 4, 0, 0, 0)], call()),
    ]);
    assert.deepEqual(runs, [
      [3, 2, 2],
      [1, 1, 4],
    ]);
    // requests take turns inside the run (1, 4, then 2), and each gets its own frames back in order
    assert.deepEqual([...(two?.data ?? [])], [1, 4, 2, 4]);
    assert.deepEqual(two?.dims, [2, 2]);
    assert.deepEqual([...(wide?.data ?? [])], [3, 4]);
    assert.deepEqual([...(one?.data ?? [])], [4, 4]);
  });

  it('maxBatch bounds the frames of one run', async () => {
    const { batcher, runs } = fakeEncoder(20, 2);
    const out = await batcher.encode(
      [1, 2, 3].map((v) => frame([1], v)),
      call(),
    );
    assert.deepEqual(runs, [
      [2, 1],
      [1, 1],
    ]);
    assert.deepEqual([...out.data], [1, 1, 2, 1, 3, 1]);
  });

  it('an encoder that answers the wrong number of frames fails the request, not silently', async () => {
    const batcher = new FrameBatcher({
      batching: { enabled: true, windowMs: 0, maxBatch: 4 },
      encode: async () => ({ data: new Float32Array(2), dims: [2, 1] }),
    });
    await assert.rejects(batcher.encode([frame([1], 1)], call()), /answered 2 frames for 1/);
  });

  it('framesOf cuts [batch 1, frames, ...] inputs into frames', () => {
    const frames = framesOf(
      {
        pixel_values: { type: 'float32', data: Float32Array.from([1, 2, 3, 4, 5, 6]), dims: [1, 3, 2] },
        mask: { type: 'bool', data: Uint8Array.from([1, 0, 1]), dims: [1, 3, 1] },
      },
      2,
    );
    assert.equal(frames.length, 3);
    assert.deepEqual([...(frames[1]?.pixel_values?.data ?? [])], [3, 4]);
    assert.deepEqual(frames[1]?.pixel_values?.dims, [2]);
    assert.deepEqual([...(frames[1]?.mask?.data ?? [])], [0]);
    assert.throws(
      () =>
        framesOf(
          {
            a: { type: 'float32', data: new Float32Array(4), dims: [1, 2, 2] },
            b: { type: 'float32', data: new Float32Array(3), dims: [1, 3, 1] },
          },
          2,
        ),
      /b holds 3 frames, not 2/,
    );
  });
});
