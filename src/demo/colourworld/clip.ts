/**
 * Colour-world CLIP: a folder laid out like `Xenova/clip-vit-base-patch32` (config.json,
 * tokenizer.json, tokenizer_config.json, special_tokens_map.json, preprocessor_config.json,
 * onnx/model.onnx, onnx/text_model.onnx, onnx/vision_model.onnx) with the real export's input and
 * output names, dtypes and symbolic dims.
 *
 * Variant 'colour' (default): weights set by hand, 7-dimensional embeddings.
 *   - Vision: mean RGB over the 8×8 crop (pixels in [0,1]: rescale 1/255, mean 0, std 1)
 *     → e = [r, g, b, 1−r, 1−g, 1−b, 0.25]. Every channel contributes to exactly one of each pair,
 *     so the vector is never zero (black = [0,0,0,1,1,1,0.25]).
 *   - Text: token embeddings summed over the attention mask, plus a constant bias [0,…,0, 0.25].
 *     The eight corners of the RGB cube (red, green, blue, yellow, cyan, magenta, black, white) embed
 *     to their image vector without the bias; every other token embeds to zero, so "This is a photo
 *     of red" embeds like "red", and a non-colour label is [0,…,0,0.25] (never zero, never NaN).
 *   - A solid colour image has cosine 1 with its own word and at most ~0.67 with any other colour;
 *     model.onnx multiplies cosines by the logit scale 100 (as the real CLIP's learned scale).
 *
 * Variant 'bench': the COST of ViT-B/32 with random weights (not its quality): pixel_values
 * [N,3,224,224] → 32×32 patch Conv → 49 patches + CLS → 12 pre-LN transformer blocks (12-head
 * attention, MLP 768→3072→768 with GELU) → LN → projection to 512 (≈4.4 GMACs per image, as the
 * real one); a text tower over up to 77 tokens, 12 blocks of width 512 with 8 heads and an attention
 * mask. The 12 blocks share one set of weights, so each graph is ~30–45 MB instead of ~350 MB.
 * Real CLIP preprocessing (224 shortest edge, 224 centre crop, CLIP mean/std).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { COLOURS } from '../../core/colour-names.js';
import { Graph } from './onnx.js';

export type ClipVariant = 'colour' | 'bench';

/** Labels the bench uses (20); all are in the vocabulary. */
export const BENCH_LABELS = [
  ...Object.keys(COLOURS),
  'cat',
  'dog',
  'car',
  'tree',
  'house',
  'person',
  'food',
  'sky',
  'beach',
  'city',
  'flower',
  'bird',
];

const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';
const WORDS = [
  'this',
  'is',
  'a',
  'an',
  'the',
  'photo',
  'picture',
  'image',
  'of',
  'colour',
  'color',
  'and',
  'it',
  ...BENCH_LABELS,
];
/** Vocabulary: 0 = BOS, 1 = EOS (also pad and unk, as in the real CLIP tokenizer), then words. */
export const VOCAB: Record<string, number> = Object.fromEntries(
  [BOS, EOS, ...WORDS].map((w, i) => [w, i] as const),
);
const VOCAB_SIZE = Object.keys(VOCAB).length;

const COLOUR_DIM = 7;
const BIAS = 0.25;
const LOGIT_SCALE = 100;

/** The colour-world image vector for a mean RGB in [0,1]. */
export function colourVector([r, g, b]: readonly number[]): number[] {
  const R = r ?? 0;
  const G = g ?? 0;
  const B = b ?? 0;
  return [R, G, B, 1 - R, 1 - G, 1 - B, BIAS];
}

// ---------------------------------------------------------------------------------------------
// Towers. Each adds its nodes to `g` and returns the names of (unnormalised) embeds and hidden state.

interface Tower {
  embeds: string;
  hidden: string;
}

