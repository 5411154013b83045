/**
 * Visual question answering with BLIP-2 on onnxruntime-node (backend id 'blip2').
 *
 * transformers.js has no BLIP-2, so iris documents its own export layout (docs/vqa.md):
 * `onnx/vision_encoder.onnx` (pixel_values → image_embeds), `onnx/qformer.onnx` (image_embeds →
 * language_model_inputs: query tokens through the Q-Former and the language projection),
 * `onnx/embed_tokens.onnx` (input_ids → inputs_embeds) and `onnx/decoder_model_merged.onnx`
 * (inputs_embeds, attention_mask, past_key_values.{i}.key/value → logits, present.{i}.key/value), plus
 * config.json (num_query_tokens, text_config.eos_token_id), generation_config.json, tokenizer.json and
 * preprocessor_config.json (BlipImageProcessor: resize to size, rescale, normalise).
 *
 * Memory is BLIP-2's prompt, as in the seed notebook: earlier turns rendered as
 * `Question: q1 Answer: a1. Question: q2 Answer: a2. Question: <new> Answer:` after the image's query
 * tokens; the answer is cut at a following "Question", and the tokenizer's special and added tokens are
 * stripped from it (../user-text.ts).
 *
 * Feature cache: the query tokens come first in the sequence, so the decoder's key/values over them
 * depend only on the image. Per image key (content hash) iris keeps those key/values; a follow-up about
 * the same image runs neither the vision encoder, nor the Q-Former, nor the decoder over the query tokens.
 *
 * Batching (`BackendLoadOptions.batching`, config `scheduler.batching`): when on, each image's vision
 * encoder and Q-Former call joins the loaded model's batcher (../frame-batcher.ts), so the images of
 * concurrent questions run as one vision_encoder run and one Q-Former run (pixel_values stacked along the
 * batch dimension, language_model_inputs split back per request). VQA runs on the scheduler's `gpu` queue
 * (`maxConcurrent` 1 by default), so batching only helps where an operator raises that (e.g. on a GPU).
 *
 * Options (config `tasks.vqa.options`): `maxNewTokens` (default generation_config's, else 30),
 * `maxPromptTokens` (default 512: oldest turns are dropped beyond it), `featureCache` (default true),
 * `featureCacheSize` (images, default 32), `intraOpNumThreads` (default 0 = onnxruntime's choice),
 * `hooks` (tests and metrics): `{ onVisionRun?(images), onDecoderRun?(tokens) }`; schema `blip2Options` in
 * ../options.ts.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import type { Backend, RunOptions, TaskIO } from '../../contracts/backend.js';
import type { LoadedImage } from '../../contracts/request.js';
import { toRgb } from '../../core/media.js';
import type { Turn } from '../../core/memory.js';
import { BackendError, UserError } from '../../errors.js';
import { FrameBatcher, fixedDim } from '../frame-batcher.js';
import type { Blip2Options } from '../options.js';
import type { BackendFactory, BackendLoadOptions } from '../types.js';
import { specialTokensOf, userTextFilter } from '../user-text.js';
import { PrefixCache } from './prefix-cache.js';

type Past = Record<string, ort.Tensor>;

/** The BLIP-2 memory prompt (seed notebook format). */
export function blip2Prompt(history: readonly Pick<Turn, 'question' | 'answer'>[], question: string): string {
  const earlier = history.map((t) => `Question: ${t.question} Answer: ${t.answer.replace(/\.+$/, '')}.`);
  return [...earlier, `Question: ${question} Answer:`].join(' ');
}

async function readJson(dir: string, name: string, required = true): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(join(dir, name), 'utf8'));
  } catch (cause) {
    if (!required) return {};
    throw new UserError('model_missing', `the BLIP-2 model folder ${dir} has no readable ${name}`, { cause });
  }
}

/** A number the model folder's JSON gives, else the fallback. */
function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

function triple(v: unknown, fallback: number): number[] {
  if (typeof v === 'number') return [v, v, v];
  return Array.isArray(v) && v.length === 3 ? (v as number[]) : [fallback, fallback, fallback];
}

function failed(what: string, cause: unknown): BackendError {
  return new BackendError('model_failed', `vqa/blip2: ${what} failed: ${(cause as Error).message}`, {
    isRetryable: false,
    cause,
  });
}

function ones(n: number): ort.Tensor {
  return new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]);
}

