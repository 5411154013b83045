/**
 * Colour-world SmolVLM: a folder laid out like `HuggingFaceTB/SmolVLM-256M-Instruct`'s ONNX export
 * (`model_type: "idefics3"`, Idefics3Processor with `image_seq_len` in processor_config.json,
 * Idefics3ImageProcessor, the SmolVLM chat template; sessions `vision_encoder` (pixel_values,
 * pixel_attention_mask → image_features), `embed_tokens` and `decoder_model_merged` (inputs_embeds,
 * attention_mask, position_ids, past_key_values.0.key/value → logits, present.0.*)) that transformers.js
 * runs with `AutoModelForVision2Seq` + `AutoProcessor` + `generate()`.
 *
 * The language model is the same hand-set one as the colour-world BLIP-2 (blip2.ts), reading the chat
 * roles as turn markers: "User" starts a question, "Assistant" an answer, `<end_of_utterance>` is EOS.
 * Earlier turns are real chat messages, so "what did I ask before?" → the noun of the earlier question.
 * The vision encoder takes the masked mean RGB of each frame (undoing the 0.5/0.5 normalisation) and
 * emits `image_seq_len` identical image tokens carrying the colour scores.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ANSWER_WORDS,
  COLOUR_LM_HIDDEN,
  type ColourLm,
  colourDecoderGraph,
  colourEmbedGraph,
  colourFeatures,
} from './blip2.js';
import { Graph } from './onnx.js';

const IMAGE_SEQ_LEN = 4;
const IMAGE_SIZE = 16;
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

/** SmolVLM's chat template (as in the real tokenizer_config.json). */
export const SMOLVLM_CHAT_TEMPLATE =
  "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

function visionGraph(): Uint8Array {
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
  const shape = g.node('Concat', [n, g.i64([IMAGE_SEQ_LEN, COLOUR_LM_HIDDEN])], { axis: 0 });
  g.output(g.rename(g.node('Expand', [token, shape]), 'image_features'), 'float32', [
    'num_frames',
    IMAGE_SEQ_LEN,
    COLOUR_LM_HIDDEN,
  ]);
  return g.toBytes();
}

function tokenizerJson() {
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
      special: true,
    })),
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordLevel', vocab: SMOLVLM_VOCAB, unk_token: PAD },
  };
}

/** Writes the folder: config.json, generation_config.json, tokenizer files, processor configs, onnx/*. */
export async function synthSmolVlm(outDir: string): Promise<void> {
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
    iris_colour_world: 'colour',
    text_config: {
      model_type: 'llama',
      vocab_size: Object.keys(SMOLVLM_VOCAB).length,
      hidden_size: COLOUR_LM_HIDDEN,
      num_hidden_layers: 1,
      num_attention_heads: 1,
      num_key_value_heads: 1,
      head_dim: COLOUR_LM_HIDDEN,
      bos_token_id: ids[BOS],
      eos_token_id: ids[EOS],
      pad_token_id: ids[PAD],
      max_position_embeddings: 8192,
    },
    vision_config: { model_type: 'idefics3_vision', image_size: IMAGE_SIZE, patch_size: IMAGE_SIZE / 2 },
  });
  await json('generation_config.json', {
    bos_token_id: ids[BOS],
    eos_token_id: ids[EOS],
    pad_token_id: ids[PAD],
    max_new_tokens: 30,
  });
  await json('tokenizer.json', tokenizerJson());
  await json('tokenizer_config.json', {
    tokenizer_class: 'GPT2Tokenizer',
    bos_token: BOS,
    eos_token: EOS,
    pad_token: PAD,
    unk_token: PAD,
    model_max_length: 8192,
    chat_template: SMOLVLM_CHAT_TEMPLATE,
  });
  await json('special_tokens_map.json', {
    bos_token: BOS,
    eos_token: EOS,
    pad_token: PAD,
    unk_token: PAD,
    additional_special_tokens: [FAKE, IMAGE, EOS],
  });
  await json('processor_config.json', { image_seq_len: IMAGE_SEQ_LEN, processor_class: 'Idefics3Processor' });
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
    max_image_size: { longest_edge: IMAGE_SIZE },
    resample: 1,
    rescale_factor: 1 / 255,
    size: { longest_edge: IMAGE_SIZE },
  });
  await writeFile(join(outDir, 'onnx', 'vision_encoder.onnx'), visionGraph());
  await writeFile(join(outDir, 'onnx', 'embed_tokens.onnx'), colourEmbedGraph(LM));
  await writeFile(
    join(outDir, 'onnx', 'decoder_model_merged.onnx'),
    colourDecoderGraph(LM, { positionIds: true }),
  );
}
