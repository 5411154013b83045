/**
 * Which files of a Hugging Face repo a backend needs: `iris models pull` fetches only these, and
 * `iris models list` calls a folder ready when every required one is there.
 */

/** A backend's files for its options: required ones must exist in the repo; optional ones are fetched when present. */
export interface ModelFiles {
  required: string[];
  optional?: string[];
}

/** transformers.js's ONNX file suffix per dtype (`model_quantized.onnx` for q8, …). */
export const ONNX_DTYPE_SUFFIX: Record<string, string> = {
  fp32: '',
  fp16: '_fp16',
  q8: '_quantized',
  int8: '_int8',
  uint8: '_uint8',
  q4: '_q4',
  q4f16: '_q4f16',
  bnb4: '_bnb4',
};

/**
 * `onnx/<session><suffix>.onnx` for each session; `dtype` is one dtype or a map session → dtype (as
 * transformers.js takes it). Unknown dtypes keep the fp32 name so the error comes from the backend.
 */
export function onnxFiles(sessions: readonly string[], dtype: unknown): string[] {
  return sessions.map((session) => {
    const d =
      typeof dtype === 'string'
        ? dtype
        : ((dtype as Record<string, unknown> | undefined)?.[session] ?? 'fp32');
    return `onnx/${session}${ONNX_DTYPE_SUFFIX[String(d)] ?? ''}.onnx`;
  });
}

const TOKENIZER = ['tokenizer.json', 'tokenizer_config.json'];
const TOKENIZER_EXTRA = ['special_tokens_map.json'];

/** CLIP with split towers (tag/clip.ts opens text_model and vision_model). */
export function clipFiles(options: Record<string, unknown>): ModelFiles {
  return {
    required: [
      'config.json',
      ...TOKENIZER,
      'preprocessor_config.json',
      ...onnxFiles(['text_model', 'vision_model'], options.dtype),
    ],
    optional: TOKENIZER_EXTRA,
  };
}

/** Florence-2 (caption, read and find): the four sessions transformers.js opens. */
export function florence2Files(options: Record<string, unknown>): ModelFiles {
  return {
    required: [
      'config.json',
      ...TOKENIZER,
      'preprocessor_config.json',
      ...onnxFiles(
        ['vision_encoder', 'embed_tokens', 'encoder_model', 'decoder_model_merged'],
        options.dtype,
      ),
    ],
    optional: ['generation_config.json', ...TOKENIZER_EXTRA],
  };
}

/** SmolVLM (Idefics3): processor_config.json is required by transformers.js. */
export function smolVlmFiles(options: Record<string, unknown>): ModelFiles {
  return {
    required: [
      'config.json',
      ...TOKENIZER,
      'preprocessor_config.json',
      'processor_config.json',
      ...onnxFiles(['vision_encoder', 'embed_tokens', 'decoder_model_merged'], options.dtype),
    ],
    optional: ['generation_config.json', 'chat_template.json', ...TOKENIZER_EXTRA],
  };
}

/** BLIP-2 in iris's own ONNX layout (docs/vqa.md). */
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
