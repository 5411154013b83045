/**
 * Colour-world SmolVLM: a folder laid out like `HuggingFaceTB/SmolVLM-256M-Instruct`'s ONNX export
 * (`model_type: "idefics3"`, Idefics3Processor with `image_seq_len` in processor_config.json,
 * Idefics3ImageProcessor, the SmolVLM chat template; sessions `vision_encoder` (pixel_values,
 * pixel_attention_mask → image_features), `embed_tokens` and `decoder_model_merged` (inputs_embeds,
 * attention_mask, position_ids, past_key_values.0.key/value → logits, present.0.*)) that transformers.js
 * runs with `AutoModelForVision2Seq` + `AutoProcessor` + `generate()`, and iris's smolvlm backend runs
 * session by session.
 *
 * The language model is the hand-set colour-world one (colour-lm.ts) that the BLIP-2 demo uses too,
 * reading the chat roles as turn markers: "User" starts a question, "Assistant" an answer,
 * `<end_of_utterance>` is EOS.
 * Earlier turns are real chat messages, so "what did I ask before?" → the noun of the earlier question.
 * The vision encoder takes the masked mean RGB of each frame (undoing the 0.5/0.5 normalisation) and
 * emits `image_seq_len` identical image tokens carrying the colour scores.
 *
 * Variants:
 * - 'colour' (default): as above.
 * - 'leaky': a model that does not stop at the end of its turn, as some exports behave: generation_config
 *   stops at `<|endoftext|>`, `<end_of_utterance>` is an added token that is not marked special (so
 *   `skip_special_tokens` keeps it), and after it the model answers again — "red<end_of_utterance>red…".
 * - 'bench': the same answers with the cost of a real model on CPU: a ViT-B/16 vision encoder over each
 *   224×224 frame (196 patches, 12 blocks of width 768), 64 image tokens per frame, and a per-token MLP
 *   stack in the decoder (colour-lm.ts's bench decoder).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blocks, layerNorm, randn } from './clip.js';
import {
  ANSWER_WORDS,
  COLOUR_LM_HIDDEN,
  type ColourLm,
  type ColourLmVariant,
  colourDecoderGraph,
  colourEmbedGraph,
  colourFeatures,
} from './colour-lm.js';
import { magentaFails } from './fail-on-magenta.js';
import { Graph } from './onnx.js';

export type SmolVlmVariant = 'colour' | 'leaky' | 'bench';

const BENCH = { image: 224, patch: 16, width: 768, heads: 12, layers: 12, seq: 64 };
const PAD = '<|endoftext|>';
const BOS = '<|im_start|>';
const EOS = '<end_of_utterance>';
const FAKE = '<fake_token_around_image>';
const IMAGE = '<image>';
const GLOBAL = '<global-img>';
const GRID: string[] = [];
for (let r = 1; r <= 4; r++) for (let c = 1; c <= 4; c++) GRID.push(`<row_${r}_col_${c}>`);
const SPECIAL = [PAD, BOS, EOS, FAKE, IMAGE, GLOBAL, ...GRID];
const WORDS = [
  ...ANSWER_WORDS,
  'user',
  'assistant',
  ':',
  '?',
  '.',
  ',',
  '!',
  'what',
  'which',
  'colour',
  'color',
  'is',
  'it',
  'the',
  'a',
  'this',
  'that',
  'of',
  'did',
  'i',
  'you',
  'ask',
  'asked',
  'about',
  'image',
  'picture',
  'and',
  'in',
];

export const SMOLVLM_VOCAB: Record<string, number> = Object.fromEntries(
  [...SPECIAL, ...WORDS].map((w, i) => [w, i] as const),
);
const LM: ColourLm = { vocab: SMOLVLM_VOCAB, questionWord: 'user', answerWord: 'assistant', eos: EOS };

interface Spec {
  image: number;
  seq: number;
  lm: ColourLm;
  decoder: ColourLmVariant;
  /** The token generation stops at (generation_config / tokenizer_config eos). */
  stop: string;
  /** `<end_of_utterance>` is marked special in tokenizer.json. */
  eouSpecial: boolean;
}

