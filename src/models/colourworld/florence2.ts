/**
 * Colour-world Florence-2: a folder laid out like `onnx-community/Florence-2-base-ft` that
 * transformers.js loads with `Florence2ForConditionalGeneration` + `AutoProcessor` and runs with
 * `generate()`, fully offline:
 *
 *   config.json (model_type florence2, text_config florence2_language, is_encoder_decoder),
 *   generation_config.json, tokenizer.json (byte-level BPE like BART's, RobertaProcessing
 *   `<s> … </s>`), tokenizer_config.json (BartTokenizer), preprocessor_config.json
 *   (CLIPImageProcessor + processor_class Florence2Processor + the real task prompts),
 *   onnx/vision_encoder.onnx   pixel_values [batch_size,3,height,width] → image_features
 *   onnx/embed_tokens.onnx     input_ids [batch_size,sequence_length] → inputs_embeds
 *   onnx/encoder_model.onnx    inputs_embeds, attention_mask → last_hidden_state
 *   onnx/decoder_model_merged.onnx  encoder_attention_mask, encoder_hidden_states, inputs_embeds,
 *       past_key_values.{i}.{decoder,encoder}.{key,value}, use_cache_branch
 *       → logits, present.{i}.{decoder,encoder}.{key,value}
 *
 * Hand-set weights (d_model 16 = 8 colour scores | 4 task flags | 4 token features):
 * - vision: mean RGB (undoing the processor's ImageNet normalisation) → score per colour
 *   60 − 40·‖rgb − corner‖², one image token carrying the eight scores.
 * - embed_tokens: the words that tell the task prompts apart set a task flag ("describe" →
 *   caption, "detail" → detailed, "paragraph" → more detailed, "text" → OCR).
 * - encoder: the embeddings, masked. Decoder: cross-attention keys/values are the encoder states
 *   split into heads (computed when `use_cache_branch` is false, passed through from the cache when
 *   true, via an If node like optimum's merged decoders); the masked sum over them gives the colour
 *   scores and the task flags. The output position is the cached self-attention length plus the
 *   step, so the cache must be fed back right. Logits = the task's sentence template at that
 *   position (50 for its token), the colour scores on the colour tokens at the template's colour
 *   slot, and a bias of 1 on `</s>` (so an unknown task prompt ends at once with an empty answer).
 *
 * So a solid red image is captioned "A solid red image.", and OCR reads "red".
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { COLOURS } from './clip.js';
import { Graph } from './onnx.js';

const D = 16;
const HEADS = 2;
const HEAD_DIM = D / HEADS;
const DECODER_LAYERS = 2;
const MAX_POSITIONS = 40;
const IMAGE_SIZE = 32;
const COLOUR_NAMES = Object.keys(COLOURS);
const TASK_DIM = 8;
const FEATURE_DIM = 12;
const TEMPLATE_LOGIT = 50;
const EOS_BIAS = 1;
const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

/** The real Florence-2 task prompts (processing_florence2.py). */
export const FLORENCE2_TASK_PROMPTS: Record<string, string> = {
  '<OCR>': 'What is the text in the image?',
  '<OCR_WITH_REGION>': 'What is the text in the image, with regions?',
  '<CAPTION>': 'What does the image describe?',
  '<DETAILED_CAPTION>': 'Describe in detail what is shown in the image.',
  '<MORE_DETAILED_CAPTION>': 'Describe with a paragraph what is shown in the image.',
  '<OD>': 'Locate the objects with category name in the image.',
  '<DENSE_REGION_CAPTION>': 'Locate the objects in the image, with their descriptions.',
  '<REGION_PROPOSAL>': 'Locate the region proposals in the image.',
};

