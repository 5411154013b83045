/**
 * Each backend's options (config `tasks.<task>.options`) as a zod schema: the registry table names one per
 * backend, config load and `iris doctor` check the configured backend's options against it (a bad value or
 * an unknown key stops start, naming the key), the registry checks per-request overrides the same way, and
 * the factory receives what the schema returns: typed, with defaults filled in.
 *
 * Unknown keys are refused, as everywhere in the config: a misspelt option would otherwise do nothing.
 * An option whose default comes from the model folder (e.g. `maxNewTokens` from generation_config.json)
 * is optional here and defaulted by the backend. `hooks` are for tests and benches (an object of
 * functions, so YAML cannot set them).
 *
 * This module is light (zod only) so the registry can declare schemas without loading any backend.
 */
import { z } from 'zod';
import { CLIP_SESSIONS, DTYPES, FLORENCE2_SESSIONS, SMOLVLM_SESSIONS } from './files.js';

/** A whole number ≥ min (and ≤ max when given). */
function wholeNumber(min: number, max?: number) {
  const error =
    max !== undefined
      ? `expected a whole number from ${min} to ${max}`
      : min === 1
        ? 'expected a positive integer'
        : `expected a whole number ≥ ${min}`;
  const n = z.int({ error }).min(min, { error });
  return max === undefined ? n : n.max(max, { error });
}

/** A finite number in [min, max]; `above`: strictly greater than min. */
function number(range: { min?: number; max?: number; above?: number } = {}) {
  const parts = [
    range.above !== undefined && `> ${range.above}`,
    range.min !== undefined && `≥ ${range.min}`,
    range.max !== undefined && `≤ ${range.max}`,
  ].filter(Boolean);
  const error = `expected a number${parts.length ? ` ${parts.join(' and ')}` : ''}`;
  let n = z.number({ error });
  if (range.above !== undefined) n = n.gt(range.above, { error });
  if (range.min !== undefined) n = n.min(range.min, { error });
  if (range.max !== undefined) n = n.max(range.max, { error });
  return n;
}

const flag = () => z.boolean({ error: 'expected true or false' });

/** The ONNX files to load: one dtype (files.ts's table) for every session, or a map session → dtype. */
export function dtypeOption(sessions: readonly string[]) {
  const name = z.enum(DTYPES);
  const session = z.string().refine((k) => sessions.includes(k));
  return z
    .union([name, z.record(session, name)], {
      error: `expected one of ${DTYPES.join(', ')}, or a map session → dtype (sessions: ${sessions.join(', ')})`,
    })
    .default('fp32');
}

/** onnxruntime's threads per operator (0: its own choice). */
const intraOpNumThreads = () => wholeNumber(0).default(0);
const graphOptimizationLevel = () =>
  z
    .enum(['disabled', 'basic', 'extended', 'all'], { error: 'expected disabled, basic, extended or all' })
    .default('all');

/** Test and bench instrumentation: an object of functions. */
function hooks<H extends object>() {
  return z
    .custom<H>(
      (v) =>
        typeof v === 'object' &&
        v !== null &&
        !Array.isArray(v) &&
        Object.values(v).every((f) => typeof f === 'function'),
      { error: 'hooks are functions that tests and benches pass; they cannot be set in the config' },
    )
    .default({} as H);
}

/** Observers of CLIP's tower runs (tests, benches, metrics). */
export interface ClipTaggerHooks {
  onTextRun?(texts: number): void;
  onVisionRun?(images: number): void;
  /** A vision run ended: how many images it took and how long `session.run` held the model, in ms. */
  onVisionRan?(images: number, ms: number): void;
  /** With batching: a vision batch starts; how long each of its images waited for it, in ms. */
  onVisionBatch?(waitedMs: number[]): void;
}

export interface Blip2Hooks {
  /** A vision-encoder (and Q-Former) run over this many images. */
  onVisionRun?(images: number): void;
  /** With batching: a question's image joined the vision-encoder batcher. */
  onVisionQueued?(images: number): void;
  onDecoderRun?(tokens: number): void;
}

export interface SmolVlmHooks {
  onVisionRun?(frames: number): void;
  /** With batching: a question's frames joined the vision-encoder batcher. */
  onVisionQueued?(frames: number): void;
  onDecoderRun?(tokens: number): void;
  /** The answer's token ids (without the stop token), as generated. */
  onTokens?(ids: number[]): void;
}

export interface Florence2Hooks {
  /** With batching: a vision-encoder run over this many images (of any backend on the shared model). */
  onVisionRun?(images: number): void;
  /** With batching: a request's image joined the vision-encoder batcher. */
  onVisionQueued?(images: number): void;
}

export interface SdHooks {
  onSessionRun?(session: string, ms: number): void;
  onPhase?(phase: 'tokenize' | 'scheduler' | 'decode-post' | 'png' | 'preview' | 'init', ms: number): void;
}