function spec(variant: SmolVlmVariant): Spec {
  const base = { image: 16, seq: 4, lm: LM, decoder: 'colour' as const, stop: EOS, eouSpecial: true };
  if (variant === 'bench') return { ...base, image: BENCH.image, seq: BENCH.seq, decoder: 'bench' };
  if (variant === 'leaky') return { ...base, lm: { ...LM, alsoAnswer: [EOS] }, stop: PAD, eouSpecial: false };
  return base;
}

/** SmolVLM's chat template (as in the real tokenizer_config.json). */
export const SMOLVLM_CHAT_TEMPLATE =
  "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

function visionGraph(s: Spec, o: { variant: SmolVlmVariant; failOnMagenta: boolean }): Uint8Array {
  const { variant } = o;
  const g = new Graph('smolvlm_vision_encoder');
  const px = g.input('pixel_values', 'float32', ['batch_size', 'num_images', 3, 'height', 'width']);
  const pm = g.input('pixel_attention_mask', 'bool', ['batch_size', 'num_images', 'height', 'width']);
  const hw = g.node('Shape', [px], { start: 3, end: 5 });
  const frames = g.node('Reshape', [px, g.node('Concat', [g.i64([-1, 3]), hw], { axis: 0 })]); // [N,3,H,W]
  const frameShape = g.node('Concat', [g.i64([-1, 1]), hw], { axis: 0 });
  const mask = g.node('Reshape', [g.node('Cast', [pm], { to: 1 }), frameShape]); // [N,1,H,W]
  const sum = g.node('ReduceSum', [g.node('Mul', [frames, mask]), g.i64([2, 3])], { keepdims: 0 }); // [N,3]
  const count = g.node('Max', [g.node('ReduceSum', [mask, g.i64([2, 3])], { keepdims: 0 }), g.scalar(1)]);
  // pixels are normalised with mean 0.5, std 0.5: undo it
  const rgb = g.node('Add', [g.node('Mul', [g.node('Div', [sum, count]), g.scalar(0.5)]), g.scalar(0.5)]);
  const token = g.node('Unsqueeze', [colourFeatures(g, rgb), g.i64([1])]); // [N,1,24]
  const n = g.node('Shape', [token], { start: 0, end: 1 });
  const shape = g.node('Concat', [n, g.i64([s.seq, COLOUR_LM_HIDDEN])], { axis: 0 });
  let features = g.node('Expand', [token, shape]);
  if (o.failOnMagenta) features = magentaFails(g, rgb, features);
  if (variant === 'bench') {
    const W = BENCH.width;
    const P = BENCH.patch;
    const grid = BENCH.image / P;
    const conv = g.node('Conv', [frames, g.init(randn(W * 3 * P * P, 3 * P * P, 61), [W, 3, P, P])], {
      strides: [P, P],
      kernel_shape: [P, P],
    });
    const patches = g.node('Transpose', [g.node('Reshape', [conv, g.i64([0, W, grid * grid])])], {
      perm: [0, 2, 1],
    });
    const hidden = blocks(g, layerNorm(g, patches, W), W, BENCH.heads, BENCH.layers, 600);
    const first = g.node('Slice', [hidden, g.i64([0]), g.i64([s.seq]), g.i64([1])]);
    // a trace of the tower's output in the colour scores only (noise in the noun slots would turn into nouns)
    const colourOnly = new Float32Array(COLOUR_LM_HIDDEN);
    colourOnly.fill(1e-6, 0, 8);
    const trace = g.node('Mul', [
      g.node('MatMul', [first, g.init(randn(W * COLOUR_LM_HIDDEN, W, 62), [W, COLOUR_LM_HIDDEN])]),
      g.f32(colourOnly),
    ]);
    features = g.node('Add', [features, trace]);
  }
  g.output(g.rename(features, 'image_features'), 'float32', ['num_frames', s.seq, COLOUR_LM_HIDDEN]);
  return g.toBytes();
}