const TASK_PROMPTS_WITH_INPUT: Record<string, string> = {
  '<CAPTION_TO_PHRASE_GROUNDING>': 'Locate the phrases in the caption: {input}',
  '<REFERRING_EXPRESSION_SEGMENTATION>': 'Locate {input} in the image with mask',
  '<REGION_TO_SEGMENTATION>': 'What is the polygon mask of region {input}',
  '<OPEN_VOCABULARY_DETECTION>': 'Locate {input} in the image.',
  '<REGION_TO_CATEGORY>': 'What is the region {input}?',
  '<REGION_TO_DESCRIPTION>': 'What does the region {input} describe?',
  '<REGION_TO_OCR>': 'What text is in the region {input}?',
};

const POST_PROCESSING: Record<string, string> = {
  '<OCR>': 'pure_text',
  '<OCR_WITH_REGION>': 'ocr',
  '<CAPTION>': 'pure_text',
  '<DETAILED_CAPTION>': 'pure_text',
  '<MORE_DETAILED_CAPTION>': 'pure_text',
  '<OD>': 'description_with_bboxes',
  '<DENSE_REGION_CAPTION>': 'description_with_bboxes',
  '<CAPTION_TO_PHRASE_GROUNDING>': 'phrase_grounding',
  '<REFERRING_EXPRESSION_SEGMENTATION>': 'polygons',
  '<REGION_TO_SEGMENTATION>': 'polygons',
  '<OPEN_VOCABULARY_DETECTION>': 'description_with_bboxes_or_polygons',
  '<REGION_TO_CATEGORY>': 'pure_text',
  '<REGION_TO_DESCRIPTION>': 'pure_text',
  '<REGION_TO_OCR>': 'pure_text',
  '<REGION_PROPOSAL>': 'bboxes',
};

/** Tasks the colour world answers, in task-flag order, with the word in the prompt that flags each. */
const TASKS = [
  { task: '<CAPTION>', flag: 'Ġdescribe' },
  { task: '<DETAILED_CAPTION>', flag: 'Ġdetail' },
  { task: '<MORE_DETAILED_CAPTION>', flag: 'Ġparagraph' },
  { task: '<OCR>', flag: 'Ġtext' },
] as const;

const COLOUR = '{colour}';
/**
 * Answers per task, as tokens after `<s>` (`Ġ` = a space before the word, as in BART's byte-level
 * BPE). `{colour}` is the slot the colour scores fill. No trigram repeats (no_repeat_ngram_size 3).
 */
export const FLORENCE2_TEMPLATES: Record<(typeof TASKS)[number]['task'], string[]> = {
  '<CAPTION>': ['A', 'Ġsolid', `Ġ${COLOUR}`, 'Ġimage', '.'],
  '<DETAILED_CAPTION>': [
    'The',
    'Ġimage',
    'Ġshows',
    'Ġa',
    'Ġplain',
    `Ġ${COLOUR}`,
    'Ġbackground',
    'Ġwith',
    'Ġnothing',
    'Ġelse',
    'Ġin',
    'Ġit',
    '.',
  ],
  '<MORE_DETAILED_CAPTION>': [
    'The',
    'Ġimage',
    'Ġis',
    'Ġfilled',
    'Ġwith',
    'Ġa',
    'Ġsingle',
    'Ġsolid',
    'Ġcolour',
    '.',
    'ĠThe',
    'Ġcolour',
    'Ġis',
    `Ġ${COLOUR}`,
    ',',
    'Ġand',
    'Ġnothing',
    'Ġelse',
    'Ġcan',
    'Ġbe',
    'Ġseen',
    'Ġin',
    'Ġthe',
    'Ġpicture',
    '.',
  ],
  '<OCR>': [COLOUR],
};

// ---------------------------------------------------------------------------------------------
// Tokenizer: BART-like byte-level BPE. Every byte has a token (so any text encodes); whole words of
// the prompts and answers are single tokens (`ignore_merges`: a word in the vocabulary is taken whole).

