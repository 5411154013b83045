/**
 * The colour-world language model that the BLIP-2 and SmolVLM demo folders share: its token embeddings
 * (embed_tokens.onnx) and decoder (decoder_model_merged.onnx), weights set by hand so that answers are
 * predictable and memory is testable (the questions and answers are in blip2.ts and smolvlm.ts).
 *
 * Every position carries a small feature vector (hidden size 25):
 *   [0,8)  colour scores — only on the image (query) tokens: the vision side reduces the image to its mean
 *          RGB e = [r,g,b,1−r,1−g,1−b] and scores each colour c as e·colourVector(c)/3 ∈ [0,1]
 *          (`colourFeatures`);
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
 * Variant 'bench' adds the cost of a real language model's per-token layers on CPU (no effect on the answer).
 */
import { COLOURS } from '../../core/colour-names.js';
import { colourVector, layerNorm, randn } from './clip.js';
import { Graph } from './onnx.js';

export type ColourLmVariant = 'colour' | 'bench';

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

const COLOUR_NAMES = Object.keys(COLOURS);
const K = NOUNS.length;
/** Where the colour scores start in the feature vector (8 slots). */
export const F_COLOUR = 0;
const F_NOUN = 8;
const F_QUESTION = F_NOUN + K;
const F_BEFORE = F_QUESTION + 1;
const F_ANSWER = F_QUESTION + 2;
const F_WORD = F_QUESTION + 3;
const F_CONTROL = F_WORD + 1;
/** Hidden size of the language model (= the feature vector above). */
export const COLOUR_LM_HIDDEN = F_CONTROL + 1;
const HIDDEN = COLOUR_LM_HIDDEN;
/** The per-token layers of the 'bench' decoder. */
const BENCH = { width: 1024, layers: 12 };

/**
 * Mean RGB [N, 3] in [0, 1] → an image token's features [N, COLOUR_LM_HIDDEN]: e = [r, g, b, 1−r, 1−g, 1−b] and
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
 * The colour-world decoder (one layer, one head as wide as the feature vector). With `positionIds` it takes
 * `position_ids` (0-based, as Llama/SmolVLM decoders do); without, positions come from the attention
 * mask (as OPT's).
 */
export function colourDecoderGraph(
  lm: ColourLm,
  { variant = 'colour', positionIds = false }: { variant?: ColourLmVariant; positionIds?: boolean } = {},
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
    const W = BENCH.width;
    let h = g.node('MatMul', [x, g.init(randn(HIDDEN * W, HIDDEN, 51), [HIDDEN, W])]);
    const w1 = g.init(randn(W * 4 * W, W, 52), [W, 4 * W]);
    const w2 = g.init(randn(4 * W * W, 4 * W, 53), [4 * W, W]);
    for (let l = 0; l < BENCH.layers; l++) {
      h = g.node('Add', [h, g.node('MatMul', [g.gelu(g.node('MatMul', [layerNorm(g, h, W), w1])), w2])]);
    }
    const tiny = g.node('Mul', [g.node('ReduceMean', [h, g.i64([-1])], { keepdims: 1 }), g.scalar(1e-9)]);
    logits = g.node('Add', [logits, tiny]);
  }
  g.output(g.rename(logits, 'logits'), 'float32', ['batch_size', 'sequence_length', V]);
  return g.toBytes();
}
