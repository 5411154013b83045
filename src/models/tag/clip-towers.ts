/**
 * CLIP's two towers as the tag and embed backends call them: each call is one `session.run` over a batch
 * (batch dimension N), one run at a time per loaded model (the run is the GPU's time; decoding and resizing
 * happen before, in the caller). With batching on, each image or text is an item of a dynamic batcher
 * (../../core/batcher.ts), so the tower calls of concurrent requests — tag and embed alike, since the
 * towers belong to the shared loaded model — run together.
 */
import Bottleneck from 'bottleneck';
import * as ort from 'onnxruntime-node';
import { Batcher } from '../../core/batcher.js';
import { BackendError } from '../../errors.js';
import type { ClipTaggerHooks } from '../options.js';
import { floatTensor, tensorToFloat32 } from '../tensors.js';
import type { LoadedClip } from './clip-model.js';

/** config `scheduler.batching`. */
export interface BatchingSettings {
  enabled: boolean;
  /** How long the first request of a batch waits for others. */
  windowMs: number;
  /** Images per vision-tower run at most. */
  maxBatch: number;
}

export const BATCHING_OFF: BatchingSettings = { enabled: false, windowMs: 0, maxBatch: 1 };

/** Texts per text-tower run: short and cheap, so label sets embed in one run. */
const TEXT_BATCH = 64;

export interface TowerCall {
  signal?: AbortSignal;
  /** Epoch ms by which the call's batch must have started. */
  deadline?: number;
  /** Items of one owner take turns with other owners' items in a batch: pass one object per request. */
  owner?: unknown;
}

/** Row-major embeddings, [rows, dim], not normalised. */
export interface Embeddings {
  data: Float32Array;
  dim: number;
}

interface PixelItem {
  pixels: Float32Array;
  height: number;
  width: number;
}

export class ClipTowers {
  readonly #clip: LoadedClip;
  /** One tower run at a time: concurrent runs on one device only slow each other down. */
  readonly #gate = new Bottleneck({ maxConcurrent: 1 });
  readonly #vision?: Batcher<PixelItem, Float32Array>;
  readonly #text?: Batcher<string, Float32Array>;
  readonly #hooks = new Set<ClipTaggerHooks>();
  /** A graph whose batch dimension is a fixed number takes at most that many images per run. */
  readonly maxVisionBatch: number;

