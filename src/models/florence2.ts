/**
 * Florence-2 through transformers.js, shared by the caption backend (caption/florence2.ts), the
 * OCR backend (read/florence2.ts) and the grounding backend (find/florence2.ts). The folder is laid out like `onnx-community/Florence-2-base-ft`
 * (sessions vision_encoder, embed_tokens, encoder_model, decoder_model_merged; task prompts in
 * preprocessor_config.json). Florence-2 is not reachable through the `image-to-text` pipeline, so this
 * is the model class + processor + `generate()`.
 *
 * Offline by construction: the model id is the absolute folder the registry resolved, with
 * `local_files_only`; transformers.js's own file cache (inside node_modules by default, and read
 * before the folder) is switched off, as is remote loading: iris reads model folders, it never lets
 * transformers.js download.
 *
 * Options (config `tasks.<task>.options`; schema `florence2Options` in ./options.ts):
 * - `dtype` (default 'fp32'): which ONNX files to load ('fp32' → `onnx/<session>.onnx`, 'fp16' →
 *   `_fp16`, 'q8' → `_quantized`, 'q4' → `_q4`…: files.ts's table), or one per session, e.g.
 *   `{ vision_encoder: 'fp16', decoder_model_merged: 'q4' }`. A missing file is an error.
 * - `maxNewTokens` (default 256): longest answer in tokens.
 * - `hooks` (tests and metrics): `{ onVisionRun?(images), onVisionQueued?(images) }`, with batching.
 *
 * Batching (`BackendLoadOptions.batching`, config `scheduler.batching`): when on, the vision encoder runs
 * outside `generate()`: each request's pixel_values join the shared model's batcher (./frame-batcher.ts),
 * the images of concurrent caption, read and find requests run as one `encode_image` (vision_encoder)
 * run, and each request's features go into `generate()` as `inputs_embeds` (image features, then the
 * task prompt's token embeddings, as Florence2ForConditionalGeneration merges them itself), which
 * transformers.js accepts in place of `input_ids` + `pixel_values`. The requests run on the scheduler's
 * `gpu` queue (`maxConcurrent` 1 by default), so batching only helps where an operator raises that.
 */

import { join } from 'node:path';
import {
  cat,
  env,
  Florence2ForConditionalGeneration,
  Florence2Processor,
  ones,
  type PreTrainedModel,
  RawImage,
  StoppingCriteria,
  Tensor,
} from '@huggingface/transformers';
import type { RunOptions } from '../contracts/backend.js';
import type { LoadedImage } from '../contracts/request.js';
import { toRgb } from '../core/media.js';
import { BackendError, UserError } from '../errors.js';
import type { DtypeChoice } from './files.js';
import { FrameBatcher } from './frame-batcher.js';
import type { Florence2Hooks, Florence2Options } from './options.js';
import { SharedModels } from './shared-models.js';
import { BATCHING_OFF, type BatchingSettings } from './tag/clip-towers.js';
import type { BackendLoadOptions } from './types.js';
import { specialTokensOf, tokenStripper, userTextFilter } from './user-text.js';

/** The text task prompts iris uses. */
export type Florence2Task = '<CAPTION>' | '<DETAILED_CAPTION>' | '<MORE_DETAILED_CAPTION>' | '<OCR>';

/** Box tasks: phrase grounding takes the phrase as input; object detection takes none. */
export type Florence2BoxQuery = { task: '<CAPTION_TO_PHRASE_GROUNDING>'; input: string } | { task: '<OD>' };

/** A box in image pixels (x1,y1 top left, x2,y2 bottom right, within the image) and what it is. */
export interface Florence2Box {
  label: string;
  box: { x1: number; y1: number; x2: number; y2: number };
}

export interface Florence2 {
  /**
   * The task's answer as user text: no special, added, location or task tokens, whitespace collapsed
   * ('' when the model says nothing readable).
   */
  run(image: LoadedImage, task: Florence2Task, opts: RunOptions): Promise<string>;
  /** The boxes the task answers, in the model's order ([] when it finds nothing). */
  locate(image: LoadedImage, query: Florence2BoxQuery, opts: RunOptions): Promise<Florence2Box[]>;
  dispose(): Promise<void>;
}

