/**
 * The colour-world Florence-2's hidden layout and its merged decoder graph (see ./florence2.ts for the
 * whole model). Hidden size D = 64, one block of dims per kind of fact:
 *
 *   0–7    colour scores of the whole image (60 − 40·‖mean rgb − corner‖², per colour)
 *   8–15   task flags, set by the prompt's flag words (5 used, TASKS order)
 *   16–23  the colour named in the prompt (grounding's phrase): one-hot per colour word
 *   24–55  colour scores of the left, right, top and bottom halves (8 each)
 *   56–63  small per-token id features (only the self-attention cache sees them)
 *
 * The vision encoder emits one image token per region (whole, left, right, top, bottom), each writing
 * its scores into its own block, so a masked sum over the encoder states (the decoder's context)
 * carries every fact.
 */

import {
  BOX_SLOTS,
  COLOUR,
  COLOUR_NAMES,
  EOS_ID,
  FLORENCE2_TEMPLATES,
  GROUNDING_TASK_INDEX,
  id,
  LOC_BINS,
  locToken,
  PHRASE,
  TASKS,
  V,
} from './florence2-text.js';
import { Graph } from './onnx.js';

export const D = 64;
export const HEADS = 2;
export const HEAD_DIM = D / HEADS;
export const DECODER_LAYERS = 2;
export const MAX_POSITIONS = 40;
const C = COLOUR_NAMES.length;
export const COLOUR_BASE = 0;
export const TASK_BASE = 8;
export const QUERY_BASE = 16;
export const REGION_BASE = 24;
export const FEATURE_BASE = 56;
const TEMPLATE_LOGIT = 50;
const EOS_BIAS = 1;
/** A region matches the phrase's colour when its score for that colour is above this (‖Δrgb‖² < 0.25). */
export const MATCH_THRESHOLD = 50;

/**
 * Image regions in image-token order, each with its box in location bins (x1, y1, x2, y2). Grounding
 * boxes the first region (in this order) whose colour matches: a solid image is boxed whole.
 */
export const REGIONS = [
  { name: 'whole', box: [0, 0, 999, 999] },
  { name: 'left', box: [0, 0, 499, 999] },
  { name: 'right', box: [500, 0, 999, 999] },
  { name: 'top', box: [0, 0, 999, 499] },
  { name: 'bottom', box: [0, 500, 999, 999] },
] as const;
const R = REGIONS.length;

if (REGION_BASE + (R - 1) * C > FEATURE_BASE || TASK_BASE + TASKS.length > QUERY_BASE) {
  throw new Error('colour-world florence2: the hidden layout overlaps');
}

/** [B,S,D] → [B,H,S,Dh] */
function splitHeads(g: Graph, x: string): string {
  return g.node('Transpose', [g.node('Reshape', [x, g.i64([0, 0, HEADS, HEAD_DIM])])], {
    perm: [0, 2, 1, 3],
  });
}

/** Deterministic projection weights for the self-attention cache (their values do not change the answer). */
function projection(seed: number): Float32Array {
  const w = new Float32Array(D * D);
  for (let i = 0; i < D; i++) w[i * D + ((i + seed) % D)] = 1;
  return w;
}

type Templates = typeof FLORENCE2_TEMPLATES;

/** The sentence templates as fixed logits [MAX_POSITIONS, tasks·V] and colour slots [MAX_POSITIONS, tasks]. */
function templateTables(templates: Templates): {
  fixed: Float32Array;
  slots: Float32Array;
  colourMap: Float32Array;
} {
  const T = TASKS.length;
  const fixed = new Float32Array(MAX_POSITIONS * T * V);
  const slots = new Float32Array(MAX_POSITIONS * T);
  const colourMap = new Float32Array(C * T * V);
  TASKS.forEach(({ task }, k) => {
    const answer = ['<s>', ...templates[task], '</s>'];
    if (answer.length > MAX_POSITIONS)
      throw new Error(`colour-world florence2: the ${task} answer is too long`);
    for (let p = 0; p < MAX_POSITIONS; p++) {
      const token = answer[p] ?? '</s>';
      if (token.includes(COLOUR)) {
        slots[p * T + k] = 1;
        const spaced = token.startsWith('Ġ');
        COLOUR_NAMES.forEach((c, ci) => {
          colourMap[ci * T * V + k * V + id(spaced ? `Ġ${c}` : c)] = 1;
        });
      } else if (!token.includes('{')) {
        fixed[p * T * V + k * V + id(token)] = TEMPLATE_LOGIT;
      } // grounding's slots are filled by groundingLogits
    }
  });
  return { fixed, slots, colourMap };
}