  constructor(clip: LoadedClip, batching: BatchingSettings = BATCHING_OFF) {
    this.#clip = clip;
    const meta = clip.vision.inputMetadata.find((m) => m.name === clip.visionIn);
    const fixed = meta?.isTensor ? meta.shape[0] : undefined;
    this.maxVisionBatch = typeof fixed === 'number' && fixed > 0 ? fixed : Number.POSITIVE_INFINITY;
    if (batching.enabled) {
      this.#vision = new Batcher({
        windowMs: batching.windowMs,
        maxBatch: Math.min(batching.maxBatch, this.maxVisionBatch),
        keyOf: (item) => `${item.height}x${item.width}`,
        run: (items) => this.#runVisionItems(items),
        onBatch: (_size, waited) => {
          for (const h of this.#hooks) h.onVisionBatch?.(waited);
        },
      });
      this.#text = new Batcher({
        windowMs: batching.windowMs,
        maxBatch: TEXT_BATCH,
        run: async (texts) => {
          const { data, dim } = await this.#runText(texts);
          return texts.map((_, i) => data.slice(i * dim, (i + 1) * dim));
        },
      });
    }
  }

  get batching(): boolean {
    return this.#vision !== undefined;
  }

  /** Observe tower runs (tests, metrics); returns the function that stops observing. */
  observe(hooks: ClipTaggerHooks): () => void {
    this.#hooks.add(hooks);
    return () => this.#hooks.delete(hooks);
  }

  /**
   * Image embeddings of `n` preprocessed images (`pixels` is [n, 3, height, width]). Without batching it
   * is one run (the caller chunks); with batching each image joins the shared batcher.
   */
  async embedImages(
    pixels: Float32Array,
    shape: { n: number; height: number; width: number },
    call: TowerCall = {},
  ): Promise<Embeddings> {
    const { n, height, width } = shape;
    const per = 3 * height * width;
    if (!this.#vision) return this.#gate.schedule(() => this.#runVision(pixels, shape));
    const vision = this.#vision;
    const owner = call.owner ?? {};
    const rows = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        vision.submit({ pixels: pixels.subarray(i * per, (i + 1) * per), height, width }, { ...call, owner }),
      ),
    );
    return stack(rows);
  }

  /** Text embeddings of `texts` as given (templates already applied). */
  async embedTexts(texts: string[], call: TowerCall = {}): Promise<Embeddings> {
    const text = this.#text;
    if (!text) {
      const parts: Float32Array[] = [];
      let dim = 0;
      for (let i = 0; i < texts.length; i += TEXT_BATCH) {
        const out = await this.#gate.schedule(() => this.#runText(texts.slice(i, i + TEXT_BATCH)));
        dim = out.dim;
        parts.push(out.data);
      }
      return { data: concat(parts), dim };
    }
    const owner = call.owner ?? {};
    return stack(await Promise.all(texts.map((t) => text.submit(t, { ...call, owner }))));
  }

  async #runVisionItems(items: PixelItem[]): Promise<Float32Array[]> {
    const first = items[0] as PixelItem;
    const per = first.pixels.length;
    const pixels = new Float32Array(items.length * per);
    items.forEach((item, i) => {
      pixels.set(item.pixels, i * per);
    });
    const shape = { n: items.length, height: first.height, width: first.width };
    const { data, dim } = await this.#gate.schedule(() => this.#runVision(pixels, shape));
    return items.map((_, i) => data.slice(i * dim, (i + 1) * dim));
  }

  async #runVision(
    pixels: Float32Array,
    shape: { n: number; height: number; width: number },
  ): Promise<Embeddings> {
    const { vision, visionIn, visionOut, pixelType } = this.#clip;
    for (const h of this.#hooks) h.onVisionRun?.(shape.n);
    const input = floatTensor(pixelType, pixels, [shape.n, 3, shape.height, shape.width]);
    let out: ort.InferenceSession.OnnxValueMapType;
    const started = performance.now();
    try {
      out = await vision.run({ [visionIn]: input }, [visionOut]);
    } catch (cause) {
      throw towerFailed('vision', cause);
    }
    const ms = performance.now() - started;
    for (const h of this.#hooks) h.onVisionRan?.(shape.n, ms);
    const emb = out[visionOut] as ort.Tensor;
    return { data: tensorToFloat32(emb), dim: emb.dims[1] as number };
  }

  async #runText(texts: string[]): Promise<Embeddings> {
    const { tokenizer, text, textInputs, textOut } = this.#clip;
    const enc = tokenizer(texts, { padding: true, truncation: true, max_length: 77 }) as unknown as {
      input_ids: { data: BigInt64Array; dims: number[] };
      attention_mask: { data: BigInt64Array; dims: number[] };
    };
    const intTensor = (name: string, data: BigInt64Array, dims: number[]) =>
      textInputs.get(name) === 'int32'
        ? new ort.Tensor(
            'int32',
            Int32Array.from(data, (x) => Number(x)),
            dims,
          )
        : new ort.Tensor('int64', data, dims);
    const feeds: Record<string, ort.Tensor> = {};
    if (textInputs.has('input_ids'))
      feeds.input_ids = intTensor('input_ids', enc.input_ids.data, enc.input_ids.dims);
    if (textInputs.has('attention_mask'))
      feeds.attention_mask = intTensor('attention_mask', enc.attention_mask.data, enc.attention_mask.dims);
    for (const h of this.#hooks) h.onTextRun?.(texts.length);
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await text.run(feeds, [textOut]);
    } catch (cause) {
      throw towerFailed('text', cause);
    }
    const t = out[textOut] as ort.Tensor;
    return { data: tensorToFloat32(t), dim: t.dims[1] as number };
  }
}

function towerFailed(tower: 'text' | 'vision', cause: unknown): BackendError {
  return new BackendError('model_failed', `clip: ${tower} tower failed: ${(cause as Error).message}`, {
    isRetryable: false,
    cause,
  });
}

function stack(rows: Float32Array[]): Embeddings {
  return { data: concat(rows), dim: rows[0]?.length ?? 0 };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((off, p) => {
    out.set(p, off);
    return off + p.length;
  }, 0);
  return out;
}
