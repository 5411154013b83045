/**
 * /imagine's text handling: Midjourney-style parameters typed into the prompt, sizes and aspect ratios,
 * the prompt blocklist and the alt text of generated images. Pure functions; the command wires them up.
 */
import { type AltTextPolicy, altTextLimit, buildAltText } from '../core/alttext.js';
import { listChoices, UserError } from '../errors.js';

/** Inline `--name value` parameters and the option each one sets. */
export const INLINE_PARAMS: Record<string, string> = {
  ar: 'ar',
  aspect: 'ar',
  seed: 'seed',
  no: 'negative',
  steps: 'steps',
  guidance: 'guidance',
  cfg: 'guidance',
  model: 'model',
  count: 'count',
  size: 'size',
  scheduler: 'scheduler',
  strength: 'strength',
};

export interface InlineParsed {
  prompt: string;
  /** Option name → raw text value (as typed). `negative` joins several `--no` with ", ". */
  params: Record<string, string>;
}

/**
 * Splits "a castle at dusk --ar 3:2 --seed 7 --no text, watermark" into the prompt and its parameters.
 * An em or en dash (phones turn "--" into "—") counts as "--". A parameter's value runs to the next
 * parameter. Unknown parameters are errors that list the known ones.
 */
export function parseInlineParams(text: string): InlineParsed {
  const normalised = text.replace(/[\u2014\u2013](?=[a-z])/gi, '--');
  const re = /(?:^|\s)--([a-z]+)(?=\s|$)/gi;
  const marks: { name: string; start: number; end: number }[] = [];
  for (const m of normalised.matchAll(re)) {
    marks.push({ name: (m[1] as string).toLowerCase(), start: m.index, end: m.index + m[0].length });
  }
  const prompt = (marks.length ? normalised.slice(0, marks[0]?.start) : normalised).trim();
  const params: Record<string, string> = {};
  marks.forEach((mark, i) => {
    const option = INLINE_PARAMS[mark.name];
    if (!option) {
      throw new UserError(
        'bad_option',
        `Unknown parameter --${mark.name}. Parameters: ${listChoices(Object.keys(INLINE_PARAMS).map((k) => `--${k}`))}.`,
      );
    }
    const value = normalised.slice(mark.end, marks[i + 1]?.start ?? normalised.length).trim();
    if (value === '')
      throw new UserError('bad_option', `--${mark.name} needs a value, e.g. ${example(mark.name)}.`);
    params[option] = option === 'negative' && params.negative ? `${params.negative}, ${value}` : value;
  });
  return { prompt, params };
}

function example(name: string): string {
  const examples: Record<string, string> = { ar: '--ar 3:2', aspect: '--aspect 16:9', no: '--no text' };
  return examples[name] ?? `--${name} 7`;
}

export interface SizeLimits {
  /** Longest side in pixels. */
  maxSide: number;
  /** width × height. */
  maxPixels: number;
}

const MIN_SIDE = 64;

function checkSize(
  width: number,
  height: number,
  limits: SizeLimits,
  asked: string,
): { width: number; height: number } {
  if (width % 64 !== 0 || height % 64 !== 0 || width < MIN_SIDE || height < MIN_SIDE) {
    throw new UserError(
      'bad_option',
      `size ${asked}: width and height must be multiples of 64 from ${MIN_SIDE} to ${limits.maxSide}, e.g. 512x512 or 768x512.`,
    );
  }
  if (width > limits.maxSide || height > limits.maxSide || width * height > limits.maxPixels) {
    throw new UserError(
      'bad_option',
      `size ${asked} is too large: at most ${limits.maxSide} pixels a side and ${limits.maxPixels.toLocaleString('en')} pixels in all (e.g. ${largestSquare(limits)}).`,
    );
  }
  return { width, height };
}

function largestSquare(limits: SizeLimits): string {
  const side = Math.min(limits.maxSide, Math.floor(Math.sqrt(limits.maxPixels) / 64) * 64);
  return `${side}x${side}`;
}

/** "512x512" (or "512×512", "512*512") → pixels, checked against the limits. */
export function parseSize(text: string, limits: SizeLimits): { width: number; height: number } {
  const m = /^\s*(\d{1,6})\s*[x×*]\s*(\d{1,6})\s*$/i.exec(text);
  if (!m)
    throw new UserError(
      'bad_option',
      `size must look like 512x512 (width x height); got "${text.slice(0, 20)}".`,
    );
  return checkSize(Number(m[1]), Number(m[2]), limits, `${m[1]}x${m[2]}`);
}

