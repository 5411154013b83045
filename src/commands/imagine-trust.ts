/**
 * What /imagine does to each generated image before posting it, inside the same job (no second trip
 * through the queue): the safety check (config `safety`, classifier `tasks.safety`) and the caption that
 * goes into the alt text (caption task). A failing caption falls back to the prompt and says why in the
 * log; a failing safety check fails the job, so nothing is posted unchecked.
 */
import sharp from 'sharp';
import type { Config } from '../config.js';
import type { CommandContext } from '../contracts/command.js';
import type { LoadedImage } from '../contracts/request.js';
import { signC2pa } from '../core/provenance/c2pa.js';
import { readPngText, withPngText } from '../core/provenance/png-text.js';
import { publicModelName, XMP_PNG_KEYWORD } from '../core/provenance/xmp.js';
import { judge, type SafetyVerdict } from '../core/safety-verdict.js';

/** Written into C2PA manifests as the software agent's version. */
const IRIS_VERSION = '0.1.0';

/** The description of an image posted hidden (spoiler or blur) instead of its caption. */
export const FLAGGED_DESCRIPTION =
  'A picture hidden because the safety check flagged it as possibly sensitive.';

/** Platforms that hide an image behind a spoiler until clicked; elsewhere a flagged image is blurred. */
export const SPOILER_PLATFORMS: ReadonlySet<string> = new Set(['discord']);

export interface GeneratedImage {
  png: Buffer;
  width: number;
  height: number;
  seed: number;
}

/** The verdict on one generated image, or undefined when config does not check images. */
export async function screenGenerated(
  image: GeneratedImage,
  ctx: Pick<CommandContext, 'backend' | 'config' | 'signal' | 'log'>,
): Promise<SafetyVerdict | undefined> {
  const { safety } = ctx.config;
  if (safety.imagine.mode !== 'classifier') return undefined;
  const classifier = await ctx.backend('safety');
  const [result] = await classifier.run({ images: [image.png] }, { signal: ctx.signal });
  const verdict = judge(result?.scores ?? {}, safety);
  if (verdict.flagged) {
    ctx.log?.warn(
      { seed: image.seed, score: verdict.score, classes: verdict.classes, action: safety.imagine.action },
      'imagine: generated image flagged by the safety check',
    );
  }
  return verdict;
}

/** A flagged image as it may be posted: blurred beyond recognition, the same size, same text chunks. */
export async function blurred(png: Buffer): Promise<Buffer> {
  const blur = await sharp(png).blur(40).png().toBuffer();
  return withPngText(blur, readPngText(png), [XMP_PNG_KEYWORD]);
}

/** The PNG as posted: with a signed C2PA manifest when config provenance.c2pa asks for one. */
export async function sealed(
  png: Buffer,
  what: { model: string; seed: number },
  config: Config,
): Promise<Buffer> {
  const { c2pa } = config.provenance;
  if (!c2pa.enabled) return png;
  return signC2pa(png, { ...what, model: publicModelName(what.model), version: IRIS_VERSION }, c2pa);
}

/**
 * What the image shows, from the caption task, in `language` (BCP 47) where the backend can write it;
 * undefined (and a log line) when it cannot say.
 */
export async function captionGenerated(
  image: GeneratedImage,
  ctx: Pick<CommandContext, 'backend' | 'signal' | 'log'> & { language: string },
): Promise<string | undefined> {
  const loaded: LoadedImage = {
    name: `iris-${image.seed}.png`,
    bytes: image.png,
    format: 'png',
    width: image.width,
    height: image.height,
  };
  try {
    const captioner = await ctx.backend('caption');
    const { caption } = await captioner.run(
      { image: loaded, detail: 'detailed', language: ctx.language },
      { signal: ctx.signal },
    );
    const text = caption.trim();
    if (!text) ctx.log?.info({ seed: image.seed }, 'imagine: empty caption; alt text is the prompt alone');
    return text || undefined;
  } catch (err) {
    // A cancelled or timed-out job stops here rather than posting.
    ctx.signal.throwIfAborted();
    ctx.log?.warn(
      { err, seed: image.seed },
      'imagine: caption backend unavailable; alt text is the prompt alone',
    );
    return undefined;
  }
}

export function spoilerOrBlur(config: Config, platform: string | undefined): 'spoiler' | 'blur' {
  return config.safety.imagine.action === 'spoiler' &&
    platform !== undefined &&
    SPOILER_PLATFORMS.has(platform)
    ? 'spoiler'
    : 'blur';
}
