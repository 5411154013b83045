/**
 * Visual question answering with SmolVLM (Idefics3) on onnxruntime-node (backend id 'smolvlm').
 *
 * The folder is `HuggingFaceTB/SmolVLM-256M-Instruct`'s ONNX export: sessions `vision_encoder`,
 * `embed_tokens`, `decoder_model_merged` (file names per dtype as transformers.js picks them, files.ts),
 * config.json, generation_config.json, processor_config.json (`image_seq_len`), preprocessor_config.json
 * (Idefics3ImageProcessor), tokenizer.json, tokenizer_config.json (chat template, else chat_template.json).
 *
 * Inputs (smolvlm-inputs.ts) are what transformers.js's `generate()` would build: the chat template
 * renders the messages, the Idefics3Processor (built explicitly, so a preprocessor_config.json without `processor_class` works)
 * splits the image into frames and expands each `<image>` into its `<fake_token_around_image>`,
 * `<row_r_col_c>`/`<global-img>` and `image_seq_len` image tokens. The sessions then run as
 * Idefics3ForConditionalGeneration runs them (embed the ids, put the vision encoder's features at the
 * image tokens, decode greedily with past key/values), so the tokens equal generate()'s.
 *
 * Memory: earlier turns are real chat messages; the first user message carries the image(s) and the
 * first question, answers are assistant messages, the new question comes last, then "Assistant:".
 *
 * Feature reuse: the image tokens sit at the start of the first user message, so the decoder's key/values
 * over `<|im_start|>User:<image…>` depend only on the image(s). Per image key the backend keeps them; a
 * follow-up about the same image runs neither the image processor, nor the vision encoder, nor the
 * decoder over the image tokens — only the conversation's text.
 *
 * Answers stop at generation_config's EOS or at `<end_of_utterance>` (the end of the model's turn), and
 * pass through the shared user-text cleaner (no special or added tokens reach users); the user's text is
 * cleaned the same way before it enters the prompt, so a question cannot fake turns or images.
 *
 * Batching (`BackendLoadOptions.batching`, config `scheduler.batching`): when on, each frame of a first
 * question joins the loaded model's vision-encoder batcher (../frame-batcher.ts), so the frames of
 * concurrent questions run as one `vision_encoder` run, stacked along its frame dimension (`pixel_values`
 * [1, frames, 3, H, W] → `image_features` [frames, image_seq_len, hidden]). The processor makes every frame
 * `longest_edge`², so questions with different numbers of images or frames share a run. VQA runs on the
 * scheduler's `gpu` queue (`maxConcurrent` 1 by default), and the registry turns batching on only where
 * that queue runs several jobs at once (raised by an operator, e.g. on a GPU, or a worker's `--slots`).
 *
 * Options (config `tasks.vqa.options`): `maxNewTokens` (default generation_config's, else 256), `dtype`
 * ('fp32' default; or a map session → dtype, e.g. `{ vision_encoder: 'q8', decoder_model_merged: 'q8' }`),
 * `splitImages` (default the folder's `do_image_splitting`: large images become several 512² frames —
 * better detail, more tokens), `featureCache` (default true), `featureCacheSize` (images, default 8),
 * `intraOpNumThreads` (0 = onnxruntime's choice), `hooks` (tests and metrics); schema `smolVlmOptions` in
 * ../options.ts.
 */
import { join } from 'node:path';
import { env } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import type { Backend, RunOptions } from '../../contracts/backend.js';
import type { LoadedImage } from '../../contracts/request.js';
import { BackendError, UserError } from '../../errors.js';
import { onnxFiles, SMOLVLM_SESSIONS } from '../files.js';
import { FrameBatcher, fixedDim, framesOf, type StackedInputs } from '../frame-batcher.js';
import type { SmolVlmOptions } from '../options.js';
import type { BackendFactory, BackendLoadOptions } from '../types.js';
import { specialTokensOf, userTextFilter } from '../user-text.js';
import { PrefixCache } from './prefix-cache.js';
import { DecoderRunner, type Past } from './smolvlm-decoder.js';
import {
  ids,
  imageKeyOf,
  loadProcessor,
  num,
  placeImageFeatures,
  readJson,
  smolVlmImage,
  smolVlmMessages,
} from './smolvlm-inputs.js';

