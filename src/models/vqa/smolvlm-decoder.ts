/**
 * SmolVLM's `decoder_model_merged` session, fed as transformers.js feeds it: inputs_embeds, an all-ones
 * attention_mask over past + new tokens, position_ids counting on from the past (cumsum of the mask − 1),
 * past_key_values.{i}.key/value (empty at the start: shapes from the session, heads and head size from
 * config.json where the session leaves them symbolic), and `use_cache_branch` / `num_logits_to_keep`
 * where an export has them.
 */
import * as ort from 'onnxruntime-node';
import { BackendError, UserError } from '../../errors.js';

export type Past = Record<string, ort.Tensor>;

export interface DecoderStep {
  logits: ort.Tensor;
  present: Past;
}

interface TensorMeta {
  name: string;
  type: string;
  shape: (number | string)[];
}

function metaOf(list: readonly unknown[], name: string): TensorMeta | undefined {
  const meta = (list as (TensorMeta & { isTensor?: boolean })[]).find((m) => m.name === name);
  return meta?.isTensor === false ? undefined : meta;
}

function range(from: number, to: number): ort.Tensor {
  const data = new BigInt64Array(to - from);
  for (let i = 0; i < data.length; i++) data[i] = BigInt(from + i);
  return new ort.Tensor('int64', data, [1, data.length]);
}

export class DecoderRunner {
  readonly #session: ort.InferenceSession;
  readonly #pastNames: string[];
  readonly #textConfig: Record<string, unknown>;
  readonly #dir: string;
  readonly #onRun: ((tokens: number) => void) | undefined;

  constructor(
    session: ort.InferenceSession,
    o: { textConfig: Record<string, unknown>; dir: string; onRun?: (tokens: number) => void },
  ) {
    this.#session = session;
    this.#pastNames = session.inputNames.filter((n) => n.startsWith('past_key_values.'));
    this.#textConfig = o.textConfig;
    this.#dir = o.dir;
    this.#onRun = o.onRun;
  }

  /**
   * The sessions' float types must line up (vision features and token embeddings go into one tensor the
   * decoder reads; iris reads float32 pixels and logits): a mismatch is a load error naming the dtypes.
   */
  checkFits(o: { vision: ort.InferenceSession; embed: ort.InferenceSession }): void {
    const types = {
      'vision_encoder pixel_values': metaOf(o.vision.inputMetadata, 'pixel_values')?.type,
      'vision_encoder image_features': metaOf(o.vision.outputMetadata, 'image_features')?.type,
      'embed_tokens inputs_embeds': metaOf(o.embed.outputMetadata, 'inputs_embeds')?.type,
      'decoder_model_merged inputs_embeds': metaOf(this.#session.inputMetadata, 'inputs_embeds')?.type,
      'decoder_model_merged logits': metaOf(this.#session.outputMetadata, 'logits')?.type,
    };
    const wrong = Object.entries(types).filter(([, t]) => t !== undefined && t !== 'float32');
    const missing = Object.entries(types).filter(([, t]) => t === undefined);
    if (missing.length) {
      throw new UserError(
        'model_missing',
        `vqa/smolvlm: the ONNX files in ${this.#dir} lack ${missing.map(([n]) => n).join(', ')}: not a SmolVLM export.`,
      );
    }
    if (wrong.length) {
      throw new UserError(
        'model_missing',
        `vqa/smolvlm: iris needs float32 inputs and outputs between the sessions, but in ${this.#dir} ` +
          `${wrong.map(([n, t]) => `${n} is ${t}`).join(', ')}. Pick a dtype whose files keep float32 I/O (fp32, q8, q4).`,
      );
    }
  }

  /** Key/values for no tokens yet: [batch 1, heads, 0, head size] in the session's type. */
  emptyPast(): Past {
    const heads = this.#textConfig.num_key_value_heads ?? this.#textConfig.num_attention_heads;
    const hidden = this.#textConfig.hidden_size;
    const headDim =
      this.#textConfig.head_dim ??
      (typeof hidden === 'number' && typeof heads === 'number' ? hidden / heads : undefined);
    const past: Past = {};
    for (const name of this.#pastNames) {
      const meta = metaOf(this.#session.inputMetadata, name);
      const shape = meta?.shape ?? [];
      const dims = [1, shape[1] ?? heads, 0, shape[3] ?? headDim].map((d, i) =>
        typeof d === 'number' ? d : i === 2 ? 0 : Number(i === 1 ? heads : headDim),
      );
      const type = (meta?.type ?? 'float32') as 'float32' | 'float16';
      past[name] = new ort.Tensor(type, type === 'float16' ? new Uint16Array(0) : new Float32Array(0), dims);
    }
    return past;
  }

  async run(embeds: ort.Tensor, past: Past, pastLength: number): Promise<DecoderStep> {
    const seq = embeds.dims[1] as number;
    const total = pastLength + seq;
    const names = this.#session.inputNames;
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: embeds,
      attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
      ...past,
    };
    if (names.includes('position_ids')) feeds.position_ids = range(pastLength, total);
    if (names.includes('use_cache_branch'))
      feeds.use_cache_branch = new ort.Tensor('bool', Uint8Array.of(pastLength > 0 ? 1 : 0), [1]);
    if (names.includes('num_logits_to_keep'))
      feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.of(1n), []);
    this.#onRun?.(seq);
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await this.#session.run(feeds);
    } catch (cause) {
      throw new BackendError('model_failed', `vqa/smolvlm: decoder failed: ${(cause as Error).message}`, {
        isRetryable: false,
        cause,
      });
    }
    const present = Object.fromEntries(
      this.#pastNames.map((n) => [n, out[n.replace('past_key_values.', 'present.')] as ort.Tensor]),
    );
    return { logits: out.logits as ort.Tensor, present };
  }

  /** The first `length` positions of each key/value tensor [1, heads, T, head size]. */
  slicePast(present: Past, length: number): Past {
    const sliced: Past = {};
    for (const [name, t] of Object.entries(present)) {
      const [, heads, seq, dim] = t.dims as [number, number, number, number];
      const data = t.data as Float32Array | Uint16Array;
      const out = new (data.constructor as Float32ArrayConstructor | Uint16ArrayConstructor)(
        heads * length * dim,
      );
      for (let h = 0; h < heads; h++) {
        out.set(data.subarray(h * seq * dim, h * seq * dim + length * dim), h * length * dim);
      }
      sliced[name] = new ort.Tensor(t.type as 'float32', out as Float32Array, [1, heads, length, dim]);
    }
    return sliced;
  }

  /** The most likely next token (first on ties, as argmax) and its probability. */
  greedy(logits: ort.Tensor): { token: number; probability: number } {
    const vocab = logits.dims.at(-1) as number;
    const rows = (logits.data as Float32Array).length / vocab;
    const row = (logits.data as Float32Array).subarray((rows - 1) * vocab, rows * vocab);
    let best = 0;
    for (let v = 1; v < vocab; v++) if ((row[v] as number) > (row[best] as number)) best = v;
    const max = row[best] as number;
    let z = 0;
    for (const x of row) z += Math.exp(x - max);
    return { token: best, probability: Number.isFinite(max) && z > 0 ? 1 / z : 0 };
  }
}
