/**
 * Zero-shot tagging with CLIP on onnxruntime-node (backend id 'clip').
 *
 * The model folder is laid out like `Xenova/clip-vit-base-patch32`: the split towers
 * `onnx/text_model.onnx` (input_ids, attention_mask → text_embeds) and `onnx/vision_model.onnx`
 * (pixel_values → image_embeds), tokenizer.json + tokenizer_config.json, preprocessor_config.json.
 * Nothing is fetched: the tokenizer is built from the folder's JSON files. The loaded folder
 * (./clip-model.ts) is shared with the embed backend: one load per folder, dtype, device and session settings.
 *
 * Why not the transformers.js pipeline: it re-embeds every label on every call and runs one
 * preprocessing step after the other. Here label embeddings are cached (per template + label,
 * normalised), images go through the vision tower in batches, and the next batch is decoded and
 * resized (sharp, on libuv threads) while the current one runs. The towers (./clip-towers.ts) belong to
 * the shared model; with `scheduler.batching` on (`BackendLoadOptions.batching`) the images and texts of
 * concurrent requests, tag and embed alike, run as one batch.
 *
 * Options (config `tasks.tag.options`):
 * - `template` (default `'a photo of {}'`): the text each label is put into. OpenAI's CLIP prompts
 *   start "a photo of"; transformers.js uses `'This is a photo of {}'`. A template without `{}` gets
 *   the label appended.
 * - `logitScale` (default 100): cosine × scale before softmax/sigmoid. 100 is the learned scale of
 *   every released OpenAI CLIP (exp(4.6052)); it is not in config.json (that holds the init value).
 * - `logitBias` (default −25 = −0.25 × scale): added before the sigmoid in `mode: 'sigmoid'`. CLIP was
 *   trained with a softmax, so per-label sigmoid scores are an approximation: a label scores > 0.5
 *   when its cosine exceeds 0.25.
 * - `batchSize` (default 8): images per vision-tower run of one request (with batching: how many of a
 *   request's images join the batcher at once; `scheduler.batching.maxBatch` caps the run).
 * - `dtype` ('fp32' default, or any dtype of files.ts's table: 'fp16', 'q8', 'q4', …): which ONNX files to
 *   load (`text_model.onnx`, `text_model_fp16.onnx`, `text_model_quantized.onnx`, …), or one per tower,
 *   e.g. `{ text_model: 'fp32', vision_model: 'q8' }`.
 * - `intraOpNumThreads` (default 0 = onnxruntime's choice), `graphOptimizationLevel` (default 'all').
 * - `textCacheSize` (default 4096): label embeddings kept.
 * - `hooks` (tests and metrics): `ClipTaggerHooks` in ../options.ts (runs, run times, batch waits).
 * The schema (../options.ts, `clipOptions`) checks them and fills in the defaults.
 */
import type * as ort from 'onnxruntime-node';
import type { Backend, Scored, TaskIO } from '../../contracts/backend.js';
import type { LoadedImage } from '../../contracts/request.js';
import { BackendError, UserError } from '../../errors.js';
import type { ClipOptions } from '../options.js';
import { SharedModels } from '../shared-models.js';
import type { BackendLoadOptions } from '../types.js';
import { openClip } from './clip-model.js';
import { outputSize, preprocessInto } from './clip-preprocess.js';
import { BATCHING_OFF, ClipTowers, type TowerCall } from './clip-towers.js';

// ---------------------------------------------------------------------------------------------

function normalise(v: Float32Array, dim: number, rows: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += (v[r * dim + d] as number) ** 2;
    const n = Math.sqrt(s);
    if (!(n > 1e-12)) continue; // zero (or NaN) vector: leave zeros, cosine 0
    for (let d = 0; d < dim; d++) out[r * dim + d] = (v[r * dim + d] as number) / n;
  }
  return out;
}

class LabelCache {
  private readonly map = new Map<string, Float32Array>();
  constructor(private readonly capacity: number) {}
  get(k: string): Float32Array | undefined {
    const v = this.map.get(k);
    if (v) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: string, v: Float32Array): void {
    this.map.delete(k);
    this.map.set(k, v);
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as string);
  }
  clear(): void {
    this.map.clear();
  }
}

function cancelled(): UserError {
  return new UserError('cancelled', 'the request was cancelled');
}

