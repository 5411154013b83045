/**
 * Colour-world Florence-2: a folder laid out like `onnx-community/Florence-2-base-ft` that
 * transformers.js loads with `Florence2ForConditionalGeneration` + `AutoProcessor` and runs with
 * `generate()`, fully offline:
 *
 *   config.json (model_type florence2, text_config florence2_language, is_encoder_decoder),
 *   generation_config.json, tokenizer.json (byte-level BPE like BART's, RobertaProcessing
 *   `<s> … </s>`, added tokens `<loc_0>`…`<loc_999>`), tokenizer_config.json (BartTokenizer),
 *   preprocessor_config.json (CLIPImageProcessor + processor_class Florence2Processor + the real task
 *   prompts), and the four sessions:
 *   onnx/vision_encoder.onnx   pixel_values [batch_size,3,height,width] → image_features [batch_size,5,64]
 *   onnx/embed_tokens.onnx     input_ids [batch_size,sequence_length] → inputs_embeds
 *   onnx/encoder_model.onnx    inputs_embeds, attention_mask → last_hidden_state
 *   onnx/decoder_model_merged.onnx  encoder_attention_mask, encoder_hidden_states, inputs_embeds,
 *       past_key_values.{i}.{decoder,encoder}.{key,value}, use_cache_branch
 *       → logits, present.{i}.{decoder,encoder}.{key,value}
 *
 * Hand-set weights (hidden layout in ./florence2-decoder.ts: whole-image colour scores | task flags |
 * the prompt's colour word | colour scores of the four image halves | token features):
 * - vision: for the whole image and its left, right, top and bottom halves, the mean RGB (undoing the
 *   processor's ImageNet normalisation) → score per colour 60 − 40·‖rgb − corner‖²; one image token
 *   per region, each writing its scores into its own block.
 * - embed_tokens: the words that tell the task prompts apart set a task flag ("describe" → caption,
 *   "detail" → detailed, "paragraph" → more detailed, "text" → OCR, "phrases" → phrase grounding); a
 *   colour word sets its colour in the prompt-colour block.
 * - encoder: the embeddings, masked. Decoder: cross-attention keys/values are the encoder states
 *   split into heads (computed when `use_cache_branch` is false, passed through from the cache when
 *   true, via an If node like optimum's merged decoders); the masked sum over them gives every block.
 *   The output position is the cached self-attention length plus the step, so the cache must be fed
 *   back right. Logits = the task's sentence template at that position (50 for its token), the colour
 *   scores on the colour tokens at the template's colour slot, and a bias of 1 on `</s>` (so an
 *   unknown task prompt ends at once with an empty answer).
 * - grounding (`<CAPTION_TO_PHRASE_GROUNDING>`): each region's score for the phrase's colour; the first
 *   region over the threshold (whole, left, right, top, bottom) answers `<colour><loc_x1><loc_y1>
 *   <loc_x2><loc_y2>` with its box; none → an empty answer.
 *
 * So a solid red image is captioned "A solid red image.", OCR reads "red", and grounding "red" on an
 * image green on the left and red on the right answers "red<loc_500><loc_0><loc_999><loc_999>".
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { COLOURS } from '../../core/colour-names.js';
import { magentaFails } from './fail-on-magenta.js';
import {
  COLOUR_BASE,
  D,
  DECODER_LAYERS,
  decoderGraph,
  FEATURE_BASE,
  HEAD_DIM,
  HEADS,
  MAX_POSITIONS,
  QUERY_BASE,
  REGION_BASE,
  REGIONS,
  TASK_BASE,
} from './florence2-decoder.js';
import {
  BOS_ID,
  COLOUR_NAMES,
  EOS_ID,
  FLORENCE2_TASK_PROMPTS,
  type Florence2ControlTokens,
  florence2Templates,
  id,
  PAD_ID,
  POST_PROCESSING,
  TASK_PROMPTS_WITH_INPUT,
  TASKS,
  TOKENIZER_CONFIG,
  tokenizerJson,
  V,
} from './florence2-text.js';
import { Graph } from './onnx.js';

export {
  FLORENCE2_TASK_PROMPTS,
  FLORENCE2_TEMPLATES,
  FLORENCE2_VOCAB,
  type Florence2ControlTokens,
} from './florence2-text.js';

/** Hidden size and attention shape (tests that feed the decoder by hand need them). */
export const FLORENCE2_DIMS = { hidden: D, heads: HEADS, headDim: HEAD_DIM } as const;

const IMAGE_SIZE = 32;
const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];
const C = COLOUR_NAMES.length;
/** A slice end past any image side ("to the end"). */
const TO_END = 1 << 30;

// ---------------------------------------------------------------------------------------------
// Graphs

/** Mean of the normalised pixels of a region [B,1,3]; `axis` 2 = rows, 3 = columns, from..to. */
function regionMean(g: Graph, px: string, cut?: { axis: number; from: string; to: string }): string {
  const region = cut ? g.node('Slice', [px, cut.from, cut.to, g.i64([cut.axis])]) : px;
  return g.node('Unsqueeze', [g.node('ReduceMean', [region, g.i64([2, 3])], { keepdims: 0 }), g.i64([1])]);
}