type Device = NonNullable<Parameters<typeof Florence2ForConditionalGeneration.from_pretrained>[1]>['device'];

/** Stops generate() between tokens once the request is cancelled or timed out, and reports steps. */
class StopOnAbort extends StoppingCriteria {
  steps = 0;
  constructor(
    private readonly signal: AbortSignal,
    private readonly onStep?: (step: number) => void,
  ) {
    super();
  }
  override _call(inputIds: number[][]): boolean[] {
    this.steps++;
    this.onStep?.(this.steps);
    return inputIds.map(() => this.signal.aborted);
  }
}

/** The size the processor resizes to, so the image is decoded (with shrink-on-load) once, at that size. */
function targetSize(processor: Florence2Processor, image: LoadedImage): { width: number; height: number } {
  const config = (processor.image_processor as unknown as { config: Record<string, unknown> }).config;
  const size = config.size as { width?: number; height?: number } | undefined;
  if (
    config.do_resize !== false &&
    size &&
    typeof size.width === 'number' &&
    typeof size.height === 'number'
  ) {
    return { width: size.width, height: size.height };
  }
  return { width: image.width, height: image.height };
}

/** The processor's {bboxes, labels} → boxes clamped to the image, whole pixels; empty boxes dropped. */
function boxesOf(
  answer: { bboxes?: number[][]; labels?: string[] },
  image: LoadedImage,
  label: (raw: string) => string,
): Florence2Box[] {
  const clamp = (v: number | undefined, max: number) => Math.min(max, Math.max(0, Math.round(v ?? 0)));
  const out: Florence2Box[] = [];
  (answer.bboxes ?? []).forEach((b, i) => {
    const box = {
      x1: clamp(b[0], image.width),
      y1: clamp(b[1], image.height),
      x2: clamp(b[2], image.width),
      y2: clamp(b[3], image.height),
    };
    if (box.x2 > box.x1 && box.y2 > box.y1) {
      out.push({ label: label(answer.labels?.[i] ?? ''), box });
    }
  });
  return out;
}

/** The prompts iris asks for, by the preprocessor_config.json key that must hold each. */
const REQUIRED_PROMPTS = {
  task_prompts_without_inputs: ['<CAPTION>', '<DETAILED_CAPTION>', '<MORE_DETAILED_CAPTION>', '<OCR>'],
  task_prompts_with_input: ['<CAPTION_TO_PHRASE_GROUNDING>'],
  tasks_answer_post_processing_type: ['<CAPTION_TO_PHRASE_GROUNDING>'],
} as const;

/**
 * Fails at load, naming the key and the folder, when preprocessor_config.json lacks the task prompts
 * (transformers.js would take them as empty and every request would fail, or grounding would quietly
 * find nothing).
 */
function checkTaskPrompts(processor: Florence2Processor, where: { dir: string; who: string }): void {
  const config = (processor.image_processor as unknown as { config: Record<string, unknown> }).config;
  for (const [key, tasks] of Object.entries(REQUIRED_PROMPTS)) {
    const value = config[key];
    const missing =
      value && typeof value === 'object'
        ? tasks.filter((t) => typeof (value as Record<string, unknown>)[t] !== 'string')
        : undefined;
    if (missing?.length === 0) continue;
    const what = missing ? `${missing.join(', ')} in ${key}` : key;
    throw new UserError(
      'model_missing',
      `${where.who}: ${join(where.dir, 'preprocessor_config.json')} has no ${what}, which a Florence-2 export carries`,
    );
  }
}

interface LoadedFlorence2 {
  model: PreTrainedModel;
  processor: Florence2Processor;
  /** With batching: the vision encoder of every backend on this model. */
  images?: VisionEncoder;
  /** Hooks of the backends on this model, told of each batched vision-encoder run. */
  observers: Set<Florence2Hooks>;
}