function colourText(g: Graph, ids: string, mask: string): Tower {
  const table = new Float32Array(VOCAB_SIZE * COLOUR_DIM);
  for (const [word, rgb] of Object.entries(COLOURS)) {
    const id = VOCAB[word] as number;
    const v = colourVector(rgb);
    for (let d = 0; d < COLOUR_DIM - 1; d++) table[id * COLOUR_DIM + d] = v[d] as number;
  }
  const hidden = g.node('Gather', [g.init(table, [VOCAB_SIZE, COLOUR_DIM]), ids], { axis: 0 });
  const m = g.node('Unsqueeze', [g.node('Cast', [mask], { to: 1 }), g.i64([2])]);
  const pooled = g.node('ReduceSum', [g.node('Mul', [hidden, m]), g.i64([1])], { keepdims: 0 });
  const bias = new Array(COLOUR_DIM).fill(0);
  bias[COLOUR_DIM - 1] = BIAS;
  return { embeds: g.node('Add', [pooled, g.f32(bias)]), hidden };
}

function colourVision(g: Graph, px: string): Tower {
  const mean = g.node('ReduceMean', [px, g.i64([2, 3])], { keepdims: 0 }); // [N,3]
  // e = mean·W + b with W = [I₃ | −I₃ | 0], b = [0,0,0,1,1,1,BIAS]
  const W = new Float32Array(3 * COLOUR_DIM);
  for (let c = 0; c < 3; c++) {
    W[c * COLOUR_DIM + c] = 1;
    W[c * COLOUR_DIM + 3 + c] = -1;
  }
  const e = g.node('Add', [
    g.node('MatMul', [mean, g.init(W, [3, COLOUR_DIM])]),
    g.f32(colourVector([0, 0, 0])),
  ]);
  return { embeds: e, hidden: g.node('Unsqueeze', [e, g.i64([1])]) };
}

/** Deterministic uniform weights with variance `scale²/fanIn` (xorshift32). */
export function randn(n: number, fanIn: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  const a = Math.sqrt(3 / fanIn) * scale;
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 4294967296) * 2 * a - a;
  }
  return out;
}

export function layerNorm(g: Graph, x: string, width: number): string {
  return g.node(
    'LayerNormalization',
    [x, g.f32(new Float32Array(width).fill(1)), g.f32(new Float32Array(width))],
    {
      axis: -1,
      epsilon: 1e-5,
    },
  );
}

/**
 * `layers` pre-LN transformer blocks with ViT-B/CLIP cost: multi-head self-attention (QKV 3C, out C)
 * and an MLP (C → 4C → C, GELU). The weights are shared by all layers (same initializers): the cost
 * is a real 12-layer tower's, the file is one layer's.
 */
export function blocks(
  g: Graph,
  x: string,
  width: number,
  heads: number,
  layers: number,
  seed: number,
  maskAdd?: string,
): string {
  const C = width;
  const D = C / heads;
  const wqkv = g.init(randn(C * 3 * C, C, seed), [C, 3 * C]);
  const wo = g.init(randn(C * C, C, seed + 1), [C, C]);
  const w1 = g.init(randn(C * 4 * C, C, seed + 2), [C, 4 * C]);
  const w2 = g.init(randn(4 * C * C, 4 * C, seed + 3), [4 * C, C]);
  const b1 = g.f32(new Float32Array(4 * C));
  const headShape = g.i64([0, 0, heads, D]);
  const backShape = g.i64([0, 0, C]);
  const scale = g.scalar(1 / Math.sqrt(D));
  let h = x;
  for (let l = 0; l < layers; l++) {
    const qkv = g.node('MatMul', [layerNorm(g, h, C), wqkv]);
    const [q, k, v] = g.nodeN('Split', [qkv, g.i64([C, C, C])], 3, { axis: -1 }) as [string, string, string];
    const split = (t: string, perm: number[]) =>
      g.node('Transpose', [g.node('Reshape', [t, headShape])], { perm });
    let att = g.node('Mul', [g.node('MatMul', [split(q, [0, 2, 1, 3]), split(k, [0, 2, 3, 1])]), scale]);
    if (maskAdd) att = g.node('Add', [att, maskAdd]);
    const ctx = g.node('MatMul', [g.node('Softmax', [att], { axis: -1 }), split(v, [0, 2, 1, 3])]);
    const merged = g.node('Reshape', [g.node('Transpose', [ctx], { perm: [0, 2, 1, 3] }), backShape]);
    h = g.node('Add', [h, g.node('MatMul', [merged, wo])]);
    const mlp = g.node('MatMul', [
      g.gelu(g.node('Add', [g.node('MatMul', [layerNorm(g, h, C), w1]), b1])),
      w2,
    ]);
    h = g.node('Add', [h, mlp]);
  }
  return h;
}