/** pixel_values → image_features [batch, 5, D]: colour scores of the whole image and of each half. */
function visionEncoderGraph(failOnMagenta: boolean): Uint8Array {
  const g = new Graph('Florence2VisionEncoder');
  const px = g.input('pixel_values', 'float32', ['batch_size', 3, 'height', 'width']);
  const shape = g.node('Shape', [px]);
  const half = (axis: number) =>
    g.node('Div', [g.node('Slice', [shape, g.i64([axis]), g.i64([axis + 1])]), g.i64([2])]);
  const halfH = half(2);
  const halfW = half(3);
  const zero = g.i64([0]);
  const end = g.i64([TO_END]);
  const means = g.node(
    'Concat',
    [
      regionMean(g, px),
      regionMean(g, px, { axis: 3, from: zero, to: halfW }), // left
      regionMean(g, px, { axis: 3, from: halfW, to: end }), // right
      regionMean(g, px, { axis: 2, from: zero, to: halfH }), // top
      regionMean(g, px, { axis: 2, from: halfH, to: end }), // bottom
    ],
    { axis: 1 },
  ); // [B,R,3], normalised
  const rgb = g.node('Add', [g.node('Mul', [means, g.f32(IMAGENET_STD)]), g.f32(IMAGENET_MEAN)]);
  const corners = g.f32(
    COLOUR_NAMES.flatMap((c) => COLOURS[c] as number[]),
    [C, 3],
  );
  const diff = g.node('Sub', [g.node('Unsqueeze', [rgb, g.i64([2])]), corners]); // [B,R,8,3]
  const dist = g.node('ReduceSum', [g.node('Mul', [diff, diff]), g.i64([3])], { keepdims: 0 }); // [B,R,8]
  const scores = g.node('Sub', [g.scalar(60), g.node('Mul', [dist, g.scalar(40)])]);
  // Region r's scores go to its own block: the whole image to the colour block, the halves after it.
  const R = REGIONS.length;
  const place = new Float32Array(R * C * D);
  for (let r = 0; r < R; r++) {
    const base = r === 0 ? COLOUR_BASE : REGION_BASE + (r - 1) * C;
    for (let c = 0; c < C; c++) place[(r * C + c) * D + base + c] = 1;
  }
  const features = g.node('MatMul', [g.node('Unsqueeze', [scores, g.i64([2])]), g.init(place, [R, C, D])]); // [B,R,1,D]
  const squeezed = g.node('Squeeze', [features, g.i64([2])]);
  const out = failOnMagenta ? magentaFails(g, rgb, squeezed) : squeezed;
  g.output(g.rename(out, 'image_features'), 'float32', ['batch_size', R, D]);
  return g.toBytes();
}

/** Token → embedding: task flags for the flag words, the colour block for colour words, small id features. */
export function embeddingTable(): Float32Array {
  const table = new Float32Array(V * D);
  for (let t = 0; t < V; t++) {
    for (let d = FEATURE_BASE; d < D; d++)
      table[t * D + d] = Math.sin((t + 1) * (d - FEATURE_BASE + 1)) * 0.1;
  }
  TASKS.forEach(({ flag }, k) => {
    table[id(flag) * D + TASK_BASE + k] = 1;
  });
  COLOUR_NAMES.forEach((c, ci) => {
    for (const word of [c, `Ġ${c}`]) table[id(word) * D + QUERY_BASE + ci] = 1;
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

// ---------------------------------------------------------------------------------------------
// Companion files

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
      image_tokens: REGIONS.map((r) => r.name),
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
    image_seq_length: REGIONS.length,
    tasks_answer_post_processing_type: POST_PROCESSING,
    task_prompts_without_inputs: FLORENCE2_TASK_PROMPTS,
    task_prompts_with_input: TASK_PROMPTS_WITH_INPUT,
  };
}

/**
 * Write a Florence-2 folder laid out like `onnx-community/Florence-2-base-ft` into `outDir`.
 * `controlTokens` ('none' by default) makes the caption and OCR answers carry location and special
 * tokens (florence2-text.ts), to test that no backend passes them on to users. `failOnMagenta` makes
 * the vision encoder fail on any run holding a magenta image (tests of batching).
 */
export async function synthFlorence2(
  outDir: string,
  o: { controlTokens?: Florence2ControlTokens; failOnMagenta?: boolean } = {},
): Promise<void> {
  await mkdir(join(outDir, 'onnx'), { recursive: true });
  const json = (name: string, v: unknown) => writeFile(join(outDir, name), `${JSON.stringify(v, null, 2)}\n`);
  await json('config.json', configJson());
  await json('generation_config.json', GENERATION);
  await json('tokenizer.json', tokenizerJson());
  await json('tokenizer_config.json', TOKENIZER_CONFIG);
  await json('preprocessor_config.json', preprocessorJson());
  await writeFile(join(outDir, 'onnx', 'vision_encoder.onnx'), visionEncoderGraph(o.failOnMagenta ?? false));
  await writeFile(join(outDir, 'onnx', 'embed_tokens.onnx'), embedTokensGraph());
  await writeFile(join(outDir, 'onnx', 'encoder_model.onnx'), encoderGraph());
  await writeFile(
    join(outDir, 'onnx', 'decoder_model_merged.onnx'),
    decoderGraph(florence2Templates(o.controlTokens ?? 'none')),
  );
}