/** The loaded model's vision encoder behind the batcher: pixel_values [n, 3, H, W] → features [n, tokens, D]. */
class VisionEncoder {
  readonly batcher: FrameBatcher;
  /** The type of the encoder's image_features (float16 for an fp16 vision_encoder); batches carry float32. */
  featureType: Tensor['type'] = 'float32';

  constructor(model: PreTrainedModel, batching: BatchingSettings, observers: Set<Florence2Hooks>) {
    this.batcher = new FrameBatcher({
      batching,
      encode: async ({ pixel_values }) => {
        const px = pixel_values as { data: Float32Array; dims: readonly number[] };
        for (const o of observers) o.onVisionRun?.(px.dims[0] as number);
        let features: Tensor;
        try {
          features = await model.encode_image({ pixel_values: new Tensor('float32', px.data, [...px.dims]) });
        } catch (cause) {
          throw new BackendError(
            'model_failed',
            `florence2: vision encoder failed: ${(cause as Error).message}`,
            {
              isRetryable: false,
              cause,
            },
          );
        }
        this.featureType = features.type;
        return { data: features.to('float32').data as Float32Array, dims: features.dims };
      },
    });
  }
}

/** Model and processor from a Florence-2 folder: the part caption, read and find share. */
async function openFlorence2(
  dir: string,
  o: { dtype: DtypeChoice; device: Device; batching: BatchingSettings },
): Promise<LoadedFlorence2> {
  const { dtype, device } = o;
  env.allowRemoteModels = false;
  env.useFSCache = false;
  let model: PreTrainedModel;
  let processor: Florence2Processor;
  try {
    [model, processor] = await Promise.all([
      Florence2ForConditionalGeneration.from_pretrained(dir, { dtype, device, local_files_only: true }),
      // Built as Florence-2's processor whatever preprocessor_config.json names (exports without
      // `processor_class` would otherwise get a processor with no tokenizer and no task prompts).
      Florence2Processor.from_pretrained(dir, { local_files_only: true }) as Promise<Florence2Processor>,
    ]);
  } catch (cause) {
    throw new UserError(
      'model_missing',
      `florence2: cannot load the Florence-2 model in ${dir}: ${(cause as Error).message}`,
      { cause },
    );
  }
  try {
    checkTaskPrompts(processor, { dir, who: 'florence2' });
  } catch (e) {
    await model.dispose();
    throw e;
  }
  const observers = new Set<Florence2Hooks>();
  return {
    model,
    processor,
    observers,
    ...(o.batching.enabled && { images: new VisionEncoder(model, o.batching, observers) }),
  };
}

/**
 * Florence-2 from `load.modelDir` for one backend; `who` names it in errors ('caption/florence2'). The
 * loaded model is shared (`load.shared`) with every other backend on the same folder, dtype and device.
 */