/**
 * Aspect ratio "3:2" → the size with (about) the same area as `base`, each side a multiple of 64
 * (Midjourney's --ar), shrunk to the limits if needed.
 */
export function sizeForAspect(
  ar: string,
  base: { width: number; height: number },
  limits: SizeLimits,
): { width: number; height: number } {
  const m = /^\s*(\d{1,3})\s*:\s*(\d{1,3})\s*$/.exec(ar);
  const w = Number(m?.[1]);
  const h = Number(m?.[2]);
  if (!m || w < 1 || h < 1 || w / h > 4 || h / w > 4) {
    throw new UserError(
      'bad_option',
      `--ar must be width:height between 1:4 and 4:1, e.g. 3:2 or 16:9; got "${ar.slice(0, 12)}".`,
    );
  }
  const area = base.width * base.height;
  let fw = Math.sqrt((area * w) / h);
  let fh = Math.sqrt((area * h) / w);
  // too large for the limits: scale both sides down together, so the ratio stays
  const scale = Math.min(
    1,
    limits.maxSide / fw,
    limits.maxSide / fh,
    Math.sqrt(limits.maxPixels / (fw * fh)),
  );
  fw *= scale;
  fh *= scale;
  const to64 = (v: number) => Math.max(MIN_SIDE, (scale < 1 ? Math.floor(v / 64) : Math.round(v / 64)) * 64);
  const width = to64(fw);
  const height = to64(fh);
  return checkSize(width, height, limits, `${width}x${height}`);
}

/**
 * Rough peak activation memory of one denoising step, in MiB (fp32, weights not counted): the
 * self-attention matrices of the UNet's first block dominate — (latent pixels)² × 8 heads × 4 bytes per
 * image — plus the feature maps (~1.5 KiB per latent pixel). Classifier-free guidance (guidance > 1)
 * runs every image twice. 512x512 → about 570 MiB an image; 1024x1024 → about 8.2 GiB.
 */
export function estimateImagineMemoryMB(o: {
  width: number;
  height: number;
  count: number;
  guidance: number;
}): number {
  const tokens = (o.width / 8) * (o.height / 8);
  const perImage = tokens * tokens * 8 * 4 + tokens * 320 * 4 * 12;
  const batch = o.count * (o.guidance > 1 ? 2 : 1);
  return Math.ceil((batch * perImage) / 2 ** 20);
}

/** The out-of-memory guard: refuses a request whose estimate is over the configured budget (0 = none). */
export function checkMemoryBudget(
  o: { width: number; height: number; count: number; guidance: number },
  budgetMB: number,
): void {
  const need = estimateImagineMemoryMB(o);
  if (budgetMB <= 0 || need <= budgetMB) return;
  const gb = (mb: number) => `${Math.round((mb / 1024) * 10) / 10} GB`;
  const what = `${o.count} image${o.count === 1 ? '' : 's'} at ${o.width}x${o.height}${o.guidance > 1 ? ' with guidance' : ''}`;
  throw new UserError(
    'too_large',
    `That needs about ${gb(need)} of memory (${what}); this server allows ${gb(budgetMB)} per picture request. Ask for fewer images or a smaller size.`,
  );
}

function words(text: string): string {
  return ` ${text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()} `;
}

/** The first blocked word or phrase in the prompt (whole words, case- and punctuation-insensitive). */
export function findBlocked(prompt: string, blocklist: readonly string[]): string | undefined {
  const text = words(prompt);
  return blocklist.find((entry) => {
    const w = words(entry);
    return w.trim() !== '' && text.includes(w);
  });
}

/**
 * Alt text for a generated image, under iris's one alt-text policy (src/core/alttext.ts: label in front,
 * what the image shows (its caption), then the prompt; trimmed at a sentence or word boundary to the
 * configured and the platform's limit), + "(image 2 of 4)" when there are several. Without a caption
 * the prompt alone describes it.
 */
export function imagineAltText(
  source: { prompt: string; caption?: string },
  opts: { policy: AltTextPolicy; platform?: string; index?: number; count?: number },
): string {
  const suffix = opts.count && opts.count > 1 ? ` (image ${(opts.index ?? 0) + 1} of ${opts.count})` : '';
  const limit = altTextLimit(opts.policy, opts.platform);
  const maxLength = Math.max(1, limit - suffix.length);
  return `${buildAltText(source, { policy: { ...opts.policy, maxLength } })}${suffix}`;
}