export const createBlip2Vqa: BackendFactory<'vqa', Blip2Options> = async (
  load: BackendLoadOptions<Blip2Options>,
): Promise<Backend<'vqa'>> => {
  const o = load.options;
  const hooks = o.hooks;
  const [config, genConfig, tokJson, tokConfig, pre] = await Promise.all([
    readJson(load.modelDir, 'config.json'),
    readJson(load.modelDir, 'generation_config.json', false),
    readJson(load.modelDir, 'tokenizer.json'),
    readJson(load.modelDir, 'tokenizer_config.json'),
    readJson(load.modelDir, 'preprocessor_config.json'),
  ]);
  const tokenizer = new PreTrainedTokenizer(tokJson, tokConfig);
  const userText = userTextFilter({ specialTokens: specialTokensOf(tokenizer) });
  const textConfig = (config.text_config ?? {}) as Record<string, unknown>;
  const eos = num(genConfig.eos_token_id ?? textConfig.eos_token_id, -1);
  const maxNewTokens = o.maxNewTokens ?? Math.max(1, num(genConfig.max_new_tokens, 30));
  const maxPromptTokens = o.maxPromptTokens;
  const cache = o.featureCache ? new PrefixCache<Past>(o.featureCacheSize) : undefined;

  const size = (pre.size ?? {}) as { height?: number; width?: number };
  const height = num(size.height, 224);
  const width = num(size.width, 224);
  const rescale = pre.do_rescale === false ? 1 : num(pre.rescale_factor, 1 / 255);
  const mean = pre.do_normalize === false ? [0, 0, 0] : triple(pre.image_mean, 0);
  const std = pre.do_normalize === false ? [1, 1, 1] : triple(pre.image_std, 1);

  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: load.executionProviders.length ? load.executionProviders : ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: o.intraOpNumThreads,
    interOpNumThreads: 1,
  };
  const open = async (name: string) => {
    const path = join(load.modelDir, 'onnx', `${name}.onnx`);
    try {
      return await ort.InferenceSession.create(path, sessionOptions);
    } catch (cause) {
      throw new UserError('model_missing', `the BLIP-2 model folder has no loadable onnx/${name}.onnx`, {
        cause,
      });
    }
  };
  const [vision, qformer, embed, decoder] = (await Promise.all(
    ['vision_encoder', 'qformer', 'embed_tokens', 'decoder_model_merged'].map(open),
  )) as [ort.InferenceSession, ort.InferenceSession, ort.InferenceSession, ort.InferenceSession];

  const pastNames = decoder.inputNames.filter((n) => n.startsWith('past_key_values.'));
  const emptyPast: Past = {};
  for (const name of pastNames) {
    const meta = decoder.inputMetadata.find((m) => m.name === name);
    const shape = meta?.isTensor ? meta.shape : [];
    const heads = typeof shape[1] === 'number' ? shape[1] : 1;
    const headDim = typeof shape[3] === 'number' ? shape[3] : 1;
    emptyPast[name] = new ort.Tensor('float32', new Float32Array(0), [1, heads, 0, headDim]);
  }
  const presentOf = (out: ort.InferenceSession.OnnxValueMapType): Past =>
    Object.fromEntries(
      pastNames.map((n) => [n, out[n.replace('past_key_values.', 'present.')] as ort.Tensor]),
    );

  async function pixels(image: LoadedImage): Promise<ort.Tensor> {
    const rgb = await toRgb(image, { width, height, fit: 'fill' });
    const plane = width * height;
    const data = new Float32Array(3 * plane);
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) {
        data[c * plane + i] =
          ((rgb.data[i * 3 + c] as number) * rescale - (mean[c] as number)) / (std[c] as number);
      }
    }
    return new ort.Tensor('float32', data, [1, 3, height, width]);
  }

  async function decode(embeds: ort.Tensor, total: number, past: Past) {
    hooks.onDecoderRun?.(embeds.dims[1] as number);
    try {
      return await decoder.run({ inputs_embeds: embeds, attention_mask: ones(total), ...past });
    } catch (cause) {
      throw failed('decoder', cause);
    }
  }

  /** The Q-Former's query tokens [images, queries, hidden] for pixels [images, 3, H, W]. */
  async function encodeImages(px: ort.Tensor): Promise<ort.Tensor> {
    hooks.onVisionRun?.(px.dims[0] as number);
    try {
      const { image_embeds } = await vision.run({ pixel_values: px });
      return (await qformer.run({ image_embeds: image_embeds as ort.Tensor }))
        .language_model_inputs as ort.Tensor;
    } catch (cause) {
      throw failed('vision encoder', cause);
    }
  }

  const limits = [fixedDim(vision, 'pixel_values', 0), fixedDim(qformer, 'image_embeds', 0)];
  const frameBatcher = load.batching?.enabled
    ? new FrameBatcher({
        batching: load.batching,
        maxFrames: Math.min(...limits.map((n) => n ?? Number.POSITIVE_INFINITY)),
        encode: async ({ pixel_values }) => {
          const px = pixel_values as { data: Float32Array; dims: readonly number[] };
          const queries = await encodeImages(new ort.Tensor('float32', px.data, [...px.dims]));
          return { data: queries.data as Float32Array, dims: queries.dims };
        },
      })
    : undefined;

  /** Query tokens [1, queries, hidden] of one image: on its own, or in a batch with other requests' images. */
  async function imageQueries(image: LoadedImage, opts: RunOptions): Promise<ort.Tensor> {
    const px = await pixels(image);
    if (!frameBatcher) return encodeImages(px);
    const frame = {
      pixel_values: { type: 'float32' as const, data: px.data as Float32Array, dims: px.dims.slice(1) },
    };
    const out = await frameBatcher.encode([frame], {
      ...opts,
      onQueued: (n) => hooks.onVisionQueued?.(n),
    });
    return new ort.Tensor('float32', out.data, out.dims);
  }

  /** Decoder key/values over the image's query tokens (vision encoder → Q-Former → decoder). */
  async function imagePrefix(image: LoadedImage, opts: RunOptions): Promise<Past> {
    const queries = await imageQueries(image, opts);
    return presentOf(await decode(queries, queries.dims[1] as number, emptyPast));
  }

  async function embedIds(ids: bigint[]): Promise<ort.Tensor> {
    try {
      const out = await embed.run({
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids), [1, ids.length]),
      });
      return out.inputs_embeds as ort.Tensor;
    } catch (cause) {
      throw failed('embed_tokens', cause);
    }
  }

  /** Prompt ids, dropping the oldest turns until it fits maxPromptTokens. */
  function promptIds(history: Turn[], question: string): bigint[] {
    for (let first = 0; first <= history.length; first++) {
      const enc = tokenizer(blip2Prompt(history.slice(first), question)) as unknown as {
        input_ids: { data: BigInt64Array };
      };
      const ids = [...enc.input_ids.data];
      if (ids.length <= maxPromptTokens || first === history.length) return ids.slice(-maxPromptTokens);
    }
    return [];
  }

  let disposed = false;
  return {
    task: 'vqa',
    id: 'blip2',
    model: load.modelId,
    maxImages: 1,
    async run(input: TaskIO['vqa']['in'], opts) {
      if (disposed)
        throw new BackendError('disposed', 'vqa/blip2: backend was disposed', { isRetryable: true });
      const image = input.images[0];
      if (!image) throw new UserError('bad_option', 'A question needs an image to be about.');
      if (input.images.length > 1) {
        throw new BackendError('bad_input', 'vqa/blip2 answers about one image at a time', {
          isRetryable: false,
        });
      }
      const check = () => {
        if (opts.signal.aborted) throw new UserError('cancelled', 'the request was cancelled');
      };
      check();
      const key = input.imageKey ?? createHash('sha256').update(image.bytes).digest('hex');
      // A prefix that another request is computing is awaited; if that one fails (say, it was cancelled
      // while its image waited for a batch), this request computes its own.
      const hit = cache?.get(key);
      let prefix = hit ? await hit.catch(() => undefined) : undefined;
      if (!prefix) {
        const prefixP = imagePrefix(image, opts);
        cache?.set(key, prefixP);
        prefix = await prefixP;
      }
      const queryCount = (Object.values(prefix)[0]?.dims[2] as number | undefined) ?? 0;
      check();

      const ids = promptIds(input.history, input.question);
      let past = prefix;
      let total = queryCount + ids.length;
      let step = await decode(await embedIds(ids), total, past);
      const out: bigint[] = [];
      let confidence = 1;
      for (let i = 0; i < maxNewTokens; i++) {
        check();
        const logits = step.logits as ort.Tensor;
        const [, seq, vocab] = logits.dims as [number, number, number];
        const row = (logits.data as Float32Array).subarray((seq - 1) * vocab, seq * vocab);
        let best = 0;
        for (let v = 1; v < vocab; v++) if ((row[v] as number) > (row[best] as number)) best = v;
        if (best === eos) break;
        let z = 0;
        for (const x of row) z += Math.exp(x - (row[best] as number));
        confidence = Math.min(confidence, 1 / z);
        out.push(BigInt(best));
        past = presentOf(step);
        total += 1;
        step = await decode(await embedIds([BigInt(best)]), total, past);
      }
      const text = tokenizer.decode(out.map(Number), { skip_special_tokens: true });
      const answer = userText(text.split(/\bquestion\b/i)[0] ?? '');
      return { answer, confidence };
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      cache?.clear();
      await Promise.all([vision.release(), qformer.release(), embed.release(), decoder.release()]);
    },
  };
};