const BENCH = {
  textWidth: 512,
  textHeads: 8,
  visionWidth: 768,
  visionHeads: 12,
  proj: 512,
  layers: 12,
  image: 224,
  patch: 32,
  maxPos: 77,
};

function benchText(g: Graph, ids: string, mask: string): Tower {
  const W = BENCH.textWidth;
  const tok = g.node('Gather', [g.init(randn(VOCAB_SIZE * W, 1, 11), [VOCAB_SIZE, W]), ids], { axis: 0 });
  const seqLen = g.node('Shape', [ids], { start: 1, end: 2 });
  const pos = g.node('Slice', [
    g.init(randn(BENCH.maxPos * W, 1, 12, 0.1), [BENCH.maxPos, W]),
    g.i64([0]),
    seqLen,
    g.i64([0]),
  ]);
  const m = g.node('Unsqueeze', [g.node('Cast', [mask], { to: 1 }), g.i64([2])]); // [N,S,1]
  // additive attention mask [N,1,1,S]: padding is never attended to, so padding never changes a result
  const keep = g.node('Unsqueeze', [g.node('Cast', [mask], { to: 1 }), g.i64([1, 2])]);
  const maskAdd = g.node('Mul', [g.node('Sub', [g.scalar(1), keep]), g.scalar(-1e4)]);
  const x = g.node('Add', [tok, pos]);
  const hidden = layerNorm(g, blocks(g, x, W, BENCH.textHeads, BENCH.layers, 100, maskAdd), W);
  // masked mean pooling (the real model takes the EOS position; the cost is the same)
  const sum = g.node('ReduceSum', [g.node('Mul', [hidden, m]), g.i64([1])], { keepdims: 0 });
  const count = g.node('Max', [g.node('ReduceSum', [m, g.i64([1])], { keepdims: 0 }), g.scalar(1)]);
  const pooled = g.node('Div', [sum, count]);
  const embeds = g.node('MatMul', [pooled, g.init(randn(W * BENCH.proj, W, 13), [W, BENCH.proj])]);
  return { embeds, hidden };
}

function benchVision(g: Graph, px: string): Tower {
  const W = BENCH.visionWidth;
  const P = BENCH.patch;
  const grid = BENCH.image / P;
  const conv = g.node('Conv', [px, g.init(randn(W * 3 * P * P, 3 * P * P, 21), [W, 3, P, P])], {
    strides: [P, P],
    kernel_shape: [P, P],
  });
  const patches = g.node('Transpose', [g.node('Reshape', [conv, g.i64([0, W, grid * grid])])], {
    perm: [0, 2, 1],
  });
  const batch = g.node('Shape', [px], { start: 0, end: 1 });
  const clsShape = g.node('Concat', [batch, g.i64([1, W])], { axis: 0 });
  const cls = g.node('Expand', [g.init(randn(W, 1, 22, 0.1), [1, 1, W]), clsShape]);
  const tokens = g.node('Concat', [cls, patches], { axis: 1 });
  const x = g.node('Add', [tokens, g.init(randn((grid * grid + 1) * W, 1, 23, 0.1), [grid * grid + 1, W])]);
  const hidden = blocks(g, layerNorm(g, x, W), W, BENCH.visionHeads, BENCH.layers, 200);
  const first = g.node('Gather', [hidden, g.i64([0], [])], { axis: 1 }); // CLS: [N, W]
  const embeds = g.node('MatMul', [
    layerNorm(g, first, W),
    g.init(randn(W * BENCH.proj, W, 24), [W, BENCH.proj]),
  ]);
  return { embeds, hidden };
}

// ---------------------------------------------------------------------------------------------

interface Spec {
  dim: number;
  image: number;
  textTower(g: Graph, ids: string, mask: string): Tower;
  visionTower(g: Graph, px: string): Tower;
  textHidden: number;
  visionHidden: number;
  visionTokens: number | string;
}