/** One-hot [MAX_POSITIONS, n]: 1 where the grounding template has slot i (its position counts `<s>`). */
function slotPositions(slots: readonly string[], grounding: readonly string[]): Float32Array {
  const template = ['<s>', ...grounding];
  const out = new Float32Array(MAX_POSITIONS * slots.length);
  slots.forEach((slot, i) => {
    out[template.indexOf(slot) * slots.length + i] = TEMPLATE_LOGIT;
  });
  return out;
}

/**
 * Grounding logits [B,seq,V]: the phrase's colour word at the phrase slot and the matched region's
 * location tokens at the box slots; nothing (so `</s>` wins by its bias) when no region matches.
 */
function groundingLogits(
  g: Graph,
  q: { context: string; wholeScores: string; ground: string; onehot: string; template: readonly string[] },
): string {
  const query = g.node('Slice', [q.context, g.i64([QUERY_BASE]), g.i64([QUERY_BASE + C]), g.i64([1])]);
  const halves = g.node('Reshape', [
    g.node('Slice', [q.context, g.i64([REGION_BASE]), g.i64([REGION_BASE + (R - 1) * C]), g.i64([1])]),
    g.i64([0, R - 1, C]),
  ]);
  const regions = g.node('Concat', [g.node('Unsqueeze', [q.wholeScores, g.i64([1])]), halves], { axis: 1 }); // [B,R,C]
  const match = g.node(
    'ReduceSum',
    [g.node('Mul', [regions, g.node('Unsqueeze', [query, g.i64([1])])]), g.i64([2])],
    { keepdims: 0 },
  ); // [B,R]
  const found = g.node('Cast', [g.node('Greater', [match, g.scalar(MATCH_THRESHOLD)])], { to: 1 });
  const priority = g.f32(REGIONS.map((_, r) => R - r));
  const pick = g.node('ArgMax', [g.node('Mul', [found, priority])], { axis: 1, keepdims: 0 }); // [B]
  const eye = new Float32Array(R * R);
  for (let r = 0; r < R; r++) eye[r * R + r] = 1;
  const any = g.node('ReduceMax', [found, g.i64([1])], { keepdims: 1 }); // [B,1]
  const on = g.node('Mul', [any, q.ground]); // [B,1]
  const selected = g.node('Mul', [g.node('Gather', [g.init(eye, [R, R]), pick], { axis: 0 }), on]); // [B,R]

  const boxTable = new Float32Array(R * BOX_SLOTS.length * V);
  REGIONS.forEach(({ box }, r) => {
    box.forEach((bin, k) => {
      boxTable[(r * BOX_SLOTS.length + k) * V + id(locToken(Math.min(bin, LOC_BINS - 1)))] = 1;
    });
  });
  const boxTokens = g.node('Reshape', [
    g.node('MatMul', [selected, g.init(boxTable, [R, BOX_SLOTS.length * V])]),
    g.i64([0, BOX_SLOTS.length, V]),
  ]); // [B,4,V]
  const boxAt = g.node('MatMul', [
    q.onehot,
    g.init(slotPositions(BOX_SLOTS, q.template), [MAX_POSITIONS, BOX_SLOTS.length]),
  ]); // [seq,4]
  const boxLogits = g.node('MatMul', [boxAt, boxTokens]); // [B,seq,V]

  const phraseMap = new Float32Array(C * V);
  COLOUR_NAMES.forEach((c, ci) => {
    phraseMap[ci * V + id(c)] = 1;
  });
  const phraseTokens = g.node('MatMul', [g.node('Mul', [query, on]), g.init(phraseMap, [C, V])]); // [B,V]
  const phraseAt = g.node('MatMul', [
    q.onehot,
    g.init(slotPositions([PHRASE], q.template), [MAX_POSITIONS, 1]),
  ]); // [seq,1]
  const phraseLogits = g.node('Mul', [g.node('Unsqueeze', [phraseTokens, g.i64([1])]), phraseAt]);
  return g.node('Add', [boxLogits, phraseLogits]);
}

