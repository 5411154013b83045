/**
 * Colour-world BLIP-2: a folder in iris's BLIP-2 ONNX layout (docs/vqa.md) — vision encoder, Q-Former
 * (with the language projection) and an OPT-style decoder with past key/values — whose weights are set
 * by hand so that answers are predictable and memory is testable:
 *
 *   "Question: what colour is it? Answer:"                        → "red"   (on a solid red image)
 *   "Question: what colour is the cat? Answer: red. Question: what did i ask before? Answer:" → "cat"
 *   "Question: what did i ask before? Answer:"  (no earlier turn)   → "nothing"
 *
 * The language model (the feature vector each position carries and how the decoder answers from it)
 * is the colour-world language model in colour-lm.ts, shared with the SmolVLM demo; here are BLIP-2's
 * vision encoder and Q-Former, which reduce the image to query tokens that carry its colour scores.
 *
 * With `controlTokens`, every answer starts with `<image>` — an added token that is not marked special
 * (as some exports register it), so `skip_special_tokens` keeps it: "<image> red". It tests that the
 * backend strips a tokenizer's added tokens from what users read.
 *
 * Variant 'bench': the same files and names, the same answers, plus the cost of a real model on CPU:
 * a ViT-B/16 vision encoder (224×224, 196 patches + CLS, 12 blocks of width 768), a 2-block Q-Former
 * over 32 queries + image tokens, and colour-lm.ts's per-token MLP stack in the decoder.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { COLOURS } from '../../core/colour-names.js';
import { blocks, layerNorm, randn } from './clip.js';
import {
  type ColourLm,
  colourDecoderGraph,
  colourEmbedGraph,
  colourFeatures,
  F_COLOUR,
  COLOUR_LM_HIDDEN as HIDDEN,
  NOUNS,
} from './colour-lm.js';
import { magentaFails } from './fail-on-magenta.js';
import { Graph } from './onnx.js';

export type Blip2Variant = 'colour' | 'bench';

const PAD = '<pad>';
const EOS = '</s>'; // OPT: BOS and EOS are the same token
const UNK = '<unk>';
/** The image placeholder BLIP-2 processors add to the tokenizer; here an added, non-special token. */
const IMAGE = '<image>';
const COLOUR_NAMES = Object.keys(COLOURS);
const WORDS = [
  ...COLOUR_NAMES,
  ...NOUNS,
  'nothing',
  'question',
  'answer',
  'before',
  ':',
  '?',
  '.',
  ',',
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
/** 0 pad, 1 </s> (BOS = EOS), 2 unk, then colours, nouns, "nothing", other words, `<image>` last. */
export const BLIP2_VOCAB: Record<string, number> = Object.fromEntries(
  [PAD, EOS, UNK, ...WORDS, IMAGE].map((w, i) => [w, i] as const),
);
const V = Object.keys(BLIP2_VOCAB).length;
const BLIP2_LM: ColourLm = { vocab: BLIP2_VOCAB, questionWord: 'question', answerWord: 'answer', eos: EOS };

const BENCH = {
  image: 224,
  patch: 16,
  width: 768,
  heads: 12,
  layers: 12,
  queries: 32,
};

interface Spec {
  image: number;
  queries: number;
  mean: number[];
  std: number[];
}

function spec(variant: Blip2Variant): Spec {
  return variant === 'bench'
    ? {
        image: BENCH.image,
        queries: BENCH.queries,
        mean: [0.48145466, 0.4578275, 0.40821073],
        std: [0.26862954, 0.26130258, 0.27577711],
      }
    : { image: 8, queries: 4, mean: [0, 0, 0], std: [1, 1, 1] };
}

// ---------------------------------------------------------------------------------------------
// vision_encoder.onnx: pixel_values [batch_size, 3, H, W] → image_embeds [batch_size, patches, width]

function visionGraph(variant: Blip2Variant, failOnMagenta: boolean): Uint8Array {
  const s = spec(variant);
  const g = new Graph('blip2_vision_encoder');
  const px = g.input('pixel_values', 'float32', ['batch_size', 3, s.image, s.image]);
  if (variant === 'colour') {
    // 2×2 patches of mean RGB (undo nothing: mean 0, std 1 → pixels are in [0,1])
    const pooled = g.node('AveragePool', [px], { kernel_shape: [4, 4], strides: [4, 4] });
    const flat = g.node('Reshape', [pooled, g.i64([0, 3, 4])]);
    let embeds = g.node('Transpose', [flat], { perm: [0, 2, 1] });
    if (failOnMagenta) embeds = magentaFails(g, embeds, embeds);
    g.output(g.rename(embeds, 'image_embeds'), 'float32', ['batch_size', 4, 3]);
    return g.toBytes();
  }
  const W = BENCH.width;
  const P = BENCH.patch;
  const grid = BENCH.image / P;
  const conv = g.node('Conv', [px, g.init(randn(W * 3 * P * P, 3 * P * P, 31), [W, 3, P, P])], {
    strides: [P, P],
    kernel_shape: [P, P],
  });
  const patches = g.node('Transpose', [g.node('Reshape', [conv, g.i64([0, W, grid * grid])])], {
    perm: [0, 2, 1],
  });
  const hidden = blocks(g, layerNorm(g, patches, W), W, BENCH.heads, BENCH.layers, 300);
  // keep the colour signal: the mean RGB rides along in the first 3 channels of every token
  // (pixels are CLIP-normalised here: undo it so the Q-Former sees RGB in [0,1])
  const s2 = spec(variant);
  const pooled = g.node('Add', [
    g.node('Mul', [
      g.node('AveragePool', [px], { kernel_shape: [P, P], strides: [P, P] }),
      g.f32(s2.std, [1, 3, 1, 1]),
    ]),
    g.f32(s2.mean, [1, 3, 1, 1]),
  ]);
  const rgb = g.node('Transpose', [g.node('Reshape', [pooled, g.i64([0, 3, grid * grid])])], {
    perm: [0, 2, 1],
  });
  const small = g.node('Mul', [hidden, g.scalar(1e-6)]);
  const pad = g.node('Pad', [rgb, g.i64([0, 0, 0, 0, 0, W - 3])]);
  g.output(g.rename(g.node('Add', [pad, small]), 'image_embeds'), 'float32', ['batch_size', grid * grid, W]);
  return g.toBytes();
}

// ---------------------------------------------------------------------------------------------
// qformer.onnx: image_embeds → language_model_inputs [batch_size, num_query_tokens, hidden_size]

function qformerGraph(variant: Blip2Variant): Uint8Array {
  const s = spec(variant);
  const g = new Graph('blip2_qformer');
  const width = variant === 'bench' ? BENCH.width : 3;
  const patches = variant === 'bench' ? (BENCH.image / BENCH.patch) ** 2 : 4;
  const img = g.input('image_embeds', 'float32', ['batch_size', patches, width]);
  let rgbSource = img;
  let extra: string | undefined;
  if (variant === 'bench') {
    const batch = g.node('Shape', [img], { start: 0, end: 1 });
    const qShape = g.node('Concat', [batch, g.i64([BENCH.queries, width])], { axis: 0 });
    const queries = g.node('Expand', [
      g.init(randn(BENCH.queries * width, 1, 41, 0.1), [1, BENCH.queries, width]),
      qShape,
    ]);
    const joint = g.node('Concat', [queries, img], { axis: 1 });
    const out = blocks(g, layerNorm(g, joint, width), width, BENCH.heads, 2, 400);
    const q = g.node('Slice', [out, g.i64([0]), g.i64([BENCH.queries]), g.i64([1])]);
    // a trace of the Q-Former's output, in the colour scores only (the normalised noun scores would
    // turn any noise into a noun)
    const colourOnly = new Float32Array(HIDDEN);
    colourOnly.fill(1e-6, F_COLOUR, F_COLOUR + 8);
    extra = g.node('Mul', [
      g.node('MatMul', [q, g.init(randn(width * HIDDEN, width, 42), [width, HIDDEN])]),
      g.f32(colourOnly),
    ]);
    rgbSource = g.node('Slice', [img, g.i64([0]), g.i64([3]), g.i64([2])]);
  }
  const rgb = g.node('ReduceMean', [rgbSource, g.i64([1])], { keepdims: 0 }); // [B, 3]
  const token = g.node('Unsqueeze', [colourFeatures(g, rgb), g.i64([1])]);
  const batch = g.node('Shape', [img], { start: 0, end: 1 });
  const shape = g.node('Concat', [batch, g.i64([s.queries, HIDDEN])], { axis: 0 });
  let lm = g.node('Expand', [token, shape]);
  if (extra) lm = g.node('Add', [lm, extra]);
  g.output(g.rename(lm, 'language_model_inputs'), 'float32', ['batch_size', s.queries, HIDDEN]);
  return g.toBytes();
}

// Companion files

function tokenizerJson() {
  const added = (content: string, special: boolean) => ({
    id: BLIP2_VOCAB[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added(PAD, true), added(EOS, true), added(UNK, true), added(IMAGE, false)],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: EOS, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: EOS, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [EOS]: { id: EOS, ids: [BLIP2_VOCAB[EOS]], tokens: [EOS] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordLevel', vocab: BLIP2_VOCAB, unk_token: UNK },
  };
}

/** Writes the folder: config.json, generation_config.json, tokenizer files, preprocessor_config.json, onnx/*. */
export async function synthBlip2(
  outDir: string,
  {
    variant = 'colour',
    controlTokens = false,
    failOnMagenta = false,
  }: {
    variant?: Blip2Variant;
    controlTokens?: boolean;
    /** The vision encoder fails on any run holding a magenta image ('colour' only; tests of batching). */
    failOnMagenta?: boolean;
  } = {},
) {
  const s = spec(variant);
  const lm: ColourLm = controlTokens ? { ...BLIP2_LM, controlToken: IMAGE } : BLIP2_LM;
  await mkdir(join(outDir, 'onnx'), { recursive: true });
  const json = (name: string, value: unknown) =>
    writeFile(join(outDir, name), `${JSON.stringify(value, null, 2)}\n`);
  await json('config.json', {
    _name_or_path: 'Salesforce/blip2-opt-2.7b',
    architectures: ['Blip2ForConditionalGeneration'],
    model_type: 'blip-2',
    num_query_tokens: s.queries,
    iris_colour_world: variant,
    vision_config: { model_type: 'blip_2_vision_model', image_size: s.image },
    qformer_config: { model_type: 'blip_2_qformer' },
    text_config: {
      model_type: 'opt',
      vocab_size: V,
      hidden_size: HIDDEN,
      num_hidden_layers: 1,
      num_attention_heads: 1,
      bos_token_id: BLIP2_VOCAB[EOS],
      eos_token_id: BLIP2_VOCAB[EOS],
      pad_token_id: BLIP2_VOCAB[PAD],
      max_position_embeddings: 2048,
    },
  });
  await json('generation_config.json', {
    bos_token_id: BLIP2_VOCAB[EOS],
    eos_token_id: BLIP2_VOCAB[EOS],
    pad_token_id: BLIP2_VOCAB[PAD],
    max_new_tokens: 30,
  });
  await json('tokenizer.json', tokenizerJson());
  await json('tokenizer_config.json', {
    tokenizer_class: 'GPT2Tokenizer',
    bos_token: EOS,
    eos_token: EOS,
    unk_token: UNK,
    pad_token: PAD,
    model_max_length: 2048,
  });
  await json('special_tokens_map.json', { bos_token: EOS, eos_token: EOS, unk_token: UNK, pad_token: PAD });
  await json('preprocessor_config.json', {
    image_processor_type: 'BlipImageProcessor',
    do_resize: true,
    size: { height: s.image, width: s.image },
    resample: 3,
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: s.mean,
    image_std: s.std,
    do_convert_rgb: true,
  });
  await writeFile(join(outDir, 'onnx', 'vision_encoder.onnx'), visionGraph(variant, failOnMagenta));
  await writeFile(join(outDir, 'onnx', 'qformer.onnx'), qformerGraph(variant));
  await writeFile(join(outDir, 'onnx', 'embed_tokens.onnx'), colourEmbedGraph(lm));
  await writeFile(join(outDir, 'onnx', 'decoder_model_merged.onnx'), colourDecoderGraph(lm, { variant }));
}