/** GPT-2's byte → printable character map (the ByteLevel pre-tokenizer's alphabet). */
function bytesToUnicode(): string[] {
  const printable = new Set<number>();
  for (let b = 33; b <= 126; b++) printable.add(b);
  for (let b = 161; b <= 172; b++) printable.add(b);
  for (let b = 174; b <= 255; b++) printable.add(b);
  const out: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(printable.has(b) ? b : 256 + extra++);
  return out;
}

const SPECIALS = ['<s>', '<pad>', '</s>', '<unk>'] as const;
const PROMPT_WORDS = Object.values(FLORENCE2_TASK_PROMPTS).flatMap((p) =>
  p
    .replace(/([?.,])/g, ' $1')
    .split(' ')
    .map((w, i) => (i === 0 || /^[?.,]$/.test(w) ? w : `Ġ${w}`)),
);
const ANSWER_WORDS = Object.values(FLORENCE2_TEMPLATES)
  .flat()
  .filter((w) => !w.includes(COLOUR));
const COLOUR_WORDS = COLOUR_NAMES.flatMap((c) => [c, `Ġ${c}`]);

function buildVocab(): Record<string, number> {
  const tokens: string[] = [...SPECIALS];
  const seen = new Set<string>(tokens);
  const add = (t: string) => {
    if (!seen.has(t)) {
      seen.add(t);
      tokens.push(t);
    }
  };
  for (const ch of bytesToUnicode()) add(ch);
  for (const w of [...PROMPT_WORDS, ...ANSWER_WORDS, ...COLOUR_WORDS]) add(w);
  add('<mask>');
  return Object.fromEntries(tokens.map((t, i) => [t, i]));
}

export const FLORENCE2_VOCAB = buildVocab();
const V = Object.keys(FLORENCE2_VOCAB).length;
const BOS_ID = 0;
const PAD_ID = 1;
const EOS_ID = 2;