/** CLIP (tag and embed; tag/clip.ts documents each option). */
export const clipOptions = z.strictObject({
  template: z.string({ error: 'expected text' }).default('a photo of {}'),
  logitScale: number({ above: 0 }).default(100),
  /** Default −0.25 × logitScale (tag/clip.ts). */
  logitBias: number().optional(),
  batchSize: wholeNumber(1).default(8),
  dtype: dtypeOption(CLIP_SESSIONS),
  intraOpNumThreads: intraOpNumThreads(),
  graphOptimizationLevel: graphOptimizationLevel(),
  textCacheSize: wholeNumber(1).default(4096),
  hooks: hooks<ClipTaggerHooks>(),
});

/** Florence-2 (caption, read and find; florence2.ts). */
export const florence2Options = z.strictObject({
  dtype: dtypeOption(FLORENCE2_SESSIONS),
  maxNewTokens: wholeNumber(1).default(256),
  hooks: hooks<Florence2Hooks>(),
});

/** BLIP-2 VQA (vqa/blip2.ts). */
export const blip2Options = z.strictObject({
  /** Default: generation_config.json's max_new_tokens, else 30. */
  maxNewTokens: wholeNumber(1).optional(),
  maxPromptTokens: wholeNumber(8).default(512),
  featureCache: flag().default(true),
  featureCacheSize: wholeNumber(1).default(32),
  intraOpNumThreads: intraOpNumThreads(),
  hooks: hooks<Blip2Hooks>(),
});

/** SmolVLM VQA (vqa/smolvlm.ts). */
export const smolVlmOptions = z.strictObject({
  /** Default: generation_config.json's max_new_tokens, else 256. */
  maxNewTokens: wholeNumber(1).optional(),
  dtype: dtypeOption(SMOLVLM_SESSIONS),
  /** Default: the folder's do_image_splitting. */
  splitImages: flag().optional(),
  featureCache: flag().default(true),
  featureCacheSize: wholeNumber(1).default(8),
  intraOpNumThreads: intraOpNumThreads(),
  hooks: hooks<SmolVlmHooks>(),
});

/** Groq / OpenAI-compatible VQA (vqa/groq.ts). */
export const groqOptions = z.strictObject({
  maxRetries: wholeNumber(0).default(2),
  timeoutSeconds: number({ above: 0 }).default(60),
  maxRetryAfterSeconds: number({ min: 0 }).default(20),
  maxTokens: wholeNumber(1).default(512),
  temperature: number({ min: 0, max: 2 }).default(0.2),
  maxImageBytes: wholeNumber(1).default(3 * 1024 * 1024),
  logprobs: flag().default(false),
});

/** Tesseract OCR (read/tesseract.ts). */
export const tesseractOptions = z.strictObject({
  maxSide: wholeNumber(16).default(3000),
  /** Tesseract's page segmentation modes are 0–13. */
  psm: wholeNumber(0, 13).default(3),
  dpi: wholeNumber(70).default(300),
  /** Default: the language package's folder (read/tesseract.ts). */
  langPath: z
    .string({ error: 'expected a folder path' })
    .min(1, { error: 'expected a folder path' })
    .optional(),
});

/** Stable Diffusion (imagine/sd.ts). */
export const sdOptions = z.strictObject({
  intraOpNumThreads: intraOpNumThreads(),
  graphOptimizationLevel: graphOptimizationLevel(),
  /** Latent → RGB preview factors (4 rows of 3); default SD 1.5's (imagine/sd.ts). */
  previewFactors: z
    .array(z.tuple([number(), number(), number()]), { error: 'expected 4 rows of 3 numbers' })
    .length(4, { error: 'expected 4 rows of 3 numbers' })
    .optional(),
  hooks: hooks<SdHooks>(),
});

/** nsfwjs on TensorFlow.js WebAssembly (safety/nsfwjs.ts). */
export const nsfwjsOptions = z.strictObject({
  /** WebAssembly threads (0: TensorFlow.js's choice). */
  threads: wholeNumber(0, 64).default(0),
});

/** A schema for a backend that takes no options (tests' tables). */
export const noOptions = z.strictObject({});

/** What every backend's options schema is: an object whose unknown keys are refused. */
export type OptionsSchema = z.ZodObject<z.ZodRawShape, z.core.$strict>;

export type ClipOptions = z.output<typeof clipOptions>;
export type Florence2Options = z.output<typeof florence2Options>;
export type Blip2Options = z.output<typeof blip2Options>;
export type SmolVlmOptions = z.output<typeof smolVlmOptions>;
export type GroqOptions = z.output<typeof groqOptions>;
export type TesseractOptions = z.output<typeof tesseractOptions>;
export type SdOptions = z.output<typeof sdOptions>;
export type NsfwjsOptions = z.output<typeof nsfwjsOptions>;