/** The tag backend plus the raw embeddings it computes (the embed task is built on these). */
export interface ClipTagger extends Backend<'tag'> {
  /** Normalised image embeddings, one row per image: data is [images, dim]. */
  embedImages(
    images: LoadedImage[],
    signal: AbortSignal,
    deadline?: number,
  ): Promise<{ data: Float32Array; dim: number }>;
  /** Normalised text embeddings of each text put into the template: [texts, dim]. */
  embedTexts(texts: string[], call?: TowerCall): Promise<{ data: Float32Array; dim: number }>;
}

export const createClipTagger = async (load: BackendLoadOptions<ClipOptions>): Promise<ClipTagger> => {
  const { template, logitScale, batchSize, hooks, dtype } = load.options;
  const logitBias = load.options.logitBias ?? -0.25 * logitScale;
  const textCache = new LabelCache(load.options.textCacheSize);

  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: load.executionProviders.length ? load.executionProviders : ['cpu'],
    graphOptimizationLevel: load.options.graphOptimizationLevel,
    intraOpNumThreads: load.options.intraOpNumThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  const batching = load.batching ?? BATCHING_OFF;
  const lease = await (load.shared ?? new SharedModels()).acquire(
    {
      kind: 'clip',
      dir: load.modelDir,
      dtype,
      executionProviders: sessionOptions.executionProviders as string[],
      settings: {
        graphOptimizationLevel: sessionOptions.graphOptimizationLevel,
        intraOpNumThreads: sessionOptions.intraOpNumThreads,
        batching,
      },
    },
    async () => {
      const clip = await openClip(load.modelDir, dtype, sessionOptions);
      return { clip, towers: new ClipTowers(clip, batching) };
    },
    ({ clip }) => clip.release(),
  );
  const { pre, lut } = lease.model.clip;
  const { towers } = lease.model;
  const unobserve = towers.observe(hooks);

  /** Embed texts (normalised); `owner` makes one request's texts take turns with other requests'. */
  async function embedTexts(
    texts: string[],
    call: TowerCall = {},
  ): Promise<{ data: Float32Array; dim: number }> {
    const { data, dim } = await towers.embedTexts(texts, call);
    return { data: normalise(data, dim, texts.length), dim };
  }

  const fill = (label: string) =>
    template.includes('{}') ? template.replaceAll('{}', label) : `${template} ${label}`;
  const setCache = new Map<string, Promise<{ data: Float32Array; dim: number }>>();

  /** Normalised label embeddings [labels, dim]; cached per label set and per label. */
  function labelMatrix(labels: string[]): Promise<{ data: Float32Array; dim: number }> {
    const key = `${template}\u0000${labels.join('\u0001')}`;
    const hit = setCache.get(key);
    if (hit) {
      setCache.delete(key);
      setCache.set(key, hit);
      return hit;
    }
    const p = (async () => {
      const keys = labels.map((l) => `${template}\u0000${l}`);
      // rows are taken now, so a concurrent call evicting cache entries cannot leave holes
      const rows = new Map<string, Float32Array>();
      for (const k of keys) {
        const v = textCache.get(k);
        if (v) rows.set(k, v);
      }
      const missing = [...new Set(keys.filter((k) => !rows.has(k)))];
      if (missing.length) {
        const { data, dim } = await embedTexts(missing.map((k) => fill(k.slice(template.length + 1))));
        missing.forEach((k, i) => {
          const v = data.slice(i * dim, (i + 1) * dim);
          rows.set(k, v);
          textCache.set(k, v);
        });
      }
      const dim = rows.get(keys[0] as string)?.length ?? 0;
      const data = new Float32Array(keys.length * dim);
      keys.forEach((k, i) => {
        data.set(rows.get(k) as Float32Array, i * dim);
      });
      return { data, dim };
    })();
    setCache.set(key, p);
    p.catch(() => setCache.delete(key));
    while (setCache.size > 16) setCache.delete(setCache.keys().next().value as string);
    return p;
  }

  interface Pixels {
    data: Float32Array;
    n: number;
    height: number;
    width: number;
  }

  /** Decode and resize (sharp, off the tower's time) into one [n, 3, H, W] array. */
  async function prepareBatch(images: LoadedImage[]): Promise<Pixels> {
    const { width, height } = pre.crop ?? outputSize(pre, images[0]?.width ?? 1, images[0]?.height ?? 1);
    const per = 3 * width * height;
    const data = new Float32Array(images.length * per);
    await Promise.all(images.map((img, i) => preprocessInto(pre, lut, img, data, i * per)));
    return { data, n: images.length, height, width };
  }

  async function visionEmbed(
    pixels: Pixels,
    call: TowerCall,
  ): Promise<{ data: Float32Array; dim: number; n: number }> {
    const { data, dim } = await towers.embedImages(pixels.data, pixels, call);
    return { data: normalise(data, dim, pixels.n), dim, n: pixels.n };
  }

  /** Images per request chunk: what one tower run takes without batching, what one request queues at once with it. */
  const chunkSize = pre.crop ? Math.min(batchSize, towers.maxVisionBatch) : 1;

  async function embedImages(
    images: LoadedImage[],
    signal: AbortSignal,
    deadline?: number,
  ): Promise<{ data: Float32Array; dim: number }> {
    const call: TowerCall = { signal, owner: {}, ...(deadline !== undefined && { deadline }) };
    const parts: Float32Array[] = [];
    let dim = 0;
    for (let i = 0; i < images.length; i += chunkSize) {
      if (signal.aborted) throw cancelled();
      const out = await visionEmbed(await prepareBatch(images.slice(i, i + chunkSize)), call);
      dim = out.dim;
      parts.push(out.data);
    }
    const data = new Float32Array(images.length * dim);
    parts.reduce((off, p) => {
      data.set(p, off);
      return off + p.length;
    }, 0);
    return { data, dim };
  }

  let disposed = false;

  return {
    task: 'tag',
    id: 'clip',
    model: load.modelId,
    embedImages,
    embedTexts: (texts, call) => embedTexts(texts.map(fill), call),
    async run(input: TaskIO['tag']['in'], opts) {
      if (disposed)
        throw new BackendError('disposed', 'tag/clip: backend was disposed', { isRetryable: true });
      const { images, labels } = input;
      const mode = input.mode ?? 'softmax';
      if (opts.signal.aborted) throw cancelled();
      if (images.length === 0) return [];
      if (labels.length === 0) return images.map(() => ({ labels: [] }));

      // Variable-size inputs (no crop) cannot share a batch.
      const batches: LoadedImage[][] = [];
      for (let i = 0; i < images.length; i += chunkSize) batches.push(images.slice(i, i + chunkSize));
      const call: TowerCall = {
        signal: opts.signal,
        owner: {},
        ...(opts.deadline !== undefined && { deadline: opts.deadline }),
      };

      const textP = labelMatrix(labels);
      textP.catch(() => {});
      let next: Promise<Pixels> | undefined = prepareBatch(batches[0] as LoadedImage[]);
      next.catch(() => {});
      const results: { labels: Scored[] }[] = [];
      for (let b = 0; b < batches.length; b++) {
        if (opts.signal.aborted) throw cancelled();
        const pixels = await (next as Promise<Pixels>);
        // start decoding the next batch while this one runs
        next = b + 1 < batches.length ? prepareBatch(batches[b + 1] as LoadedImage[]) : undefined;
        next?.catch(() => {});
        const { data: img, dim, n } = await visionEmbed(pixels, call);
        const { data: txt, dim: tdim } = await textP;
        if (tdim !== dim) {
          throw new BackendError('bad_model', `tag/clip: text dim ${tdim} ≠ image dim ${dim}`, {
            isRetryable: false,
          });
        }
        for (let i = 0; i < n; i++) results.push({ labels: score(img, i, txt, labels, dim, mode) });
        opts.onProgress?.({ step: results.length, total: images.length });
      }
      return results;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      textCache.clear();
      setCache.clear();
      unobserve();
      await lease.release();
    },
  };

  function score(
    img: Float32Array,
    i: number,
    txt: Float32Array,
    labels: string[],
    dim: number,
    mode: 'softmax' | 'sigmoid',
  ): Scored[] {
    const L = labels.length;
    const logits = new Float64Array(L);
    for (let l = 0; l < L; l++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += (img[i * dim + d] as number) * (txt[l * dim + d] as number);
      logits[l] = s * logitScale;
    }
    const scores = new Float64Array(L);
    if (mode === 'sigmoid') {
      for (let l = 0; l < L; l++) scores[l] = 1 / (1 + Math.exp(-((logits[l] as number) + logitBias)));
    } else {
      let max = Number.NEGATIVE_INFINITY;
      for (const v of logits) max = Math.max(max, v);
      let sum = 0;
      for (let l = 0; l < L; l++) {
        scores[l] = Math.exp((logits[l] as number) - max);
        sum += scores[l] as number;
      }
      for (let l = 0; l < L; l++) scores[l] = (scores[l] as number) / sum;
    }
    return labels
      .map((label, l) => ({ label, score: scores[l] as number }))
      .sort((a, b) => b.score - a.score);
  }
};
