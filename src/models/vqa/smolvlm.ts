/**
 * Visual question answering with SmolVLM (Idefics3) through transformers.js (backend id 'smolvlm').
 *
 * The folder is `HuggingFaceTB/SmolVLM-256M-Instruct`'s ONNX export (sessions vision_encoder,
 * embed_tokens, decoder_model_merged; processor_config.json; the chat template in tokenizer_config.json).
 * There is no VQA pipeline for it in transformers.js, so this is the model class + processor + generate().
 *
 * Memory: earlier turns are real chat messages. The first user message carries the image(s) and the
 * first question; answers are assistant messages; the new question comes last, then "Assistant:".
 * Several images (compare) are several `<image>` entries in that first message.
 *
 * Unlike blip2, generate() runs the vision encoder on every call: follow-ups are not cached here.
 *
 * Options (config `tasks.vqa.options`): `maxNewTokens` (default 256), `dtype` (default 'fp32'; a string
 * or a map session → dtype, e.g. `{ vision_encoder: 'fp16', decoder_model_merged: 'q4' }`).
 */
import {
  AutoModelForVision2Seq,
  AutoProcessor,
  env,
  LogitsProcessor,
  type PreTrainedModel,
  type Processor,
  RawImage,
  StoppingCriteria,
  type Tensor,
} from '@huggingface/transformers';
import { toRgb } from '../../core/media.js';
import type { LoadedImage } from '../../core/types.js';
import { BackendError, UserError } from '../../errors.js';
import type { Backend, BackendFactory, BackendLoadOptions, TaskIO } from '../types.js';

/** Images one question may be about (each costs image_seq_len tokens or more). */
export const SMOLVLM_MAX_IMAGES = 4;

type DType = NonNullable<Parameters<typeof AutoModelForVision2Seq.from_pretrained>[1]>['dtype'];
type Device = NonNullable<Parameters<typeof AutoModelForVision2Seq.from_pretrained>[1]>['device'];
type Content = { type: 'image' } | { type: 'text'; text: string };

/** Stops generate() between tokens once the request is cancelled or timed out. */
class StopOnAbort extends StoppingCriteria {
  constructor(private readonly signal: AbortSignal) {
    super();
  }
  override _call(inputIds: number[][]): boolean[] {
    return inputIds.map(() => this.signal.aborted);
  }
}

/**
 * Watches greedy decoding without changing it: the probability of the chosen (most likely) token at
 * each step, for the answer's confidence (mean over the tokens).
 */
class ConfidenceMeter extends LogitsProcessor {
  readonly probabilities: number[] = [];
  override _call(_inputIds: bigint[][], logits: Tensor): Tensor {
    const vocab = logits.dims.at(-1) as number;
    const row = (logits.data as Float32Array).subarray(0, vocab);
    let max = Number.NEGATIVE_INFINITY;
    for (const x of row) if (x > max) max = x;
    let z = 0;
    for (const x of row) z += Math.exp(x - max);
    if (Number.isFinite(max) && z > 0) this.probabilities.push(1 / z);
    return logits;
  }
  get mean(): number | undefined {
    const p = this.probabilities;
    return p.length ? p.reduce((a, b) => a + b, 0) / p.length : undefined;
  }
}

/** Chat messages for the question, earlier turns first; the images ride in the first user message. */
export function smolVlmMessages(input: TaskIO['vqa']['in']): { role: string; content: Content[] }[] {
  const questions = [...input.history.map((t) => t.question), input.question];
  const messages: { role: string; content: Content[] }[] = [];
  questions.forEach((text, i) => {
    const images: Content[] = i === 0 ? input.images.map(() => ({ type: 'image' })) : [];
    messages.push({ role: 'user', content: [...images, { type: 'text', text }] });
    const earlier = input.history[i];
    if (earlier) messages.push({ role: 'assistant', content: [{ type: 'text', text: earlier.answer }] });
  });
  return messages;
}

/** Decode at most at the processor's longest edge (shrink-on-load), keeping the aspect ratio. */
async function rawImage(image: LoadedImage, longestEdge: number): Promise<RawImage> {
  const scale = Math.min(1, longestEdge / Math.max(image.width, image.height));
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  const rgb = await toRgb(image, { width, height, fit: 'fill' });
  return new RawImage(rgb.data, rgb.width, rgb.height, 3);
}

export const createSmolVlmVqa: BackendFactory<'vqa'> = async (
  load: BackendLoadOptions,
): Promise<Backend<'vqa'>> => {
  const o = load.options;
  const maxNewTokens =
    typeof o.maxNewTokens === 'number' && o.maxNewTokens >= 1 ? Math.floor(o.maxNewTokens) : 256;
  const dtype = (o.dtype ?? 'fp32') as DType;
  env.allowRemoteModels = false;
  env.useFSCache = false;
  let model: PreTrainedModel;
  let processor: Processor;
  try {
    [model, processor] = await Promise.all([
      AutoModelForVision2Seq.from_pretrained(load.modelDir, {
        dtype,
        device: (load.executionProviders[0] ?? 'cpu') as Device,
        local_files_only: true,
      }),
      AutoProcessor.from_pretrained(load.modelDir, { local_files_only: true }),
    ]);
  } catch (cause) {
    throw new UserError(
      'model_missing',
      `vqa/smolvlm: cannot load the SmolVLM model in ${load.modelDir}: ${(cause as Error).message}`,
      { cause },
    );
  }
  const imageConfig = (processor.image_processor as unknown as { config: Record<string, unknown> }).config;
  const longestEdge =
    (imageConfig.size as { longest_edge?: number } | undefined)?.longest_edge ??
    (imageConfig.max_image_size as { longest_edge?: number } | undefined)?.longest_edge ??
    512;

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
      if (opts.signal.aborted) throw new UserError('cancelled', 'the request was cancelled');
      const raws = await Promise.all(input.images.map((img) => rawImage(img, longestEdge)));
      let answer: string;
      const meter = new ConfidenceMeter();
      try {
        const prompt = processor.apply_chat_template(smolVlmMessages(input) as never, {
          add_generation_prompt: true,
        }) as string;
        const inputs = await processor(prompt, raws);
        const ids = (await model.generate({
          ...inputs,
          max_new_tokens: maxNewTokens,
          do_sample: false,
          stopping_criteria: [new StopOnAbort(opts.signal)],
          logits_processor: [meter] as never,
        })) as Tensor;
        const promptLength = (inputs.input_ids as Tensor).dims.at(-1) as number;
        answer =
          processor.batch_decode(ids.slice(null, [promptLength, ids.dims.at(-1) as number]), {
            skip_special_tokens: true,
          })[0] ?? '';
      } catch (cause) {
        throw new BackendError(
          'model_failed',
          `vqa/smolvlm: generation failed: ${(cause as Error).message}`,
          {
            isRetryable: false,
            cause,
          },
        );
      }
      if (opts.signal.aborted) throw new UserError('cancelled', 'the request was cancelled');
      const confidence = meter.mean;
      return { answer: answer.replace(/\s+/g, ' ').trim(), ...(confidence !== undefined && { confidence }) };
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await model.dispose();
    },
  };
};
