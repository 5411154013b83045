/**
 * Zero-shot tagging with CLIP on onnxruntime-node (backend id 'clip').
 *
 * The model folder is laid out like `Xenova/clip-vit-base-patch32`: the split towers
 * `onnx/text_model.onnx` (input_ids, attention_mask → text_embeds) and `onnx/vision_model.onnx`
 * (pixel_values → image_embeds), tokenizer.json + tokenizer_config.json, preprocessor_config.json.
 * Nothing is fetched: the tokenizer is built from the folder's JSON files.
 *
 * Why not the transformers.js pipeline: it re-embeds every label on every call and runs one
 * preprocessing step after the other. Here label embeddings are cached (per template + label,
 * normalised), images go through the vision tower in batches, and the next batch is decoded and
 * resized (sharp, on libuv threads) while the current one runs.
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
 * - `batchSize` (default 8): images per vision-tower run.
 * - `dtype` ('fp32' default, 'fp16', 'q8', 'int8', 'uint8', 'q4'): which ONNX files to load
 *   (`text_model.onnx`, `text_model_fp16.onnx`, `text_model_quantized.onnx`, …).
 * - `intraOpNumThreads` (default 0 = onnxruntime's choice), `graphOptimizationLevel` (default 'all').
 * - `textCacheSize` (default 4096): label embeddings kept.
 * - `hooks` (tests and metrics): `{ onTextRun?(texts: number), onVisionRun?(images: number) }`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import type { LoadedImage } from '../../core/types.js';
import { BackendError, UserError } from '../../errors.js';
import type { Backend, BackendLoadOptions, Scored, TaskIO } from '../types.js';

export interface ClipTaggerHooks {
  onTextRun?(texts: number): void;
  onVisionRun?(images: number): void;
}

export const DEFAULT_TEMPLATE = 'a photo of {}';
export const DEFAULT_LOGIT_SCALE = 100;

const DTYPE_SUFFIX: Record<string, string> = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
};

// ---------------------------------------------------------------------------------------------
// Image → RGB. Same signature as `toRgb` in src/core/media.ts (switch to it once it lands).

type Fit = 'cover' | 'fill' | 'contain';

async function toRgb(
  image: LoadedImage,
  { width, height, fit }: { width: number; height: number; fit: Fit },
): Promise<{ data: Buffer; width: number; height: number }> {
  try {
    const { data, info } = await sharp(image.bytes, { failOn: 'error' })
      .rotate()
      .resize(width, height, { fit, kernel: 'cubic', background: { r: 0, g: 0, b: 0 } })
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`expected 3 channels, got ${info.channels}`);
    return { data, width: info.width, height: info.height };
  } catch (cause) {
    throw new UserError('bad_image', `${image.name}: the image data is corrupt or truncated`, { cause });
  }
}

// ---------------------------------------------------------------------------------------------
// preprocessor_config.json

export interface ClipPreprocess {
  /** Resize target: shortest edge, or an exact size. */
  resize: { shortestEdge: number } | { width: number; height: number } | null;
  crop: { width: number; height: number } | null;
  rescale: number;
  mean: [number, number, number];
  std: [number, number, number];
}

function triple(v: unknown, fallback: number): [number, number, number] {
  if (typeof v === 'number') return [v, v, v];
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')) {
    return v as [number, number, number];
  }
  return [fallback, fallback, fallback];
}

function hw(v: unknown): { width: number; height: number } | null {
  if (typeof v === 'number') return { width: v, height: v };
  if (v && typeof v === 'object') {
    const o = v as Record<string, number>;
    if (typeof o.height === 'number' && typeof o.width === 'number')
      return { width: o.width, height: o.height };
  }
  return null;
}

export function parsePreprocessorConfig(c: Record<string, unknown>): ClipPreprocess {
  let resize: ClipPreprocess['resize'] = null;
  if (c.do_resize !== false) {
    const size = c.size;
    if (typeof size === 'number') resize = { shortestEdge: size };
    else if (
      size &&
      typeof size === 'object' &&
      typeof (size as Record<string, unknown>).shortest_edge === 'number'
    ) {
      resize = { shortestEdge: (size as { shortest_edge: number }).shortest_edge };
    } else resize = hw(size) ?? { shortestEdge: 224 };
  }
  const crop = c.do_center_crop === false ? null : hw(c.crop_size ?? 224);
  const doNorm = c.do_normalize !== false;
  return {
    resize,
    crop,
    rescale: c.do_rescale === false ? 1 : typeof c.rescale_factor === 'number' ? c.rescale_factor : 1 / 255,
    mean: doNorm ? triple(c.image_mean, 0) : [0, 0, 0],
    std: doNorm ? triple(c.image_std, 1) : [1, 1, 1],
  };
}

