/**
 * Which files of a Hugging Face repo a backend needs: `iris models pull` fetches only these (plus the
 * external-data files beside each ONNX graph the repo lists, pull.ts), and `iris models list` calls a
 * folder ready when every required one is there.
 */

/** A backend's files for its options: required ones must exist in the repo; optional ones are fetched when present. */
export interface ModelFiles {
  required: string[];
  optional?: string[];
}

/**
 * The one dtype table: transformers.js's ONNX file suffix per dtype (`model_quantized.onnx` for q8, …).
 * The file lists below, the CLIP, Florence-2 and SmolVLM backends and the `dtype` option's schema
 * (options.ts) all read it.
 */
export const ONNX_DTYPE_SUFFIX = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
} as const;

export type Dtype = keyof typeof ONNX_DTYPE_SUFFIX;
export const DTYPES = Object.keys(ONNX_DTYPE_SUFFIX) as [Dtype, ...Dtype[]];

/** One dtype for every session, or one per session (a session not named loads fp32), as transformers.js takes it. */
export type DtypeChoice = Dtype | Record<string, Dtype>;

/** The dtype `choice` gives `session`. */
export function sessionDtype(choice: DtypeChoice, session: string): Dtype {
  return typeof choice === 'string' ? choice : (choice[session] ?? 'fp32');
}

/** `onnx/<session><suffix>.onnx` for each session. */
export function onnxFiles(sessions: readonly string[], dtype: DtypeChoice): string[] {
  return sessions.map((session) => `onnx/${session}${ONNX_DTYPE_SUFFIX[sessionDtype(dtype, session)]}.onnx`);
}

/** The ONNX sessions each backend opens (the keys a per-session `dtype` map may name). */
export const CLIP_SESSIONS = ['text_model', 'vision_model'] as const;
export const FLORENCE2_SESSIONS = [
  'vision_encoder',
  'embed_tokens',
  'encoder_model',
  'decoder_model_merged',
] as const;
export const SMOLVLM_SESSIONS = ['vision_encoder', 'embed_tokens', 'decoder_model_merged'] as const;

const TOKENIZER = ['tokenizer.json', 'tokenizer_config.json'];
const TOKENIZER_EXTRA = ['special_tokens_map.json'];

/** CLIP with split towers (tag/clip.ts opens text_model and vision_model). */
export function clipFiles(options: { dtype: DtypeChoice }): ModelFiles {
  return {
    required: [
      'config.json',
      ...TOKENIZER,
      'preprocessor_config.json',
      ...onnxFiles(CLIP_SESSIONS, options.dtype),
    ],
    optional: TOKENIZER_EXTRA,
  };
}

/** Florence-2 (caption, read and find): the four sessions transformers.js opens. */
export function florence2Files(options: { dtype: DtypeChoice }): ModelFiles {
  return {
    required: [
      'config.json',
      ...TOKENIZER,
      'preprocessor_config.json',
      ...onnxFiles(FLORENCE2_SESSIONS, options.dtype),
    ],
    optional: ['generation_config.json', ...TOKENIZER_EXTRA],
  };
}

/** SmolVLM (Idefics3): processor_config.json holds image_seq_len; the chat template may be in chat_template.json. */
export function smolVlmFiles(options: { dtype: DtypeChoice }): ModelFiles {
  return {
    required: [
      'config.json',
      ...TOKENIZER,
      'preprocessor_config.json',
      'processor_config.json',
      ...onnxFiles(SMOLVLM_SESSIONS, options.dtype),
    ],
    optional: ['generation_config.json', 'chat_template.json', ...TOKENIZER_EXTRA],
  };
}

/** BLIP-2 in iris's own ONNX layout (docs/vqa.md; scripts/export_blip2.py writes it, fp32 only). */
export function blip2Files(): ModelFiles {
  return {
    required: [
      'config.json',
      ...TOKENIZER,
      'preprocessor_config.json',
      ...onnxFiles(['vision_encoder', 'qformer', 'embed_tokens', 'decoder_model_merged'], 'fp32'),
    ],
    optional: ['generation_config.json', ...TOKENIZER_EXTRA],
  };
}

/**
 * Stable Diffusion in the optimum / Olive ONNX layout (imagine/sd.ts): the three graphs a text-to-image run
 * needs, the tokenizer's vocab.json + merges.txt (diffusers' layout; sd.ts builds tokenizer.json from them),
 * and what it reads when present (the VAE encoder for variations, the scheduler config).
 */
export function sdFiles(): ModelFiles {
  return {
    required: [
      'text_encoder/model.onnx',
      'unet/model.onnx',
      'vae_decoder/model.onnx',
      'tokenizer/vocab.json',
      'tokenizer/merges.txt',
    ],
    optional: [
      'model_index.json',
      'scheduler/scheduler_config.json',
      'vae_encoder/model.onnx',
      'vae_decoder/config.json',
      'tokenizer/tokenizer.json',
      'tokenizer/tokenizer_config.json',
      'tokenizer/special_tokens_map.json',
    ],
  };
}

/** The dtype profiles `iris models pull --dtype` offers; each maps to a backend's `dtype` option. */
export const DTYPE_PROFILES = ['q8', 'fp16', 'fp32'] as const satisfies readonly Dtype[];
export type DtypeProfile = (typeof DTYPE_PROFILES)[number];