/** Images one question may be about (each costs image_seq_len tokens or more). */
export const SMOLVLM_MAX_IMAGES = 4;

const END_OF_UTTERANCE = '<end_of_utterance>';
const IMAGE_TOKEN = '<image>';

/** The decoder's key/values over the image prefix (its first `length` tokens). */
interface ImagePrefix {
  length: number;
  past: Past;
}

const failed = (what: string, cause: unknown) =>
  new BackendError('model_failed', `vqa/smolvlm: ${what} failed: ${(cause as Error).message}`, {
    isRetryable: false,
    cause,
  });

export const createSmolVlmVqa: BackendFactory<'vqa', SmolVlmOptions> = async (
  load: BackendLoadOptions<SmolVlmOptions>,
): Promise<Backend<'vqa'>> => {
  const o = load.options;
  const dir = load.modelDir;
  const hooks = o.hooks;
  env.allowRemoteModels = false;
  env.useFSCache = false;
  const [config, genConfig, chatTemplateFile, { processor, tokenizer }] = await Promise.all([
    readJson(dir, 'config.json', true),
    readJson(dir, 'generation_config.json', false),
    readJson(dir, 'chat_template.json', false),
    loadProcessor(dir),
  ]);
  const chatTemplate =
    (tokenizer.chat_template as string | null) ??
    (typeof chatTemplateFile.chat_template === 'string' ? chatTemplateFile.chat_template : undefined);
  if (!chatTemplate) {
    throw new UserError(
      'model_missing',
      `vqa/smolvlm: ${dir} has no chat template (chat_template in tokenizer_config.json or chat_template.json).`,
    );
  }
  const vocab = tokenizer.get_vocab() as Map<string, number> | Record<string, number>;
  const idOf = (token: string) =>
    vocab instanceof Map ? vocab.get(token) : (vocab as Record<string, number>)[token];
  const textConfig = (config.text_config ?? {}) as Record<string, unknown>;
  const imageTokenId = num(config.image_token_id ?? config.image_token_index, idOf(IMAGE_TOKEN) ?? -1);
  const stops = new Set([
    ...ids(genConfig.eos_token_id ?? textConfig.eos_token_id ?? config.eos_token_id),
    ...ids(idOf(END_OF_UTTERANCE)),
  ]);
  const maxNewTokens = o.maxNewTokens ?? Math.max(1, Math.floor(num(genConfig.max_new_tokens, 256)));
  const imageConfig = (processor.image_processor as unknown as { config: Record<string, unknown> }).config;
  const longestEdge =
    (imageConfig.size as { longest_edge?: number } | undefined)?.longest_edge ??
    (imageConfig.max_image_size as { longest_edge?: number } | undefined)?.longest_edge ??
    512;
  const splitImages = o.splitImages;
  const cache = o.featureCache ? new PrefixCache<ImagePrefix>(o.featureCacheSize) : undefined;
  const clean = userTextFilter({ specialTokens: specialTokensOf(tokenizer) });

  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: load.executionProviders.length ? load.executionProviders : ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: o.intraOpNumThreads,
    interOpNumThreads: 1,
  };
  const files = onnxFiles(SMOLVLM_SESSIONS, o.dtype);
  const [vision, embed, decoderSession] = (await Promise.all(
    files.map(async (file) => {
      try {
        return await ort.InferenceSession.create(join(dir, file), sessionOptions);
      } catch (cause) {
        throw new UserError(
          'model_missing',
          `vqa/smolvlm: the SmolVLM folder ${dir} has no loadable ${file}`,
          {
            cause,
          },
        );
      }
    }),
  )) as [ort.InferenceSession, ort.InferenceSession, ort.InferenceSession];
  const decoder = new DecoderRunner(decoderSession, {
    textConfig,
    dir,
    ...(hooks.onDecoderRun && { onRun: (n: number) => hooks.onDecoderRun?.(n) }),
  });
  decoder.checkFits({ vision, embed });

  const frameBatcher = load.batching?.enabled
    ? new FrameBatcher({
        batching: load.batching,
        maxFrames: fixedDim(vision, 'pixel_values', 1),
        encode: async (stacked, frames) => {
          const feeds = Object.fromEntries(
            Object.entries(stacked).map(([name, { type, data, dims }]) => [
              name,
              new ort.Tensor(type, data, [1, ...dims]),
            ]),
          );
          hooks.onVisionRun?.(frames);
          let features: ort.Tensor;
          try {
            features = (await vision.run(feeds)).image_features as ort.Tensor;
          } catch (cause) {
            throw failed('vision encoder', cause);
          }
          return { data: features.data as Float32Array, dims: features.dims };
        },
      })
    : undefined;

  /** The vision encoder's features [frames, image_seq_len, hidden] of the processor's pixels. */
  async function imageFeatures(feeds: Record<string, ort.Tensor>, opts: RunOptions): Promise<ort.Tensor> {
    const picked = Object.fromEntries(vision.inputNames.map((n) => [n, feeds[n] as ort.Tensor]));
    if (!frameBatcher) {
      hooks.onVisionRun?.(feeds.pixel_values?.dims[1] ?? 1);
      try {
        return (await vision.run(picked)).image_features as ort.Tensor;
      } catch (cause) {
        throw failed('vision encoder', cause);
      }
    }
    const stacked: StackedInputs = {};
    for (const [name, t] of Object.entries(picked)) {
      if (t)
        stacked[name] = { type: t.type as 'float32' | 'bool', data: t.data as Float32Array, dims: t.dims };
    }
    const out = await frameBatcher.encode(framesOf(stacked, 2), {
      ...opts,
      onQueued: (n) => hooks.onVisionQueued?.(n),
    });
    return new ort.Tensor('float32', out.data, out.dims);
  }

  const tokenize = (text: string): bigint[] => [
    ...((tokenizer(text, { add_special_tokens: false }) as { input_ids: { data: BigInt64Array } }).input_ids
      .data as BigInt64Array),
  ];

  async function embedIds(list: readonly bigint[]): Promise<ort.Tensor> {
    try {
      const out = await embed.run({
        input_ids: new ort.Tensor('int64', BigInt64Array.from(list), [1, list.length]),
      });
      return out.inputs_embeds as ort.Tensor;
    } catch (cause) {
      throw failed('embed_tokens', cause);
    }
  }

  /**
   * First question about these images: the processor's ids and pixels, the vision encoder's features at
   * the image tokens, one prefill over the whole prompt. The key/values over the image prefix (`prefixLength`
   * tokens) are what a follow-up reuses.
   */
  async function firstTurn(o: {
    prompt: string;
    images: LoadedImage[];
    restIds: bigint[];
    opts: RunOptions;
  }) {
    const { prompt, images, restIds } = o;
    const raws = await Promise.all(images.map((img) => smolVlmImage(img, longestEdge)));
    const inputs = (await processor(prompt, raws, {
      ...(splitImages !== undefined && { do_image_splitting: splitImages }),
    })) as Record<string, { type: ort.Tensor.Type; data: ort.Tensor.DataType; dims: number[] }>;
    const all = [...((inputs.input_ids?.data ?? []) as BigInt64Array)];
    const embeds = await embedIds(all);
    const pixels = inputs.pixel_values as { type: 'float32'; data: Float32Array; dims: number[] };
    const mask = inputs.pixel_attention_mask as { data: Uint8Array; dims: number[] };
    const feeds: Record<string, ort.Tensor> = {
      pixel_values: new ort.Tensor('float32', pixels.data, pixels.dims),
      pixel_attention_mask: new ort.Tensor('bool', mask.data, mask.dims),
    };
    const features = await imageFeatures(feeds, o.opts);
    placeImageFeatures({ embeds, features, ids: all, imageTokenId });
    const step = await decoder.run(embeds, decoder.emptyPast(), 0);
    // The image prefix ends where the text after the last image placeholder starts.
    const length = all.length - restIds.length;
    const splits = length > 0 && restIds.every((id, i) => all[length + i] === id);
    const prefix = cache && splits ? { length, past: decoder.slicePast(step.present, length) } : undefined;
    return { step, total: all.length, prefix };
  }

  let disposed = false;
  return {
    task: 'vqa',
    id: 'smolvlm',
    model: load.modelId,
    maxImages: SMOLVLM_MAX_IMAGES,
    async run(input, opts) {
      if (disposed)
        throw new BackendError('disposed', 'vqa/smolvlm: backend was disposed', { isRetryable: true });
      if (input.images.length === 0)
        throw new UserError('no_image', 'A question needs an image to be about.');
      if (input.images.length > SMOLVLM_MAX_IMAGES) {
        throw new UserError('bad_option', `SmolVLM takes at most ${SMOLVLM_MAX_IMAGES} images per question.`);
      }
      if (input.format === 'json') {
        throw new UserError('not_available', 'Structured (JSON) answers need the groq backend.');
      }
      const check = () => {
        if (opts.signal.aborted) throw new UserError('cancelled', 'the request was cancelled');
      };
      check();
      let prompt: string;
      try {
        prompt = tokenizer.apply_chat_template(smolVlmMessages(input, clean) as never, {
          add_generation_prompt: true,
          tokenize: false,
          chat_template: chatTemplate,
        }) as string;
      } catch (cause) {
        throw failed('the chat template', cause);
      }
      // The text after the first message's image placeholders: what a follow-up decodes on top of the prefix.
      let cut = 0;
      for (let i = 0; i < input.images.length; i++) {
        const at = prompt.indexOf(IMAGE_TOKEN, cut);
        if (at < 0)
          throw failed('the chat template', new Error(`it placed no ${IMAGE_TOKEN} for image ${i + 1}`));
        cut = at + IMAGE_TOKEN.length;
      }
      const restIds = tokenize(prompt.slice(cut));
      const key = imageKeyOf(input);

      let step: Awaited<ReturnType<typeof decoder.run>>;
      let total: number;
      const hit = cache?.get(key);
      const prefix = hit ? await hit.catch(() => undefined) : undefined;
      check();
      if (prefix) {
        total = prefix.length + restIds.length;
        step = await decoder.run(await embedIds(restIds), prefix.past, prefix.length);
      } else {
        const first = firstTurn({ prompt, images: input.images, restIds, opts });
        const prefixP = first.then((f) => f.prefix ?? Promise.reject(new Error('no image prefix')));
        if (cache) cache.set(key, prefixP);
        prefixP.catch(() => {});
        ({ step, total } = await first);
      }

      const out: number[] = [];
      const probabilities: number[] = [];
      for (;;) {
        check();
        const { token, probability } = decoder.greedy(step.logits);
        probabilities.push(probability);
        if (stops.has(token)) break;
        out.push(token);
        if (out.length >= maxNewTokens) break;
        step = await decoder.run(await embedIds([BigInt(token)]), step.present, total);
        total += 1;
      }
      hooks.onTokens?.(out);
      const confidence = probabilities.reduce((a, b) => a + b, 0) / probabilities.length;
      const answer = clean(tokenizer.decode(out, { skip_special_tokens: true }));
      return { answer, confidence };
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      cache?.clear();
      await Promise.all([vision.release(), embed.release(), decoderSession.release()]);
    },
  };
};