function tokenizerJson(s: Spec) {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL.map((content) => ({
      id: SMOLVLM_VOCAB[content],
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: content !== EOS || s.eouSpecial,
    })),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordLevel', vocab: SMOLVLM_VOCAB, unk_token: PAD },
  };
}

/** Writes the folder: config.json, generation_config.json, tokenizer files, processor configs, onnx/*. */
export async function synthSmolVlm(
  outDir: string,
  {
    variant = 'colour',
    failOnMagenta = false,
  }: {
    variant?: SmolVlmVariant;
    /** The vision encoder fails on any run holding a magenta frame (tests of batching). */
    failOnMagenta?: boolean;
  } = {},
): Promise<void> {
  const s = spec(variant);
  await mkdir(join(outDir, 'onnx'), { recursive: true });
  const json = (name: string, value: unknown) =>
    writeFile(join(outDir, name), `${JSON.stringify(value, null, 2)}\n`);
  const ids = SMOLVLM_VOCAB as Record<string, number>;
  await json('config.json', {
    _name_or_path: 'HuggingFaceTB/SmolVLM-256M-Instruct',
    architectures: ['Idefics3ForConditionalGeneration'],
    model_type: 'idefics3',
    image_token_id: ids[IMAGE],
    scale_factor: 4,
    iris_colour_world: variant,
    text_config: {
      model_type: 'llama',
      vocab_size: Object.keys(SMOLVLM_VOCAB).length,
      hidden_size: COLOUR_LM_HIDDEN,
      num_hidden_layers: 1,
      num_attention_heads: 1,
      num_key_value_heads: 1,
      head_dim: COLOUR_LM_HIDDEN,
      bos_token_id: ids[BOS],
      eos_token_id: ids[s.stop],
      pad_token_id: ids[PAD],
      max_position_embeddings: 8192,
    },
    vision_config: { model_type: 'idefics3_vision', image_size: s.image, patch_size: s.image / 2 },
  });
  await json('generation_config.json', {
    bos_token_id: ids[BOS],
    eos_token_id: ids[s.stop],
    pad_token_id: ids[PAD],
    max_new_tokens: 30,
  });
  await json('tokenizer.json', tokenizerJson(s));
  await json('tokenizer_config.json', {
    tokenizer_class: 'GPT2Tokenizer',
    bos_token: BOS,
    eos_token: s.stop,
    pad_token: PAD,
    unk_token: PAD,
    model_max_length: 8192,
    chat_template: SMOLVLM_CHAT_TEMPLATE,
  });
  await json('special_tokens_map.json', {
    bos_token: BOS,
    eos_token: s.stop,
    pad_token: PAD,
    unk_token: PAD,
    additional_special_tokens: s.eouSpecial ? [FAKE, IMAGE, EOS] : [FAKE, IMAGE],
  });
  await json('processor_config.json', { image_seq_len: s.seq, processor_class: 'Idefics3Processor' });
  await json('preprocessor_config.json', {
    image_processor_type: 'Idefics3ImageProcessor',
    processor_class: 'Idefics3Processor',
    do_convert_rgb: true,
    do_image_splitting: false,
    do_normalize: true,
    do_pad: true,
    do_rescale: true,
    do_resize: true,
    image_mean: [0.5, 0.5, 0.5],
    image_std: [0.5, 0.5, 0.5],
    max_image_size: { longest_edge: s.image },
    resample: 1,
    rescale_factor: 1 / 255,
    size: { longest_edge: s.image },
  });
  await writeFile(join(outDir, 'onnx', 'vision_encoder.onnx'), visionGraph(s, { variant, failOnMagenta }));
  await writeFile(join(outDir, 'onnx', 'embed_tokens.onnx'), colourEmbedGraph(s.lm));
  await writeFile(
    join(outDir, 'onnx', 'decoder_model_merged.onnx'),
    colourDecoderGraph(s.lm, { variant: s.decoder, positionIds: true }),
  );
}
