/**
 * The one alt-text policy. Every place iris attaches a description to an image (/caption, alt text
 * on uploads in Discord and Slack, the playground, /imagine's results) builds it here, so the rules
 * are the same everywhere:
 *
 * 1. Source: the model's caption; if it is empty, the image's top tags ("An image that may show red,
 *    car and tree."); if there are none, a generic text. Never empty. A generated image also has its
 *    prompt: what the picture shows comes first, then `Prompt: …` (the prompt alone when there is no
 *    caption), so a screen reader hears what is there before what was asked for.
 * 2. Whitespace collapsed to single spaces, control characters dropped, first letter capitalised.
 * 3. Length: at most `min(config altText.maxLength, the platform's cap)` characters (UTF-16 code
 *    units, which is what JavaScript and both platforms' limits count): Discord 1024, Slack 1000;
 *    other platforms get the configured length only.
 * 4. Trimmed at the last sentence end that keeps at least half the room; otherwise as `truncate`
 *    (./text.ts) cuts: at a word boundary with "…", or a single long word cut hard (never inside a
 *    surrogate pair).
 * 5. Language: config altText.language (BCP 47, default en) decides sentence breaks and capitals; the
 *    caption backend gets it too (Florence-2 and the colour world write English only).
 * 6. The configured label (e.g. "AI-generated:") goes in front, followed by one space, and counts
 *    towards the length. When
 *    the label would leave less than half the room for the description, it is left out: the
 *    description matters more than the label.
 *
 * Pure functions only: no I/O, no config loading.
 */
import { truncate } from './text.js';

/** Platforms' own caps on an attachment's description. */
export const PLATFORM_ALT_TEXT_LIMITS: Readonly<Record<string, number>> = {
  discord: 1024,
  slack: 1000,
};

/** Used when there is neither a caption nor a tag. */
export const GENERIC_ALT_TEXT = 'An image (no description available).';

export interface AltTextPolicy {
  /** config altText.maxLength */
  maxLength: number;
  /** config altText.label; '' for none. */
  label: string;
  /** config altText.language (BCP 47); default 'en'. */
  language?: string;
}

export interface AltTextSource {
  /** The model's caption; empty or missing means "no caption". */
  caption?: string;
  /** Fallback labels, best first (e.g. the top tags of the tag task). */
  tags?: readonly string[];
  /** The prompt a generated image was drawn from; it follows the caption. */
  prompt?: string;
}

/** The length cap for a platform: the smaller of the configured length and the platform's own cap. */
export function altTextLimit(policy: Pick<AltTextPolicy, 'maxLength'>, platform?: string): number {
  const cap = platform === undefined ? undefined : PLATFORM_ALT_TEXT_LIMITS[platform];
  const limit = Math.min(policy.maxLength, cap ?? Number.POSITIVE_INFINITY);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`alt text: the length limit must be a whole number ≥ 1 (got ${limit})`);
  }
  return limit;
}

/** Collapses whitespace, drops control characters, trims. */
export function normaliseText(text: string): string {
  return (
    text
      // biome-ignore lint/suspicious/noControlCharactersInRegex: dropping control characters is the point.
      .replace(/[\u0000-\u0008\u000e-\u001f\u007f-\u009f]/g, '')
      .replace(/\s+/g, ' ')
      .trim()
  );
}

/** "a", "a and b", "a, b and c" */
function joinAnd(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

function capitalise(text: string, language: string): string {
  const first = text.codePointAt(0);
  if (first === undefined) return text;
  const ch = String.fromCodePoint(first);
  return ch.toLocaleUpperCase(language) + text.slice(ch.length);
}

/** "…." unless the text already ends a sentence. */
function endSentence(text: string): string {
  return /[.!?…]["'’”)\]]*$/.test(text) ? text : `${text}.`;
}

/** The untrimmed description: caption (then the prompt), else the prompt, else tags, else the generic text. */
export function describe(source: AltTextSource, language = 'en'): string {
  const caption = normaliseText(source.caption ?? '');
  const prompt = normaliseText(source.prompt ?? '');
  if (caption && prompt) return `${endSentence(capitalise(caption, language))} Prompt: ${prompt}`;
  if (caption || prompt) return capitalise(caption || prompt, language);
  const tags = [...new Set((source.tags ?? []).map(normaliseText).filter(Boolean))];
  if (tags.length) return `An image that may show ${joinAnd(tags)}.`;
  return GENERIC_ALT_TEXT;
}

/**
 * `text` (already normalised) in at most `max` characters: whole sentences when they keep at least
 * half the room, else `truncate`'s cut (a word boundary plus "…", else a hard cut plus "…").
 */
export function trimToLength(text: string, max: number, language = 'en'): string {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`alt text: bad length ${max}`);
  if (text.length <= max) return text;
  let sentenceEnd = 0;
  for (const s of new Intl.Segmenter(language, { granularity: 'sentence' }).segment(text)) {
    const end = s.index + s.segment.trimEnd().length;
    if (end > max) break;
    if (/[.!?…]["'’”)\]]*$/.test(s.segment.trimEnd())) sentenceEnd = end;
  }
  return sentenceEnd >= max / 2 ? text.slice(0, sentenceEnd) : truncate(text, max);
}

/** The alt text for one image: description, label, platform cap, trimmed — never empty. */
export function buildAltText(
  source: AltTextSource,
  options: { policy: AltTextPolicy; platform?: string },
): string {
  const limit = altTextLimit(options.policy, options.platform);
  const language = options.policy.language ?? 'en';
  const description = describe(source, language);
  const label = normaliseText(options.policy.label);
  const prefix = label ? `${label} ` : '';
  const useLabel = prefix !== '' && limit - prefix.length >= limit / 2;
  const body = trimToLength(description, useLabel ? limit - prefix.length : limit, language);
  return useLabel ? prefix + body : body;
}
