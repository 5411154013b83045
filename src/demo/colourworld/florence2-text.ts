/**
 * The text side of the colour-world Florence-2 (./florence2.ts): the real task prompts, the tasks the
 * colour world answers and their answer templates, and the BART-like byte-level BPE tokenizer files.
 * The vocabulary has every byte, the words of the prompts and answers as whole tokens, and Florence-2's
 * added location tokens `<loc_0>` … `<loc_999>` (a box corner quantised to 1000 bins per axis).
 */
import { COLOURS } from '../../core/colour-names.js';

export const COLOUR_NAMES = Object.keys(COLOURS);

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

export const TASK_PROMPTS_WITH_INPUT: Record<string, string> = {
  '<CAPTION_TO_PHRASE_GROUNDING>': 'Locate the phrases in the caption: {input}',
  '<REFERRING_EXPRESSION_SEGMENTATION>': 'Locate {input} in the image with mask',
  '<REGION_TO_SEGMENTATION>': 'What is the polygon mask of region {input}',
  '<OPEN_VOCABULARY_DETECTION>': 'Locate {input} in the image.',
  '<REGION_TO_CATEGORY>': 'What is the region {input}?',
  '<REGION_TO_DESCRIPTION>': 'What does the region {input} describe?',
  '<REGION_TO_OCR>': 'What text is in the region {input}?',
};

export const POST_PROCESSING: Record<string, string> = {
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
export const TASKS = [
  { task: '<CAPTION>', flag: 'Ġdescribe' },
  { task: '<DETAILED_CAPTION>', flag: 'Ġdetail' },
  { task: '<MORE_DETAILED_CAPTION>', flag: 'Ġparagraph' },
  { task: '<OCR>', flag: 'Ġtext' },
  { task: '<CAPTION_TO_PHRASE_GROUNDING>', flag: 'Ġphrases' },
] as const;
export const GROUNDING_TASK_INDEX = TASKS.findIndex((t) => t.task === '<CAPTION_TO_PHRASE_GROUNDING>');

/** Template slots: the image's colour word; for grounding, the phrase's colour word and the box corners. */
export const COLOUR = '{colour}';
export const PHRASE = '{phrase}';
export const BOX_SLOTS = ['{x1}', '{y1}', '{x2}', '{y2}'] as const;
const isSlot = (token: string) => token.includes('{');

/**
 * Answers per task, as tokens after `<s>` (`Ġ` = a space before the word, as in BART's byte-level
 * BPE). `{colour}` is the slot the colour scores fill. No trigram repeats (no_repeat_ngram_size 3).
 * Grounding answers like the real model: the phrase, then `<loc_x1><loc_y1><loc_x2><loc_y2>`.
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
  '<CAPTION_TO_PHRASE_GROUNDING>': [PHRASE, ...BOX_SLOTS],
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
export const LOC_BINS = 1000;
export const locToken = (bin: number): string => `<loc_${bin}>`;
const LOC_TOKENS = Array.from({ length: LOC_BINS }, (_, i) => locToken(i));

/** A prompt as the ByteLevel pre-tokenizer splits it: words with a leading `Ġ`, punctuation apart. */
function promptWords(prompt: string): string[] {
  return prompt
    .replace(/([?.,:])/g, ' $1')
    .split(' ')
    .filter(Boolean)
    .map((w, i) => (i === 0 || /^[?.,:]$/.test(w) ? w : `Ġ${w}`));
}

const PROMPT_WORDS = [
  ...Object.values(FLORENCE2_TASK_PROMPTS),
  (TASK_PROMPTS_WITH_INPUT['<CAPTION_TO_PHRASE_GROUNDING>'] as string).replace('{input}', ''),
].flatMap(promptWords);
const ANSWER_WORDS = Object.values(FLORENCE2_TEMPLATES)
  .flat()
  .filter((w) => !isSlot(w));
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
  for (const t of LOC_TOKENS) add(t);
  return Object.fromEntries(tokens.map((t, i) => [t, i]));
}

export const FLORENCE2_VOCAB = buildVocab();
export const V = Object.keys(FLORENCE2_VOCAB).length;
export const BOS_ID = 0;
export const PAD_ID = 1;
export const EOS_ID = 2;

export function id(token: string): number {
  const n = FLORENCE2_VOCAB[token];
  if (n === undefined) throw new Error(`colour-world florence2: ${token} is not in the vocabulary`);
  return n;
}

export function tokenizerJson() {
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
    added_tokens: [...SPECIALS, '<mask>', ...LOC_TOKENS].map(special),
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

export const TOKENIZER_CONFIG = {
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

// ---------------------------------------------------------------------------------------------
// Variants whose answers carry control tokens.

/**
 * Which control tokens the answers carry: none (as above); 'mixed' — the caption and OCR answers with
 * `<loc_…>`, `<pad>` and `<unk>` among their words, as a real Florence-2 can emit in any task, and
 * grounding with `<pad>` before the phrase; 'only' — caption and OCR answers of nothing but location
 * tokens (no readable text at all), grounding as in the plain model.
 */
export type Florence2ControlTokens = 'none' | 'mixed' | 'only';

const loc = (...bins: number[]) => bins.map(locToken);
const MIXED: typeof FLORENCE2_TEMPLATES = {
  '<CAPTION>': ['A', 'Ġsolid', `Ġ${COLOUR}`, ...loc(50, 669), 'Ġimage', '.', ...loc(564, 980, 901)],
  '<DETAILED_CAPTION>': [
    'The',
    'Ġimage',
    '<pad>',
    'Ġshows',
    'Ġa',
    'Ġplain',
    `Ġ${COLOUR}`,
    ...loc(12),
    'Ġbackground',
    'Ġwith',
    'Ġnothing',
    'Ġelse',
    'Ġin',
    'Ġit',
    '.',
    '<unk>',
    ...loc(7),
  ],
  '<MORE_DETAILED_CAPTION>': [
    ...loc(1, 2),
    ...FLORENCE2_TEMPLATES['<MORE_DETAILED_CAPTION>'].slice(0, 10),
    '<pad>',
    ...FLORENCE2_TEMPLATES['<MORE_DETAILED_CAPTION>'].slice(10),
    ...loc(3),
  ],
  '<OCR>': [COLOUR, ...loc(10, 20, 30, 40)],
  '<CAPTION_TO_PHRASE_GROUNDING>': ['<pad>', PHRASE, ...BOX_SLOTS],
};
const ONLY_TOKENS = loc(50, 669, 564, 980);

/** The answer templates of a variant. */
export function florence2Templates(controlTokens: Florence2ControlTokens): typeof FLORENCE2_TEMPLATES {
  if (controlTokens === 'none') return FLORENCE2_TEMPLATES;
  if (controlTokens === 'mixed') return MIXED;
  return {
    '<CAPTION>': ONLY_TOKENS,
    '<DETAILED_CAPTION>': ONLY_TOKENS,
    '<MORE_DETAILED_CAPTION>': ONLY_TOKENS,
    '<OCR>': ONLY_TOKENS,
    '<CAPTION_TO_PHRASE_GROUNDING>': FLORENCE2_TEMPLATES['<CAPTION_TO_PHRASE_GROUNDING>'],
  };
}