export async function loadFlorence2(
  load: BackendLoadOptions<Florence2Options>,
  who: string,
): Promise<Florence2> {
  const { dtype, maxNewTokens, hooks } = load.options;
  const device = (load.executionProviders[0] ?? 'cpu') as Device;
  const batching = load.batching ?? BATCHING_OFF;
  const lease = await (load.shared ?? new SharedModels()).acquire(
    {
      kind: 'florence2',
      dir: load.modelDir,
      dtype,
      executionProviders: [String(device)],
      ...(batching.enabled && { settings: { batching } }),
    },
    () => openFlorence2(load.modelDir, { dtype, device, batching }),
    async (loaded) => {
      await loaded.model.dispose();
    },
  );
  const { model, processor, images, observers } = lease.model;
  observers.add(hooks);

  /**
   * What generate() encodes: the processor's inputs as they are, or with batching the image features from
   * the shared batcher merged with the prompt's embeddings as Florence2ForConditionalGeneration merges them.
   */
  async function encoderInputs(
    inputs: Record<string, Tensor>,
    opts: RunOptions,
  ): Promise<Record<string, Tensor>> {
    const { pixel_values: px, input_ids, attention_mask } = inputs;
    if (!images || !px || !input_ids || !attention_mask) return inputs;
    const frame = {
      pixel_values: { type: 'float32' as const, data: px.data as Float32Array, dims: px.dims.slice(1) },
    };
    const out = await images.batcher.encode([frame], {
      ...opts,
      onQueued: (n) => hooks.onVisionQueued?.(n),
    });
    const features = new Tensor('float32', out.data, [...out.dims]).to(images.featureType);
    const text: Tensor = await model.encode_text({ input_ids });
    return {
      inputs_embeds: cat([features, text], 1),
      attention_mask: cat([ones(features.dims.slice(0, 2)), attention_mask], 1),
    };
  }
  const specialTokens = processor.tokenizer ? specialTokensOf(processor.tokenizer) : [];
  const userText = userTextFilter({ specialTokens });
  // Before the processor parses boxes, every token but the locations goes: `<pad>red<loc_…>` would
  // otherwise give the label "pad>red" (its label pattern stops at the last `<`).
  const allButLocations = tokenStripper(specialTokens.filter((t) => !/^<loc_\d+>$/.test(t)));

  let disposed = false;
  /** Runs one prompt (a task token, plus its input for tasks that take one) → the processor's parsed answer. */
  async function generate(
    image: LoadedImage,
    prompt: { task: string; input?: string },
    opts: RunOptions,
  ): Promise<unknown> {
    if (disposed) throw new BackendError('disposed', `${who}: backend was disposed`, { isRetryable: true });
    const known =
      prompt.input === undefined
        ? processor.task_prompts_without_inputs.has(prompt.task)
        : processor.task_prompts_with_input.has(prompt.task);
    if (!known) {
      throw new BackendError('bad_model', `${who}: the model's processor has no prompt for ${prompt.task}`, {
        isRetryable: false,
      });
    }
    if (opts.signal.aborted) throw new UserError('cancelled', 'the request was cancelled');
    const size = targetSize(processor, image);
    const rgb = await toRgb(image, { ...size, fit: 'fill' });
    const raw = new RawImage(rgb.data, rgb.width, rgb.height, 3);
    const stop = new StopOnAbort(opts.signal, (step) => opts.onProgress?.({ step, total: maxNewTokens }));
    let text: string;
    try {
      const inputs = await processor(raw, prompt.task + (prompt.input ?? ''));
      const ids = (await model.generate({
        ...(await encoderInputs(inputs, opts)),
        max_new_tokens: maxNewTokens,
        stopping_criteria: [stop],
      })) as Tensor;
      text = processor.batch_decode(ids, { skip_special_tokens: false })[0] ?? '';
    } catch (cause) {
      if (cause instanceof UserError) throw cause; // cancelled while its image waited for a batch
      throw new BackendError('model_failed', `${who}: generation failed: ${(cause as Error).message}`, {
        isRetryable: false,
        cause,
      });
    }
    if (opts.signal.aborted) throw new UserError('cancelled', 'the request was cancelled');
    // transformers.js scales coordinate i by image_size[i % 2]: x by [0], y by [1] — (width, height) as
    // in the Python processor, whatever its JSDoc says.
    return processor.post_process_generation(allButLocations(text), prompt.task, [image.width, image.height])[
      prompt.task
    ];
  }

  return {
    async run(image, task, opts) {
      const answer = await generate(image, { task }, opts);
      return typeof answer === 'string' ? userText(answer) : '';
    },
    async locate(image, query, opts) {
      if ('input' in query && /[<>]/.test(query.input)) {
        // `<…>` would be read as Florence-2's own task and location tokens.
        throw new UserError('bad_option', 'What to find cannot contain < or >.');
      }
      const answer = (await generate(image, query, opts)) as { bboxes?: number[][]; labels?: string[] };
      // Boxes come from the raw text (they are its location tokens); only the labels are user text.
      return boxesOf(answer, image, userText);
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      observers.delete(hooks);
      await lease.release();
    },
  };
}
