/**
 * A backend's vision encoder behind the dynamic batcher (../core/batcher.ts), with `scheduler.batching`
 * on: the frames (SmolVLM) or images (BLIP-2, Florence-2) of concurrent requests run as one encoder run,
 * and each request gets its own frames' outputs back.
 *
 * Each frame is one item, as each image is for the CLIP towers: `maxBatch` bounds the frames of one run,
 * requests take turns frame by frame (one request's 13 split frames cannot fill a run ahead of others),
 * and frames whose inputs differ in shape never share a run. Every frame must be encoded independently of
 * the others in its run (true of ViT encoders: attention stays within a frame).
 *
 * These backends run on the scheduler's `gpu` queue, whose `maxConcurrent` defaults to 1: only when an
 * operator raises it (e.g. on a GPU), or on a worker with `--slots` above 1, are there concurrent requests
 * whose frames can meet here, and only then does the registry hand these backends `batching`.
 */
import type * as ort from 'onnxruntime-node';
import type { RunOptions } from '../contracts/backend.js';
import { Batcher } from '../core/batcher.js';
import { BackendError, UserError } from '../errors.js';
import type { BatchingSettings } from './tag/clip-towers.js';

type FrameData = Float32Array | Uint8Array;

/** One input of one frame: its data and its dims without the frame dimension. */
export interface FrameInput {
  type: 'float32' | 'bool';
  data: FrameData;
  dims: readonly number[];
}

/** One frame's inputs, by input name. */
export type Frame = Record<string, FrameInput>;

/** The stacked inputs of a run: per name, the frames' data one after the other, dims [frames, ...]. */
export type StackedInputs = Record<string, FrameInput>;

/** An encoder output: float32 data with its dims, the first being the frame. */
export interface FrameOutput {
  data: Float32Array;
  dims: readonly number[];
}

export interface FrameBatcherOptions {
  batching: BatchingSettings;
  /** Frames one run of the graph takes at most (a fixed frame or batch dimension); default no limit. */
  maxFrames?: number;
  /** Runs the encoder over stacked frames; answers an output whose first dimension is the frame. */
  encode(inputs: StackedInputs, frames: number): Promise<FrameOutput>;
}

export class FrameBatcher {
  readonly #batcher: Batcher<Frame, FrameOutput>;

  constructor(options: FrameBatcherOptions) {
    const { batching, encode } = options;
    this.#batcher = new Batcher({
      windowMs: batching.windowMs,
      maxBatch: Math.max(1, Math.min(batching.maxBatch, options.maxFrames ?? Number.POSITIVE_INFINITY)),
      keyOf: shapeKey,
      run: async (frames) => splitFrames(await encode(stack(frames), frames.length), frames.length),
    });
  }

  /**
   * Encodes one request's frames (each joins the shared batcher, the request's deadline bounding its wait);
   * answers their outputs stacked in order, dims [frames, ...]. `onQueued` observes the frames joining.
   */
  async encode(
    frames: Frame[],
    call: Pick<RunOptions, 'signal' | 'deadline'> & { onQueued?(frames: number): void },
  ): Promise<FrameOutput> {
    const submit = {
      signal: call.signal,
      owner: {},
      ...(call.deadline !== undefined && { deadline: call.deadline }),
    };
    const pending = Promise.all(frames.map((frame) => this.#batcher.submit(frame, submit)));
    call.onQueued?.(frames.length);
    let outputs: FrameOutput[];
    try {
      outputs = await pending;
    } catch (err) {
      if (call.signal.aborted) throw new UserError('cancelled', 'the request was cancelled');
      throw err;
    }
    const first = outputs[0];
    if (!first) throw new BackendError('bad_input', 'no frames to encode', { isRetryable: false });
    return {
      data: concat(
        outputs.map((o) => o.data),
        (n) => new Float32Array(n),
      ),
      dims: [outputs.length, ...first.dims.slice(1)],
    };
  }
}

/**
 * Cuts stacked inputs into frames: each input's first `leading` dims (e.g. [batch 1, frames]) are the frames,
 * the rest is one frame's dims. Every input must hold the same number of frames.
 */
export function framesOf(inputs: StackedInputs, leading: number): Frame[] {
  const entries = Object.entries(inputs);
  const count = (dims: readonly number[]) => dims.slice(0, leading).reduce((a, b) => a * b, 1);
  const n = count(entries[0]?.[1].dims ?? []);
  for (const [name, input] of entries) {
    if (count(input.dims) !== n)
      throw new Error(`FrameBatcher: ${name} holds ${count(input.dims)} frames, not ${n}`);
  }
  return Array.from({ length: n }, (_, i) =>
    Object.fromEntries(
      entries.map(([name, { type, data, dims }]) => {
        const per = data.length / n;
        return [name, { type, data: data.subarray(i * per, (i + 1) * per), dims: dims.slice(leading) }];
      }),
    ),
  );
}

/** An input's dimension `at` where the graph fixes it to a number (a batch of 1), else undefined. */
export function fixedDim(session: ort.InferenceSession, input: string, at: number): number | undefined {
  const meta = session.inputMetadata.find((m) => m.name === input);
  const dim = meta?.isTensor ? meta.shape[at] : undefined;
  return typeof dim === 'number' && dim > 0 ? dim : undefined;
}

function shapeKey(frame: Frame): string {
  return Object.entries(frame)
    .map(([name, { type, dims }]) => `${name}:${type}[${dims.join(',')}]`)
    .sort()
    .join(' ');
}

function stack(frames: Frame[]): StackedInputs {
  const first = frames[0] as Frame;
  return Object.fromEntries(
    Object.entries(first).map(([name, { type, data, dims }]) => {
      const parts = frames.map((f) => (f[name] as FrameInput).data);
      const out =
        data instanceof Float32Array
          ? concat(parts as Float32Array[], (n) => new Float32Array(n))
          : concat(parts as Uint8Array[], (n) => new Uint8Array(n));
      return [name, { type, data: out, dims: [frames.length, ...dims] }];
    }),
  );
}

function splitFrames(out: FrameOutput, frames: number): FrameOutput[] {
  if (out.dims[0] !== frames) {
    throw new BackendError(
      'model_failed',
      `the vision encoder answered ${out.dims[0]} frames for ${frames}: not a per-frame encoder`,
      { isRetryable: false },
    );
  }
  const per = out.data.length / frames;
  const dims = [1, ...out.dims.slice(1)];
  return Array.from({ length: frames }, (_, i) => ({ data: out.data.slice(i * per, (i + 1) * per), dims }));
}

function concat<A extends Float32Array | Uint8Array>(parts: A[], make: (length: number) => A): A {
  const out = make(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