function id(token: string): number {
  const n = FLORENCE2_VOCAB[token];
  if (n === undefined) throw new Error(`colour-world florence2: ${token} is not in the vocabulary`);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Graphs

/** pixel_values → image_features [batch, 1, D]: the colour scores of the mean RGB. */
function visionEncoderGraph(): Uint8Array {
  const g = new Graph('Florence2VisionEncoder');
  const px = g.input('pixel_values', 'float32', ['batch_size', 3, 'height', 'width']);
  const normalised = g.node('ReduceMean', [px, g.i64([2, 3])], { keepdims: 0 }); // [B,3]
  const rgb = g.node('Add', [g.node('Mul', [normalised, g.f32(IMAGENET_STD)]), g.f32(IMAGENET_MEAN)]);
  const corners = g.f32(
    COLOUR_NAMES.flatMap((c) => COLOURS[c] as number[]),
    [COLOUR_NAMES.length, 3],
  );
  const diff = g.node('Sub', [g.node('Unsqueeze', [rgb, g.i64([1])]), corners]); // [B,8,3]
  const dist = g.node('ReduceSum', [g.node('Mul', [diff, diff]), g.i64([2])], { keepdims: 0 }); // [B,8]
  const scores = g.node('Sub', [g.scalar(60), g.node('Mul', [dist, g.scalar(40)])]);
  const place = new Float32Array(COLOUR_NAMES.length * D);
  for (let c = 0; c < COLOUR_NAMES.length; c++) place[c * D + c] = 1;
  const features = g.node('MatMul', [scores, g.init(place, [COLOUR_NAMES.length, D])]);
  g.output(g.node('Unsqueeze', [features, g.i64([1])], {}, 'image_features'), 'float32', [
    'batch_size',
    1,
    D,
  ]);
  return g.toBytes();
}

/** Token → embedding: task flags for the flag words, small id features for every token. */
export function embeddingTable(): Float32Array {
  const table = new Float32Array(V * D);
  for (let t = 0; t < V; t++) {
    for (let d = FEATURE_DIM; d < D; d++) table[t * D + d] = Math.sin((t + 1) * (d - FEATURE_DIM + 1)) * 0.1;
  }
  TASKS.forEach(({ flag }, k) => {
    table[id(flag) * D + TASK_DIM + k] = 1;
  });
  return table;
}

function embedTokensGraph(): Uint8Array {
  const g = new Graph('Florence2EmbedTokens');
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const emb = g.node('Gather', [g.init(embeddingTable(), [V, D]), ids], { axis: 0 }, 'inputs_embeds');
  g.output(emb, 'float32', ['batch_size', 'sequence_length', D]);
  return g.toBytes();
}

function encoderGraph(): Uint8Array {
  const g = new Graph('Florence2Encoder');
  const x = g.input('inputs_embeds', 'float32', ['batch_size', 'encoder_sequence_length', D]);
  const mask = g.input('attention_mask', 'int64', ['batch_size', 'encoder_sequence_length']);
  const m = g.node('Unsqueeze', [g.node('Cast', [mask], { to: 1 }), g.i64([2])]);
  g.output(g.node('Mul', [x, m], {}, 'last_hidden_state'), 'float32', [
    'batch_size',
    'encoder_sequence_length',
    D,
  ]);
  return g.toBytes();
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

/** The sentence templates as fixed logits [MAX_POSITIONS, tasks·V] and colour slots [MAX_POSITIONS, tasks]. */
function templateTables(): { fixed: Float32Array; slots: Float32Array; colourMap: Float32Array } {
  const T = TASKS.length;
  const fixed = new Float32Array(MAX_POSITIONS * T * V);
  const slots = new Float32Array(MAX_POSITIONS * T);
  const colourMap = new Float32Array(COLOUR_NAMES.length * T * V);
  TASKS.forEach(({ task }, k) => {
    const answer = ['<s>', ...FLORENCE2_TEMPLATES[task], '</s>'];
    for (let p = 0; p < MAX_POSITIONS; p++) {
      const token = answer[p] ?? '</s>';
      if (token.includes(COLOUR)) {
        slots[p * T + k] = 1;
        const spaced = token.startsWith('Ġ');
        COLOUR_NAMES.forEach((c, ci) => {
          colourMap[ci * T * V + k * V + id(spaced ? `Ġ${c}` : c)] = 1;
        });
      } else {
        fixed[p * T * V + k * V + id(token)] = TEMPLATE_LOGIT;
      }
    }
  });
  return { fixed, slots, colourMap };
}

function decoderGraph(): Uint8Array {
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
  const colourScores = g.node('Slice', [context, g.i64([0]), g.i64([TASK_DIM]), g.i64([1])]); // [B,8]
  const taskFlags = g.node('Slice', [context, g.i64([TASK_DIM]), g.i64([FEATURE_DIM]), g.i64([1])]); // [B,T]

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

  const { fixed, slots, colourMap } = templateTables();
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
    g.node('MatMul', [colourScores, g.init(colourMap, [COLOUR_NAMES.length, T * V])]),
    g.i64([0, T, V]),
  ]); // [B,T,V]
  const eosBias = new Float32Array(V);
  eosBias[EOS_ID] = EOS_BIAS;
  const logits = g.node(
    'Add',
    [g.node('Add', [fixedLogits, g.node('MatMul', [slotWeights, colourTokens])]), g.f32(eosBias)],
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

// ---------------------------------------------------------------------------------------------
// Companion files

function tokenizerJson() {
  const special = (content: string) => ({
    id: id(content),
    content,
    single_word: false,
    lstrip: content === '<mask>',
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...SPECIALS, '<mask>'].map(special),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'RobertaProcessing',
      sep: ['</s>', EOS_ID],
      cls: ['<s>', BOS_ID],
      trim_offsets: true,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: true,
      vocab: FLORENCE2_VOCAB,
      merges: [],
    },
  };
}

const TOKENIZER_CONFIG = {
  add_prefix_space: false,
  bos_token: '<s>',
  cls_token: '<s>',
  eos_token: '</s>',
  errors: 'replace',
  mask_token: '<mask>',
  model_max_length: 1024,
  pad_token: '<pad>',
  sep_token: '</s>',
  unk_token: '<unk>',
  clean_up_tokenization_spaces: true,
  processor_class: 'Florence2Processor',
  tokenizer_class: 'BartTokenizer',
};

const GENERATION = {
  bos_token_id: BOS_ID,
  pad_token_id: PAD_ID,
  eos_token_id: EOS_ID,
  decoder_start_token_id: EOS_ID,
  forced_bos_token_id: BOS_ID,
  forced_eos_token_id: EOS_ID,
  no_repeat_ngram_size: 3,
  num_beams: 3,
  early_stopping: true,
};

function configJson() {
  return {
    _name_or_path: 'microsoft/Florence-2-base-ft',
    architectures: ['Florence2ForConditionalGeneration'],
    model_type: 'florence2',
    is_encoder_decoder: true,
    bos_token_id: BOS_ID,
    eos_token_id: EOS_ID,
    pad_token_id: PAD_ID,
    projection_dim: D,
    vocab_size: V,
    ignore_index: -100,
    text_config: {
      model_type: 'florence2_language',
      vocab_size: V,
      d_model: D,
      encoder_layers: 1,
      decoder_layers: DECODER_LAYERS,
      encoder_attention_heads: HEADS,
      decoder_attention_heads: HEADS,
      encoder_ffn_dim: 4 * D,
      decoder_ffn_dim: 4 * D,
      max_position_embeddings: MAX_POSITIONS,
      is_encoder_decoder: true,
      ...GENERATION,
    },
    vision_config: {
      model_type: 'davit',
      projection_dim: D,
      image_feature_source: ['spatial_avg_pool', 'temporal_avg_pool'],
    },
    transformers_version: '4.41.0',
    iris_colour_world: {
      image_tokens: 1,
      tasks: TASKS.map((t) => t.task),
    },
  };
}

function preprocessorJson() {
  return {
    processor_class: 'Florence2Processor',
    image_processor_type: 'CLIPImageProcessor',
    do_resize: true,
    size: { height: IMAGE_SIZE, width: IMAGE_SIZE },
    resample: 3,
    do_center_crop: false,
    crop_size: { height: IMAGE_SIZE, width: IMAGE_SIZE },
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: IMAGENET_MEAN,
    image_std: IMAGENET_STD,
    do_convert_rgb: null,
    image_seq_length: 1,
    tasks_answer_post_processing_type: POST_PROCESSING,
    task_prompts_without_inputs: FLORENCE2_TASK_PROMPTS,
    task_prompts_with_input: TASK_PROMPTS_WITH_INPUT,
  };
}

/** Write a Florence-2 folder laid out like `onnx-community/Florence-2-base-ft` into `outDir`. */
export async function synthFlorence2(outDir: string): Promise<void> {
  await mkdir(join(outDir, 'onnx'), { recursive: true });
  const json = (name: string, v: unknown) => writeFile(join(outDir, name), `${JSON.stringify(v, null, 2)}\n`);
  await json('config.json', configJson());
  await json('generation_config.json', GENERATION);
  await json('tokenizer.json', tokenizerJson());
  await json('tokenizer_config.json', TOKENIZER_CONFIG);
  await json('preprocessor_config.json', preprocessorJson());
  await writeFile(join(outDir, 'onnx', 'vision_encoder.onnx'), visionEncoderGraph());
  await writeFile(join(outDir, 'onnx', 'embed_tokens.onnx'), embedTokensGraph());
  await writeFile(join(outDir, 'onnx', 'encoder_model.onnx'), encoderGraph());
  await writeFile(join(outDir, 'onnx', 'decoder_model_merged.onnx'), decoderGraph());
}
