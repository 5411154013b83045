import type { CommandContext } from '../contracts/command.js';
import { defineCommand } from '../contracts/command.js';
import type { LoadedImage } from '../contracts/request.js';
import { buildAltText, describe } from '../core/alttext.js';
import { isUserError, UserError } from '../errors.js';

export interface CaptionInput {
  image: LoadedImage;
}

export interface CaptionData {
  /** Short description under the alt-text policy (label, length cap for the request's platform). */
  altText: string;
  /** The long caption (no label, not trimmed). */
  caption: string;
}

/** Tags used when the captioner says nothing: at most this many, each above the uniform score. */
const FALLBACK_TAGS = 3;

/**
 * The image's top tags from the tag task, for when the caption is empty. A missing or failing tagger
 * is not an error here (the generic text follows), but a cancel still is.
 */
async function fallbackTags(image: LoadedImage, ctx: CommandContext): Promise<string[]> {
  try {
    const tagger = await ctx.backend('tag');
    const labels = ctx.config.tasks.tag.labels;
    const [result] = await tagger.run({ images: [image], labels }, { signal: ctx.signal });
    return (result?.labels ?? [])
      .filter((l) => l.score > 1 / labels.length)
      .slice(0, FALLBACK_TAGS)
      .map((l) => l.label);
  } catch (e) {
    if (ctx.signal.aborted || (isUserError(e) && e.code === 'cancelled')) throw e;
    return [];
  }
}

/**
 * /caption: alt text (from the detailed caption, under the alt-text policy) and a long caption (the
 * most detailed one). Both are never empty: an empty caption falls back to tags, then to a generic text.
 */
export const captionCommand = defineCommand<CaptionInput, CaptionData>({
  name: 'caption',
  description: 'Describe an image: short alt text and a longer caption.',
  options: [{ name: 'image', type: 'image', description: 'The image to describe.', required: true }],
  queue: 'gpu',
  priority: 'normal',
  async parse({ request, loadImages }) {
    if (request.images.length > 1) {
      throw new UserError('bad_option', `/caption takes one image (got ${request.images.length}).`);
    }
    const [image] = await loadImages();
    if (!image) throw new UserError('bad_option', '/caption needs an image.');
    return { image };
  },
  async run({ image }, ctx) {
    const captioner = await ctx.backend('caption');
    const language = ctx.config.altText.language;
    const short = await captioner.run({ image, detail: 'detailed', language }, { signal: ctx.signal });
    const long = await captioner.run({ image, detail: 'more_detailed', language }, { signal: ctx.signal });
    const modelSaid = short.caption.trim() || long.caption.trim();
    const tags = modelSaid ? [] : await fallbackTags(image, ctx);
    const altText = buildAltText(
      { caption: short.caption.trim() ? short.caption : long.caption, tags },
      { policy: ctx.config.altText, platform: ctx.request.platform },
    );
    const caption = describe({ caption: long.caption.trim() ? long.caption : short.caption, tags }, language);
    const data: CaptionData = { altText, caption };
    return {
      text: `Alt text: ${altText}\nCaption: ${caption}`,
      describes: [{ name: image.name, altText }],
      data,
    };
  },
});