/** Final tensor size for an image of the given size. */
function outputSize(p: ClipPreprocess, w: number, h: number): { width: number; height: number } {
  if (p.crop) return p.crop;
  if (!p.resize) return { width: w, height: h };
  if ('shortestEdge' in p.resize) {
    const s = p.resize.shortestEdge / Math.min(w, h);
    return { width: Math.max(1, Math.round(w * s)), height: Math.max(1, Math.round(h * s)) };
  }
  return p.resize;
}

/**
 * Resize + centre crop + normalise one image into `out` (CHW, at `offset`). Shortest-edge resize
 * followed by a crop of the same size is sharp's 'cover' in one step (with shrink-on-load for JPEG).
 */
async function preprocessInto(
  p: ClipPreprocess,
  lut: Float32Array,
  image: LoadedImage,
  out: Float32Array,
  offset: number,
): Promise<void> {
  const target = outputSize(p, image.width, image.height);
  let rgb: { data: Buffer; width: number; height: number };
  if (
    p.crop &&
    p.resize &&
    'shortestEdge' in p.resize &&
    p.resize.shortestEdge === Math.min(p.crop.width, p.crop.height) &&
    p.crop.width === p.crop.height
  ) {
    rgb = await toRgb(image, { width: p.crop.width, height: p.crop.height, fit: 'cover' });
  } else {
    const r = p.resize
      ? outputSize({ ...p, crop: null }, image.width, image.height)
      : { width: image.width, height: image.height };
    rgb = await toRgb(image, { width: r.width, height: r.height, fit: 'fill' });
  }
  const { width: W, height: H } = target;
  const plane = W * H;
  // centre crop (or zero-pad when the crop is larger), as CLIPImageProcessor does
  const x0 = Math.floor((rgb.width - W) / 2);
  const y0 = Math.floor((rgb.height - H) / 2);
  const src = rgb.data;
  for (let y = 0; y < H; y++) {
    const sy = y + y0;
    const row = y * W;
    if (sy < 0 || sy >= rgb.height) {
      for (let c = 0; c < 3; c++) out.fill(0, offset + c * plane + row, offset + c * plane + row + W);
      continue;
    }
    for (let x = 0; x < W; x++) {
      const sx = x + x0;
      const o = offset + row + x;
      if (sx < 0 || sx >= rgb.width) {
        out[o] = 0;
        out[o + plane] = 0;
        out[o + 2 * plane] = 0;
        continue;
      }
      const s = (sy * rgb.width + sx) * 3;
      out[o] = lut[src[s] as number] as number;
      out[o + plane] = lut[256 + (src[s + 1] as number)] as number;
      out[o + 2 * plane] = lut[512 + (src[s + 2] as number)] as number;
    }
  }
}

function makeLut(p: ClipPreprocess): Float32Array {
  const lut = new Float32Array(768);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++)
      lut[c * 256 + v] = (v * p.rescale - (p.mean[c] as number)) / (p.std[c] as number);
  }
  return lut;
}

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

function num(v: unknown, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new BackendError('bad_config', `tag/clip: option ${name} must be a number`, { isRetryable: false });
  }
  return v;
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

async function readJson(dir: string, name: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(join(dir, name), 'utf8'));
  } catch (cause) {
    throw new UserError('model_missing', `the CLIP model folder ${dir} has no readable ${name}`, { cause });
  }
}

function cancelled(): UserError {
  return new UserError('cancelled', 'the request was cancelled');
}

/** The tag backend plus the raw embeddings it computes (the embed task is built on these). */
export interface ClipTagger extends Backend<'tag'> {
  /** Normalised image embeddings, one row per image: data is [images, dim]. */
  embedImages(images: LoadedImage[], signal: AbortSignal): Promise<{ data: Float32Array; dim: number }>;
  /** Normalised text embeddings of each text put into the template: [texts, dim]. */
  embedTexts(texts: string[]): Promise<{ data: Float32Array; dim: number }>;
}