/** The merged decoder answering with `templates` (the plain ones unless a variant asks otherwise). */
export function decoderGraph(templates: Templates = FLORENCE2_TEMPLATES): Uint8Array {
  const g = new Graph('Florence2DecoderMerged');
  const T = TASKS.length;
  const encMask = g.input('encoder_attention_mask', 'int64', ['batch_size', 'encoder_sequence_length']);
  const encStates = g.input('encoder_hidden_states', 'float32', ['batch_size', 'encoder_sequence_length', D]);
  const embeds = g.input('inputs_embeds', 'float32', ['batch_size', 'decoder_sequence_length', D]);
  const past: { dk: string; dv: string; ek: string; ev: string }[] = [];
  for (let i = 0; i < DECODER_LAYERS; i++) {
    const kv = (part: string, kind: string, len: string) =>
      g.input(`past_key_values.${i}.${part}.${kind}`, 'float32', ['batch_size', HEADS, len, HEAD_DIM]);
    past.push({
      dk: kv('decoder', 'key', 'past_decoder_sequence_length'),
      dv: kv('decoder', 'value', 'past_decoder_sequence_length'),
      ek: kv('encoder', 'key', 'encoder_sequence_length_out'),
      ev: kv('encoder', 'value', 'encoder_sequence_length_out'),
    });
  }
  const useCache = g.input('use_cache_branch', 'bool', [1]);

  // Cross-attention keys/values: from the cache, or computed from the encoder states (If, as optimum's merged decoder).
  const cached = new Graph('use_cache', 'cached_');
  const fresh = new Graph('compute_cross_kv', 'fresh_');
  const encOut: string[] = [];
  for (let i = 0; i < DECODER_LAYERS; i++) {
    for (const kind of ['key', 'value'] as const) {
      const p = past[i] as { ek: string; ev: string };
      const dims = ['batch_size', HEADS, 'encoder_sequence_length_out', HEAD_DIM];
      cached.output(cached.rename(kind === 'key' ? p.ek : p.ev, `cached_${i}_${kind}`), 'float32', dims);
      fresh.output(fresh.rename(splitHeads(fresh, encStates), `fresh_${i}_${kind}`), 'float32', dims);
      encOut.push(`present.${i}.encoder.${kind}`);
    }
  }
  g.nodeN('If', [useCache], encOut.length, { then_branch: cached, else_branch: fresh }, encOut);

  // Self-attention cache: past ++ this step's keys/values.
  for (let i = 0; i < DECODER_LAYERS; i++) {
    const p = past[i] as { dk: string; dv: string };
    const k = splitHeads(g, g.node('MatMul', [embeds, g.f32(projection(2 * i + 1), [D, D])]));
    const v = splitHeads(g, g.node('MatMul', [embeds, g.f32(projection(2 * i + 2), [D, D])]));
    g.node('Concat', [p.dk, k], { axis: 2 }, `present.${i}.decoder.key`);
    g.node('Concat', [p.dv, v], { axis: 2 }, `present.${i}.decoder.value`);
  }

  // Context: masked sum over the cross-attention values of layer 0, heads merged → [B, D].
  const mask = g.node('Unsqueeze', [g.node('Cast', [encMask], { to: 1 }), g.i64([1, 3])]); // [B,1,S,1]
  const pooled = g.node('ReduceSum', [g.node('Mul', ['present.0.encoder.value', mask]), g.i64([2])], {
    keepdims: 0,
  }); // [B,H,Dh]
  const context = g.node('Reshape', [pooled, g.i64([0, D])]);
  const slice = (from: number, to: number) =>
    g.node('Slice', [context, g.i64([from]), g.i64([to]), g.i64([1])]);
  const colourScores = slice(COLOUR_BASE, COLOUR_BASE + C); // [B,8]
  // Flags capped at 1 (a flag word may repeat); grounding (its prompt carries the user's words) wins over
  // any other flag word among them.
  const rawFlags = g.node('Min', [slice(TASK_BASE, TASK_BASE + T), g.scalar(1)]); // [B,T]
  const ground = g.node('Slice', [
    rawFlags,
    g.i64([GROUNDING_TASK_INDEX]),
    g.i64([GROUNDING_TASK_INDEX + 1]),
    g.i64([1]),
  ]); // [B,1]
  const others = g.f32(TASKS.map((_, k) => (k === GROUNDING_TASK_INDEX ? 0 : 1)));
  const taskFlags = g.node('Mul', [rawFlags, g.node('Sub', [g.scalar(1), g.node('Mul', [ground, others])])]);

  // Output positions: cached length + 0..seq-1, one-hot [seq, MAX_POSITIONS].
  const pastLen = g.node('Squeeze', [
    g.node('Shape', [(past[0] as { dk: string }).dk], { start: 2, end: 3 }),
  ]);
  const seqLen = g.node('Squeeze', [g.node('Shape', [embeds], { start: 1, end: 2 })]);
  const steps = g.node('Range', [g.i64([0], []), seqLen, g.i64([1], [])]);
  const positions = g.node('Min', [g.node('Add', [steps, pastLen]), g.i64([MAX_POSITIONS - 1], [])]);
  const eye = new Float32Array(MAX_POSITIONS * MAX_POSITIONS);
  for (let p = 0; p < MAX_POSITIONS; p++) eye[p * MAX_POSITIONS + p] = 1;
  const onehot = g.node('Gather', [g.init(eye, [MAX_POSITIONS, MAX_POSITIONS]), positions], { axis: 0 });

  const { fixed, slots, colourMap } = templateTables(templates);
  const fixedAll = g.node('Reshape', [
    g.node('MatMul', [onehot, g.init(fixed, [MAX_POSITIONS, T * V])]),
    g.i64([-1, T, V]),
  ]); // [seq,T,V]
  const flags4 = g.node('Unsqueeze', [taskFlags, g.i64([1, 2])]); // [B,1,1,T]
  const fixedLogits = g.node('Squeeze', [g.node('MatMul', [flags4, fixedAll]), g.i64([2])]); // [B,seq,V]
  const slotWeights = g.node('Mul', [
    g.node('Unsqueeze', [g.node('MatMul', [onehot, g.init(slots, [MAX_POSITIONS, T])]), g.i64([0])]),
    g.node('Unsqueeze', [taskFlags, g.i64([1])]),
  ]); // [B,seq,T]
  const colourTokens = g.node('Reshape', [
    g.node('MatMul', [colourScores, g.init(colourMap, [C, T * V])]),
    g.i64([0, T, V]),
  ]); // [B,T,V]
  const grounding = groundingLogits(g, {
    context,
    wholeScores: colourScores,
    ground,
    onehot,
    template: templates['<CAPTION_TO_PHRASE_GROUNDING>'],
  });
  const eosBias = new Float32Array(V);
  eosBias[EOS_ID] = EOS_BIAS;
  const logits = g.node(
    'Add',
    [
      g.node('Add', [g.node('Add', [fixedLogits, g.node('MatMul', [slotWeights, colourTokens])]), grounding]),
      g.f32(eosBias),
    ],
    {},
    'logits',
  );
  // Outputs in the real export's order: logits, then per layer decoder key/value, encoder key/value.
  g.output(logits, 'float32', ['batch_size', 'decoder_sequence_length', V]);
  for (let i = 0; i < DECODER_LAYERS; i++) {
    for (const [part, len] of [
      ['decoder', 'past_decoder_sequence_length + 1'],
      ['encoder', 'encoder_sequence_length_out'],
    ] as const) {
      for (const kind of ['key', 'value']) {
        g.output(`present.${i}.${part}.${kind}`, 'float32', ['batch_size', HEADS, len, HEAD_DIM]);
      }
    }
  }
  return g.toBytes();
}
