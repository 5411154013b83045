/**
 * Colour-world BLIP-2: a folder in iris's BLIP-2 ONNX layout (docs/vqa.md) — vision encoder, Q-Former
 * (with the language projection) and an OPT-style decoder with past key/values — whose weights are set
 * by hand so that answers are predictable and memory is testable:
 *
 *   "Question: what colour is it? Answer:"                        → "red"   (on a solid red image)
 *   "Question: what colour is the cat? Answer: red. Question: what did i ask before? Answer:" → "cat"
 *   "Question: what did i ask before? Answer:"  (no earlier turn)   → "nothing"
 *
 * How (variant 'colour'): every position carries a small feature vector (hidden size 24):
 *   [0,8)  colour scores — only on the image (query) tokens: the Q-Former reduces the image to its mean
 *          RGB e = [r,g,b,1−r,1−g,1−b] and scores each colour c as e·colourVector(c)/3 ∈ [0,1];
 *   [8,20) one-hot of the nouns in NOUNS;  20 "question";  21 "before";  22 "answer";
 *   23     "answer word" (a colour word, a noun or "nothing");  24 the model's control token, if it has one.
 * The decoder multiplies each position's vector by its 1-based position (so later beats earlier) and
 * stores that as the position's key/value (`present.0.*`, fed back as `past_key_values.0.*`). Each
 * position then reads the causal max over its prefix — one attention head whose weights are a mask —
 * and decides:
 *   done   = the latest answer word comes after the latest "answer"      → EOS
 *   before = the latest "before" comes after the latest "question"       → the most recent noun
 *            anywhere in the context (earlier turns included), or "nothing"
 *   else   → the colour with the highest score.
 * So "what did i ask before?" can only be answered from earlier turns that reached the model input.
 *
 * With `controlTokens`, every answer starts with `<image>` — an added token that is not marked special
 * (as some exports register it), so `skip_special_tokens` keeps it: "<image> red". It tests that the
 * backend strips a tokenizer's added tokens from what users read.
 *
 * Variant 'bench': the same files and names, the same answers, plus the cost of a real model on CPU:
 * a ViT-B/16 vision encoder (224×224, 196 patches + CLS, 12 blocks of width 768), a 2-block Q-Former
 * over 32 queries + image tokens, and a per-token MLP stack in the decoder (no effect on the answer).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { COLOURS } from '../../core/colour-names.js';
import { blocks, colourVector, layerNorm, randn } from './clip.js';
import { Graph } from './onnx.js';

export type Blip2Variant = 'colour' | 'bench';

export const NOUNS = [
  'cat',
  'dog',
  'car',
  'tree',
  'house',
  'person',
  'flower',
  'bird',
  'ball',
  'apple',
  'box',
  'sky',
] as const;

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
const K = NOUNS.length;
const F_COLOUR = 0;
const F_NOUN = 8;
const F_QUESTION = F_NOUN + K;
const F_BEFORE = F_QUESTION + 1;
const F_ANSWER = F_QUESTION + 2;
const F_WORD = F_QUESTION + 3;
const F_CONTROL = F_WORD + 1;
/** Hidden size of the language model (= the feature vector above). */
const HIDDEN = F_CONTROL + 1;