export const createClipTagger = async (load: BackendLoadOptions): Promise<ClipTagger> => {
  const o = load.options;
  const template = typeof o.template === 'string' ? o.template : DEFAULT_TEMPLATE;
  const logitScale = num(o.logitScale, DEFAULT_LOGIT_SCALE, 'logitScale');
  const logitBias = num(o.logitBias, -0.25 * logitScale, 'logitBias');
  const batchSize = Math.max(1, Math.floor(num(o.batchSize, 8, 'batchSize')));
  const hooks = (o.hooks ?? {}) as ClipTaggerHooks;
  const dtype = typeof o.dtype === 'string' ? o.dtype : 'fp32';
  const suffix = DTYPE_SUFFIX[dtype];
  if (suffix === undefined) {
    throw new BackendError('bad_config', `tag/clip: unknown dtype ${dtype}`, { isRetryable: false });
  }
  const textCache = new LabelCache(Math.max(1, num(o.textCacheSize, 4096, 'textCacheSize')));

  const [tokJson, tokConfig, preConfig] = await Promise.all([
    readJson(load.modelDir, 'tokenizer.json'),
    readJson(load.modelDir, 'tokenizer_config.json'),
    readJson(load.modelDir, 'preprocessor_config.json'),
  ]);
  const tokenizer = new PreTrainedTokenizer(tokJson, tokConfig);
  const pre = parsePreprocessorConfig(preConfig);
  const lut = makeLut(pre);

  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: load.executionProviders.length ? load.executionProviders : ['cpu'],
    graphOptimizationLevel: (o.graphOptimizationLevel as 'all' | undefined) ?? 'all',
    intraOpNumThreads: num(o.intraOpNumThreads, 0, 'intraOpNumThreads'),
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  const open = async (name: string) => {
    const path = join(load.modelDir, 'onnx', `${name}${suffix}.onnx`);
    try {
      return await ort.InferenceSession.create(path, sessionOptions);
    } catch (cause) {
      throw new UserError('model_missing', `cannot load ${path}: ${(cause as Error).message}`, { cause });
    }
  };
  const [text, vision] = await Promise.all([open('text_model'), open('vision_model')]);

  const textInputs = new Map(text.inputMetadata.map((m) => [m.name, m.isTensor ? m.type : 'int64'] as const));
  const textOut = text.outputNames.includes('text_embeds') ? 'text_embeds' : (text.outputNames[0] as string);
  const visionIn = vision.inputNames.includes('pixel_values')
    ? 'pixel_values'
    : (vision.inputNames[0] as string);
  const visionOut = vision.outputNames.includes('image_embeds')
    ? 'image_embeds'
    : (vision.outputNames[0] as string);
  const visionMeta = vision.inputMetadata.find((m) => m.name === visionIn);
  const pixelType = visionMeta?.isTensor ? visionMeta.type : 'float32';
  if (pixelType !== 'float32' && pixelType !== 'float16') {
    throw new BackendError('bad_model', `tag/clip: unsupported pixel_values type ${pixelType}`, {
      isRetryable: false,
    });
  }
  // A fixed input size (the usual case) wins over preprocessor_config when they disagree.
  const fixedH = visionMeta?.isTensor ? visionMeta.shape[2] : undefined;
  const fixedW = visionMeta?.isTensor ? visionMeta.shape[3] : undefined;
  if (
    typeof fixedH === 'number' &&
    typeof fixedW === 'number' &&
    (!pre.crop || pre.crop.width !== fixedW || pre.crop.height !== fixedH)
  ) {
    pre.crop = { width: fixedW, height: fixedH };
  }

  const intTensor = (name: string, data: BigInt64Array, dims: number[]) =>
    textInputs.get(name) === 'int32'
      ? new ort.Tensor(
          'int32',
          Int32Array.from(data, (x) => Number(x)),
          dims,
        )
      : new ort.Tensor('int64', data, dims);

  /** Embed texts (normalised), in chunks of 64. */
  async function embedTexts(texts: string[]): Promise<{ data: Float32Array; dim: number }> {
    const parts: Float32Array[] = [];
    let dim = 0;
    for (let i = 0; i < texts.length; i += 64) {
      const chunk = texts.slice(i, i + 64);
      const enc = tokenizer(chunk, { padding: true, truncation: true, max_length: 77 }) as unknown as {
        input_ids: { data: BigInt64Array; dims: number[] };
        attention_mask: { data: BigInt64Array; dims: number[] };
      };
      const feeds: Record<string, ort.Tensor> = {};
      if (textInputs.has('input_ids'))
        feeds.input_ids = intTensor('input_ids', enc.input_ids.data, enc.input_ids.dims);
      if (textInputs.has('attention_mask')) {
        feeds.attention_mask = intTensor('attention_mask', enc.attention_mask.data, enc.attention_mask.dims);
      }
      hooks.onTextRun?.(chunk.length);
      let out: ort.InferenceSession.OnnxValueMapType;
      try {
        out = await text.run(feeds, [textOut]);
      } catch (cause) {
        throw new BackendError('model_failed', `tag/clip: text tower failed: ${(cause as Error).message}`, {
          isRetryable: false,
          cause,
        });
      }
      const t = out[textOut] as ort.Tensor;
      dim = t.dims[1] as number;
      parts.push(normalise(toFloat32(t), dim, chunk.length));
    }
    const data = new Float32Array(texts.length * dim);
    let off = 0;
    for (const p of parts) {
      data.set(p, off);
      off += p.length;
    }
    return { data, dim };
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

  async function prepareBatch(images: LoadedImage[]): Promise<ort.Tensor> {
    const { width, height } = pre.crop ?? outputSize(pre, images[0]?.width ?? 1, images[0]?.height ?? 1);
    const per = 3 * width * height;
    const data = new Float32Array(images.length * per);
    await Promise.all(images.map((img, i) => preprocessInto(pre, lut, img, data, i * per)));
    if (pixelType === 'float16') {
      return new ort.Tensor('float16', float32ToFloat16(data), [images.length, 3, height, width]);
    }
    return new ort.Tensor('float32', data, [images.length, 3, height, width]);
  }

  async function visionEmbed(pixels: ort.Tensor): Promise<{ data: Float32Array; dim: number; n: number }> {
    hooks.onVisionRun?.(pixels.dims[0] as number);
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await vision.run({ [visionIn]: pixels }, [visionOut]);
    } catch (cause) {
      throw new BackendError('model_failed', `tag/clip: vision tower failed: ${(cause as Error).message}`, {
        isRetryable: false,
        cause,
      });
    }
    const emb = out[visionOut] as ort.Tensor;
    const dim = emb.dims[1] as number;
    const n = emb.dims[0] as number;
    return { data: normalise(toFloat32(emb), dim, n), dim, n };
  }

  async function embedImages(
    images: LoadedImage[],
    signal: AbortSignal,
  ): Promise<{ data: Float32Array; dim: number }> {
    const bs = pre.crop ? batchSize : 1;
    const parts: Float32Array[] = [];
    let dim = 0;
    for (let i = 0; i < images.length; i += bs) {
      if (signal.aborted) throw cancelled();
      const out = await visionEmbed(await prepareBatch(images.slice(i, i + bs)));
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
    embedTexts: (texts) => embedTexts(texts.map(fill)),
    async run(input: TaskIO['tag']['in'], opts) {
      if (disposed)
        throw new BackendError('disposed', 'tag/clip: backend was disposed', { isRetryable: true });
      const { images, labels } = input;
      const mode = input.mode ?? 'softmax';
      if (opts.signal.aborted) throw cancelled();
      if (images.length === 0) return [];
      if (labels.length === 0) return images.map(() => ({ labels: [] }));

      // Variable-size inputs (no crop) cannot share a batch.
      const bs = pre.crop ? batchSize : 1;
      const batches: LoadedImage[][] = [];
      for (let i = 0; i < images.length; i += bs) batches.push(images.slice(i, i + bs));

      const textP = labelMatrix(labels);
      textP.catch(() => {});
      let next: Promise<ort.Tensor> | undefined = prepareBatch(batches[0] as LoadedImage[]);
      next.catch(() => {});
      const results: { labels: Scored[] }[] = [];
      for (let b = 0; b < batches.length; b++) {
        if (opts.signal.aborted) throw cancelled();
        const pixels: ort.Tensor = await (next as Promise<ort.Tensor>);
        // start decoding the next batch while this one runs
        next = b + 1 < batches.length ? prepareBatch(batches[b + 1] as LoadedImage[]) : undefined;
        next?.catch(() => {});
        const { data: img, dim, n } = await visionEmbed(pixels);
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
      await Promise.all([text.release(), vision.release()]);
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

function toFloat32(t: ort.Tensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') return float16ToFloat32(t.data as Uint16Array);
  throw new BackendError('bad_model', `tag/clip: unexpected embedding type ${t.type}`, {
    isRetryable: false,
  });
}

function float16ToFloat32(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const x = h[i] as number;
    const s = x & 0x8000 ? -1 : 1;
    const e = (x >> 10) & 0x1f;
    const m = x & 0x3ff;
    out[i] =
      e === 0
        ? s * 2 ** -14 * (m / 1024)
        : e === 31
          ? m
            ? Number.NaN
            : s * Number.POSITIVE_INFINITY
          : s * 2 ** (e - 15) * (1 + m / 1024);
  }
  return out;
}

function float32ToFloat16(f: Float32Array): Uint16Array {
  const out = new Uint16Array(f.length);
  const buf = new Float32Array(1);
  const bits = new Uint32Array(buf.buffer);
  for (let i = 0; i < f.length; i++) {
    buf[0] = f[i] as number;
    const x = bits[0] as number;
    const sign = (x >>> 16) & 0x8000;
    const exp = ((x >>> 23) & 0xff) - 127 + 15;
    const mant = x & 0x7fffff;
    if (exp <= 0) out[i] = sign | (exp < -10 ? 0 : (mant | 0x800000) >> (1 - exp + 13));
    else if (exp >= 31) out[i] = sign | 0x7c00;
    else out[i] = sign | (exp << 10) | (mant >> 13);
  }
  return out;
}
