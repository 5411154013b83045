/**
 * Model text → user text: the one place that strips what a model emits for itself (its tokenizer's
 * special and added tokens, Florence-2's location and task tokens, chat markers) from what a user reads,
 * collapses the whitespace and trims. Every text backend passes its output through here; an empty
 * result means the model said nothing a person could read, and the caller falls back (alt-text policy,
 * "no text found", "could not find an answer").
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';

export interface UserTextOptions {
  /** The tokens to strip besides the generic patterns: a tokenizer's special and added tokens. */
  specialTokens: Iterable<string>;
  /**
   * Keep line breaks (at most one blank line between paragraphs) and collapse only the spaces within
   * each line: for chat models whose answers are lists and paragraphs. Default: one line.
   */
  keepLines?: boolean;
}

/**
 * Florence-2's own tokens: its task prompts (`<CAPTION>`, `<OD>`…), its added tokens (`<od>`, `</ocr>`,
 * `<poly>`, `<sep>`…) and locations (`<loc_0>`…`<loc_999>`). They can appear in any task's text, also
 * from a model whose tokenizer we do not have (an API), so they are stripped without one.
 */
const FLORENCE2_TASKS =
  'CAPTION|DETAILED_CAPTION|MORE_DETAILED_CAPTION|OCR|OCR_WITH_REGION|OD|DENSE_REGION_CAPTION|' +
  'REGION_PROPOSAL|CAPTION_TO_PHRASE_GROUNDING|REFERRING_EXPRESSION_SEGMENTATION|REGION_TO_SEGMENTATION|' +
  'OPEN_VOCABULARY_DETECTION|REGION_TO_CATEGORY|REGION_TO_DESCRIPTION|REGION_TO_OCR';
const FLORENCE2_ADDED =
  'od|ocr|cap|ncap|dcap|grounding|seg|sep|region_cap|region_to_desciption|proposal|poly|and';
/**
 * A turn header leaks its role name with it (`<|im_start|>assistant`, `<|start_header_id|>assistant
 * <|end_header_id|>`); tried before the tokens, so the marker does not go alone and leave the role.
 */
const ROLE_HEADERS = [
  '<\\|im_start\\|>(?:system|user|assistant)\\b',
  '<\\|start_header_id\\|>(?:system|user|assistant)<\\|end_header_id\\|>',
];
const GENERIC_PATTERNS = [
  '<loc_\\d+>',
  `</?(?:${FLORENCE2_TASKS})>`,
  `</?(?:${FLORENCE2_ADDED})>`,
  // Chat markers: <|im_start|>, <|endoftext|>, <|eot_id|>, and the full-width bars some tokenizers use.
  '<[|｜][^<>\\n]{0,64}?[|｜]>',
];

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const WORD_CHAR = /[\p{L}\p{N}]/u;

/**
 * Compiles the stripper once (a tokenizer can have a thousand added tokens), for a backend to keep.
 * Removed tokens between two word characters become a space, so `Blue<loc_1>sky` does not fuse into
 * one word; elsewhere they leave nothing, so `red<loc_1>.` stays `red.`.
 */
export function userTextFilter(o: UserTextOptions): (text: string) => string {
  const tokens = [...new Set(o.specialTokens)].filter((t) => t.trim() !== '');
  // Longest first, so a token is not cut short by another that is its prefix.
  tokens.sort((a, b) => b.length - a.length);
  // A run of tokens is removed as one, so what it leaves depends on the text around the whole run.
  const pattern = new RegExp(
    `(?:${[...ROLE_HEADERS, ...tokens.map(escapeRegExp), ...GENERIC_PATTERNS].join('|')})+`,
    'gu',
  );
  return (text) => {
    const stripped = text.replace(pattern, (match, offset: number, whole: string) => {
      // Whole code points, so a letter outside the BMP counts as a letter.
      const before = Array.from(whole.slice(Math.max(0, offset - 2), offset)).at(-1) ?? '';
      const next = whole.codePointAt(offset + match.length);
      const after = next === undefined ? '' : String.fromCodePoint(next);
      return WORD_CHAR.test(before) && WORD_CHAR.test(after) ? ' ' : '';
    });
    if (!o.keepLines) return stripped.replace(/\s+/g, ' ').trim();
    return stripped
      .split(/\r\n?|\n/)
      .map((line) => line.replace(/\s+/g, ' ').trim())
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim();
  };
}

/**
 * Removes exactly the given tokens and nothing else (no whitespace changes): for parsers that must
 * still see some tokens, e.g. Florence-2's boxes, read from its `<loc_N>` tokens after the others go.
 */
export function tokenStripper(tokens: Iterable<string>): (text: string) => string {
  const list = [...new Set(tokens)].filter((t) => t !== '').sort((a, b) => b.length - a.length);
  if (list.length === 0) return (text) => text;
  const pattern = new RegExp(list.map(escapeRegExp).join('|'), 'gu');
  return (text) => text.replace(pattern, '');
}

/** `text` as a user may read it: no special/added tokens, no task or chat markers, whitespace collapsed. */
export function toUserText(text: string, o: UserTextOptions): string {
  return userTextFilter(o)(text);
}

/**
 * A transformers.js tokenizer's special tokens (`all_special_tokens`: the added tokens marked special;
 * plus tokenizer_config.json's `additional_special_tokens`, which it does not list there) and its other
 * added tokens (tokenizer.json `added_tokens`, e.g. `<image>`, `<fake_token_around_image>`, `<loc_0>`).
 * Added tokens that are plain words (letters, digits, spaces only) are left out: some tokenizers add
 * ordinary vocabulary that way, and users must keep those words.
 */
export function specialTokensOf(tokenizer: PreTrainedTokenizer): string[] {
  const out = new Set<string>(tokenizer.all_special_tokens);
  const config = tokenizer._tokenizerConfig as { additional_special_tokens?: unknown } | undefined;
  const additional = config?.additional_special_tokens;
  if (Array.isArray(additional)) {
    for (const t of additional) {
      const content = typeof t === 'string' ? t : (t as { content?: unknown })?.content;
      if (typeof content === 'string') out.add(content);
    }
  }
  for (const added of tokenizer._tokenizer.get_added_tokens_decoder().values()) {
    if (added.special || !/^[\p{L}\p{N}\s]+$/u.test(added.content)) out.add(added.content);
  }
  return [...out];
}