function spec(variant: ClipVariant): Spec {
  if (variant === 'bench') {
    return {
      dim: BENCH.proj,
      image: BENCH.image,
      textTower: benchText,
      visionTower: benchVision,
      textHidden: BENCH.textWidth,
      visionHidden: BENCH.visionWidth,
      visionTokens: (BENCH.image / BENCH.patch) ** 2 + 1,
    };
  }
  return {
    dim: COLOUR_DIM,
    image: 8,
    textTower: colourText,
    visionTower: colourVision,
    textHidden: COLOUR_DIM,
    visionHidden: COLOUR_DIM,
    visionTokens: 1,
  };
}

function textInputs(g: Graph, batch = 'batch_size'): [string, string] {
  return [
    g.input('input_ids', 'int64', [batch, 'sequence_length']),
    g.input('attention_mask', 'int64', [batch, 'sequence_length']),
  ];
}

function visionInput(g: Graph, s: Spec, batch = 'batch_size'): string {
  return g.input('pixel_values', 'float32', [batch, 3, s.image, s.image]);
}

/** CLIPTextModelWithProjection: input_ids, attention_mask → text_embeds, last_hidden_state. */
export function clipTextGraph(variant: ClipVariant): Uint8Array {
  const s = spec(variant);
  const g = new Graph('CLIPTextModelWithProjection');
  const [ids, mask] = textInputs(g);
  const t = s.textTower(g, ids, mask);
  g.output(g.rename(t.embeds, 'text_embeds'), 'float32', ['batch_size', s.dim]);
  g.output(g.rename(t.hidden, 'last_hidden_state'), 'float32', [
    'batch_size',
    'sequence_length',
    s.textHidden,
  ]);
  return g.toBytes();
}

/** CLIPVisionModelWithProjection: pixel_values → image_embeds, last_hidden_state. */
export function clipVisionGraph(variant: ClipVariant): Uint8Array {
  const s = spec(variant);
  const g = new Graph('CLIPVisionModelWithProjection');
  const v = s.visionTower(g, visionInput(g, s));
  g.output(g.rename(v.embeds, 'image_embeds'), 'float32', ['batch_size', s.dim]);
  g.output(g.rename(v.hidden, 'last_hidden_state'), 'float32', [
    'batch_size',
    s.visionTokens,
    s.visionHidden,
  ]);
  return g.toBytes();
}

/**
 * CLIPModel: both towers, normalised embeds, logits_per_image = scale · img·textᵀ [images, texts],
 * logits_per_text its transpose.
 */
export function clipGraph(variant: ClipVariant): Uint8Array {
  const s = spec(variant);
  const g = new Graph('CLIPModel');
  const [ids, mask] = textInputs(g, 'text_batch_size');
  const px = visionInput(g, s, 'image_batch_size');
  const t = g.l2normalize(s.textTower(g, ids, mask).embeds);
  const v = g.l2normalize(s.visionTower(g, px).embeds);
  const logits = g.node('Mul', [
    g.node('MatMul', [v, g.node('Transpose', [t], { perm: [1, 0] })]),
    g.scalar(LOGIT_SCALE),
  ]);
  g.output(g.rename(logits, 'logits_per_image'), 'float32', ['image_batch_size', 'text_batch_size']);
  g.output(g.node('Transpose', [logits], { perm: [1, 0] }, 'logits_per_text'), 'float32', [
    'text_batch_size',
    'image_batch_size',
  ]);
  g.output(g.rename(t, 'text_embeds'), 'float32', ['text_batch_size', s.dim]);
  g.output(g.rename(v, 'image_embeds'), 'float32', ['image_batch_size', s.dim]);
  return g.toBytes();
}

// ---------------------------------------------------------------------------------------------
// Companion files

function tokenizerJson() {
  const special = (content: string) => ({
    id: VOCAB[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(BOS), special(EOS)],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: BOS, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: EOS, type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: BOS, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: EOS, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: EOS, type_id: 1 } },
      ],
      special_tokens: {
        [BOS]: { id: BOS, ids: [VOCAB[BOS]], tokens: [BOS] },
        [EOS]: { id: EOS, ids: [VOCAB[EOS]], tokens: [EOS] },
      },
    },
    decoder: null,
    model: { type: 'WordLevel', vocab: VOCAB, unk_token: EOS },
  };
}