const BENCH = {
  image: 224,
  patch: 16,
  width: 768,
  heads: 12,
  layers: 12,
  queries: 32,
  lmWidth: 1024,
  lmLayers: 12,
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

/**
 * `value`, unless some RGB row of `rgb` ([..., 3] in [0, 1]) is magenta (r − g + b > 1.5): then the run
 * fails (a Gather out of its data's bounds), as a real encoder can fail on one bad input of a batch.
 */
export function magentaFails(g: Graph, rgb: string, value: string): string {
  const score = g.node('MatMul', [rgb, g.f32([1, -1, 1], [3, 1])]);
  const bad = g.node(
    'Cast',
    [g.node('Greater', [g.node('ReduceMax', [score], { keepdims: 0 }), g.scalar(1.5)])],
    {
      to: 7,
    },
  );
  const zero = g.node('Gather', [g.f32([0], [1]), bad]); // index 1 of a 1-element tensor: out of bounds
  return g.node('Add', [value, g.node('Mul', [zero, g.scalar(0)])]);
}

/**
 * Mean RGB [N, 3] in [0, 1] → an image token's features [N, 24]: e = [r, g, b, 1−r, 1−g, 1−b] and
 * score(c) = e · colourVector(c)[0..6] / 3 ∈ [0, 1] in the colour slots, zero elsewhere.
 */
export function colourFeatures(g: Graph, rgb: string): string {
  const toE = new Float32Array(3 * 6);
  for (let c = 0; c < 3; c++) {
    toE[c * 6 + c] = 1;
    toE[c * 6 + 3 + c] = -1;
  }
  const e = g.node('Add', [g.node('MatMul', [rgb, g.f32(toE, [3, 6])]), g.f32([0, 0, 0, 1, 1, 1])]);
  const place = new Float32Array(6 * HIDDEN);
  COLOUR_NAMES.forEach((name, w) => {
    const v = colourVector(COLOURS[name] as [number, number, number]);
    for (let d = 0; d < 6; d++) place[d * HIDDEN + F_COLOUR + w] = (v[d] as number) / 3;
  });
  return g.node('MatMul', [e, g.f32(place, [6, HIDDEN])]);
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

// ---------------------------------------------------------------------------------------------
// embed_tokens.onnx: input_ids [batch_size, sequence_length] → inputs_embeds [.., .., hidden_size]

/** The words a colour-world language model reads: its vocabulary and the words that mark turns. */
export interface ColourLm {
  vocab: Record<string, number>;
  /** Starts a user turn ("question" for BLIP-2's prompt, "user" for a chat template). */
  questionWord: string;
  /** Starts a model turn ("answer", "assistant"). */
  answerWord: string;
  /** Further tokens read as the start of a model turn (a model that keeps talking after them). */
  alsoAnswer?: readonly string[];
  eos: string;
  /** A token the model emits at the start of every answer, before the answer word (none if unset). */
  controlToken?: string;
}

/** Words every colour-world language model must have (the answers and the turn logic). */
export const ANSWER_WORDS = [...COLOUR_NAMES, ...NOUNS, 'nothing', 'before'];
export const COLOUR_LM_HIDDEN = HIDDEN;

export function colourEmbedGraph(lm: ColourLm): Uint8Array {
  const V = Object.keys(lm.vocab).length;
  const g = new Graph('colour_embed_tokens');
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const table = new Float32Array(V * HIDDEN);
  const set = (word: string, feature: number) => {
    const id = lm.vocab[word];
    if (id === undefined) throw new Error(`colour LM vocabulary lacks ${word}`);
    table[id * HIDDEN + feature] = 1;
  };
  NOUNS.forEach((n, i) => {
    set(n, F_NOUN + i);
    set(n, F_WORD);
  });
  for (const c of COLOUR_NAMES) set(c, F_WORD);
  set('nothing', F_WORD);
  set(lm.questionWord, F_QUESTION);
  set('before', F_BEFORE);
  set(lm.answerWord, F_ANSWER);
  for (const word of lm.alsoAnswer ?? []) set(word, F_ANSWER);
  if (lm.controlToken !== undefined) set(lm.controlToken, F_CONTROL);
  const embeds = g.node('Gather', [g.f32(table, [V, HIDDEN]), ids], { axis: 0 });
  g.output(g.rename(embeds, 'inputs_embeds'), 'float32', ['batch_size', 'sequence_length', HIDDEN]);
  return g.toBytes();
}

// ---------------------------------------------------------------------------------------------
// decoder_model_merged.onnx

/**
 * The colour-world decoder (one layer, one head of width 24). With `positionIds` it takes
 * `position_ids` (0-based, as Llama/SmolVLM decoders do); without, positions come from the attention
 * mask (as OPT's).
 */
export function colourDecoderGraph(
  lm: ColourLm,
  { variant = 'colour', positionIds = false }: { variant?: Blip2Variant; positionIds?: boolean } = {},
): Uint8Array {
  const V = Object.keys(lm.vocab).length;
  const g = new Graph('colour_decoder');
  const x = g.input('inputs_embeds', 'float32', ['batch_size', 'sequence_length', HIDDEN]);
  const mask = g.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length']);
  const positions = positionIds ? g.input('position_ids', 'int64', ['batch_size', 'sequence_length']) : '';
  const pastDims = ['batch_size', 1, 'past_sequence_length', HIDDEN];
  const pastK = g.input('past_key_values.0.key', 'float32', pastDims);
  const pastV = g.input('past_key_values.0.value', 'float32', pastDims);

  const mf = g.node('Cast', [mask], { to: 1 }); // [B,T]
  const posAll = g.node('Mul', [g.node('CumSum', [mf, g.i64([1], [])]), mf]); // 1-based, 0 on padding
  const seq = g.node('Shape', [x], { start: 1, end: 2 });
  const posCur = positionIds
    ? g.node('Add', [g.node('Cast', [positions], { to: 1 }), g.scalar(1)])
    : g.node('Slice', [posAll, g.node('Neg', [seq]), g.i64([2 ** 62]), g.i64([1])]); // [B,S]
  const cur = g.node('Unsqueeze', [
    g.node('Mul', [x, g.node('Unsqueeze', [posCur, g.i64([2])])]),
    g.i64([1]),
  ]); // [B,1,S,F]
  const presentK = g.node('Concat', [pastK, cur], { axis: 2 }, 'present.0.key');
  const presentV = g.node('Concat', [pastV, cur], { axis: 2 }, 'present.0.value');
  g.output(presentK, 'float32', ['batch_size', 1, 'total_sequence_length', HIDDEN]);
  g.output(presentV, 'float32', ['batch_size', 1, 'total_sequence_length', HIDDEN]);

  // causal mask [B,S,T,1]: position t is visible from s when pos(t) ≤ pos(s) and t is not padding
  const visible = g.node(
    'Cast',
    [
      g.node('LessOrEqual', [
        g.node('Unsqueeze', [posAll, g.i64([1])]),
        g.node('Unsqueeze', [posCur, g.i64([2])]),
      ]),
    ],
    { to: 1 },
  );
  const m = g.node('Unsqueeze', [
    g.node('Mul', [visible, g.node('Unsqueeze', [mf, g.i64([1])])]),
    g.i64([3]),
  ]);
  const values = g.node('Squeeze', [presentV, g.i64([1])]); // [B,T,F]
  const state = g.node(
    'ReduceMax',
    [g.node('Mul', [g.node('Unsqueeze', [values, g.i64([1])]), m]), g.i64([2])],
    { keepdims: 0 },
  ); // [B,S,F]
  const slice = (from: number, to: number) =>
    g.node('Slice', [state, g.i64([from]), g.i64([to]), g.i64([2])]);
  const normed = (v: string) =>
    g.node('Div', [
      v,
      g.node('Add', [g.node('ReduceMax', [v, g.i64([-1])], { keepdims: 1 }), g.scalar(1e-6)]),
    ]);
  const colour = normed(slice(F_COLOUR, F_COLOUR + 8));
  const noun = normed(slice(F_NOUN, F_NOUN + K));
  const later = (a: number, b: number) =>
    g.node('Cast', [g.node('Greater', [slice(a, a + 1), slice(b, b + 1)])], { to: 1 });
  const before = later(F_BEFORE, F_QUESTION);
  const done = later(F_WORD, F_ANSWER);
  const notBefore = g.node('Sub', [g.scalar(1), before]);
  // The control token is due while the latest "answer" comes after the latest control token.
  const due = later(F_ANSWER, F_CONTROL);
  const gates = g.node(
    'Concat',
    [notBefore, g.node('Mul', [notBefore, colour]), g.node('Mul', [before, noun]), before, done, due],
    { axis: -1 },
  ); // [B,S,12+K]
  const G = 12 + K;
  const w = new Float32Array(G * V);
  const bias = new Float32Array(V).fill(-100);
  const col = (word: string) => lm.vocab[word] as number;
  COLOUR_NAMES.forEach((c, i) => {
    w[0 * V + col(c)] = 10;
    w[(1 + i) * V + col(c)] = 10;
    bias[col(c)] = 0;
  });
  NOUNS.forEach((n, i) => {
    w[(9 + i) * V + col(n)] = 10;
    bias[col(n)] = 0;
  });
  w[(9 + K) * V + col('nothing')] = 8;
  bias[col('nothing')] = 0;
  w[(10 + K) * V + col(lm.eos)] = 200;
  bias[col(lm.eos)] = -50;
  if (lm.controlToken !== undefined) {
    w[(11 + K) * V + col(lm.controlToken)] = 200;
    bias[col(lm.controlToken)] = -50;
  }
  let logits = g.node('Add', [g.node('MatMul', [gates, g.f32(w, [G, V])]), g.f32(bias)]);
  if (variant === 'bench') {
    // the cost of a language model's per-token layers; scaled to nothing in the logits
    const W = BENCH.lmWidth;
    let h = g.node('MatMul', [x, g.init(randn(HIDDEN * W, HIDDEN, 51), [HIDDEN, W])]);
    const w1 = g.init(randn(W * 4 * W, W, 52), [W, 4 * W]);
    const w2 = g.init(randn(4 * W * W, 4 * W, 53), [4 * W, W]);
    for (let l = 0; l < BENCH.lmLayers; l++) {
      h = g.node('Add', [h, g.node('MatMul', [g.gelu(g.node('MatMul', [layerNorm(g, h, W), w1])), w2])]);
    }
    const tiny = g.node('Mul', [g.node('ReduceMean', [h, g.i64([-1])], { keepdims: 1 }), g.scalar(1e-9)]);
    logits = g.node('Add', [logits, tiny]);
  }
  g.output(g.rename(logits, 'logits'), 'float32', ['batch_size', 'sequence_length', V]);
  return g.toBytes();
}

// ---------------------------------------------------------------------------------------------
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