function configJson(variant: ClipVariant) {
  const s = spec(variant);
  const bench = variant === 'bench';
  return {
    _name_or_path: 'openai/clip-vit-base-patch32',
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: s.dim,
    logit_scale_init_value: 2.6592,
    initializer_factor: 1.0,
    text_config: {
      model_type: 'clip_text_model',
      vocab_size: VOCAB_SIZE,
      hidden_size: s.textHidden,
      intermediate_size: bench ? 2048 : s.textHidden,
      num_attention_heads: bench ? 8 : 1,
      num_hidden_layers: bench ? BENCH.layers : 1,
      max_position_embeddings: BENCH.maxPos,
      hidden_act: 'quick_gelu',
      projection_dim: s.dim,
      bos_token_id: VOCAB[BOS],
      eos_token_id: VOCAB[EOS],
      pad_token_id: VOCAB[EOS],
    },
    vision_config: {
      model_type: 'clip_vision_model',
      hidden_size: s.visionHidden,
      intermediate_size: bench ? 3072 : s.visionHidden,
      num_attention_heads: bench ? 12 : 1,
      num_hidden_layers: bench ? BENCH.layers : 1,
      image_size: s.image,
      patch_size: bench ? BENCH.patch : s.image,
      num_channels: 3,
      hidden_act: 'quick_gelu',
      projection_dim: s.dim,
    },
    transformers_version: '4.40.0',
    iris_colour_world: { variant, logit_scale: LOGIT_SCALE },
  };
}

function preprocessorJson(variant: ClipVariant) {
  const s = spec(variant);
  const bench = variant === 'bench';
  return {
    image_processor_type: 'CLIPImageProcessor',
    feature_extractor_type: 'CLIPFeatureExtractor',
    do_resize: true,
    size: { shortest_edge: s.image },
    resample: 3,
    do_center_crop: true,
    crop_size: { height: s.image, width: s.image },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: bench ? [0.48145466, 0.4578275, 0.40821073] : [0, 0, 0],
    image_std: bench ? [0.26862954, 0.26130258, 0.27577711] : [1, 1, 1],
    do_convert_rgb: true,
  };
}

const SPECIAL_TOKENS = {
  bos_token: { content: BOS, lstrip: false, normalized: true, rstrip: false, single_word: false },
  eos_token: { content: EOS, lstrip: false, normalized: true, rstrip: false, single_word: false },
  pad_token: EOS,
  unk_token: { content: EOS, lstrip: false, normalized: true, rstrip: false, single_word: false },
};

const TOKENIZER_CONFIG = {
  add_prefix_space: false,
  bos_token: BOS,
  eos_token: EOS,
  pad_token: EOS,
  unk_token: EOS,
  clean_up_tokenization_spaces: true,
  do_lower_case: true,
  model_max_length: BENCH.maxPos,
  tokenizer_class: 'CLIPTokenizer',
};

/** Write a CLIP folder laid out like `Xenova/clip-vit-base-patch32` into `outDir`. */
export async function synthClip(outDir: string, opts: { variant?: ClipVariant } = {}): Promise<void> {
  const variant = opts.variant ?? 'colour';
  await mkdir(join(outDir, 'onnx'), { recursive: true });
  const json = (name: string, v: unknown) => writeFile(join(outDir, name), `${JSON.stringify(v, null, 2)}\n`);
  await json('config.json', configJson(variant));
  await json('tokenizer.json', tokenizerJson());
  await json('tokenizer_config.json', TOKENIZER_CONFIG);
  await json('special_tokens_map.json', SPECIAL_TOKENS);
  await json('preprocessor_config.json', preprocessorJson(variant));
  // one graph at a time: the bench graphs are ~50 MB each
  await writeFile(join(outDir, 'onnx', 'text_model.onnx'), clipTextGraph(variant));
  await writeFile(join(outDir, 'onnx', 'vision_model.onnx'), clipVisionGraph(variant));
  await writeFile(join(outDir, 'onnx', 'model.onnx'), clipGraph(variant));
}
