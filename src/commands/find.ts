import { defineCommand } from '../contracts/command.js';
import type { LoadedImage } from '../contracts/request.js';
import type { FoundBox } from '../contracts/tasks/find.js';
import { buildAltText, normaliseText } from '../core/alttext.js';
import { drawBoxes } from '../core/draw-boxes.js';
import { UserError } from '../errors.js';

/** Longest `object` text: a phrase, not a paragraph (Florence-2's prompt has room for little more). */
export const MAX_OBJECT_LENGTH = 100;

export interface FindInput {
  image: LoadedImage;
  object: string;
}

/** One found box with its place in words. */
export interface FindHit extends FoundBox {
  /** e.g. "right half (x 50–100%, y 0–100%)" */
  where: string;
}

export interface FindData {
  object: string;
  hits: FindHit[];
  /** The alt text of the drawn image; absent when nothing was found (no image then). */
  altText?: string;
}

/** A box's place in words: "the whole image", "right half", "top left"… plus its extent in percent. */
export function describePlace(box: FoundBox['box'], size: { width: number; height: number }): string {
  const x1 = box.x1 / size.width;
  const x2 = box.x2 / size.width;
  const y1 = box.y1 / size.height;
  const y2 = box.y2 / size.height;
  const [w, h, cx, cy] = [x2 - x1, y2 - y1, (x1 + x2) / 2, (y1 + y2) / 2];
  const full = (a: number) => a >= 0.9;
  const half = (a: number) => a >= 0.4 && a <= 0.6;
  const horiz = cx < 0.4 ? 'left' : cx > 0.6 ? 'right' : 'centre';
  const vert = cy < 0.4 ? 'top' : cy > 0.6 ? 'bottom' : 'middle';
  let words: string;
  if (full(w) && full(h)) words = 'the whole image';
  else if (full(h) && half(w) && horiz !== 'centre') words = `${horiz} half`;
  else if (full(w) && half(h) && vert !== 'middle') words = `${vert} half`;
  else if (horiz === 'centre' && vert === 'middle') words = 'centre';
  else if (vert === 'middle') words = horiz;
  else if (horiz === 'centre') words = vert;
  else words = `${vert} ${horiz}`;
  const pc = (v: number) => Math.round(v * 100);
  return `${words} (x ${pc(x1)}–${pc(x2)}%, y ${pc(y1)}–${pc(y2)}%)`;
}

/**
 * /find: boxes around what the user names (Florence-2 phrase grounding), drawn on the image, with alt
 * text saying what was found where. Nothing found is an answer, not an error (and carries no image).
 */
export const findCommand = defineCommand<FindInput, FindData>({
  name: 'find',
  description: 'Find something in an image: draws boxes around it.',
  options: [
    { name: 'image', type: 'image', description: 'The image to search.', required: true },
    {
      name: 'object',
      type: 'string',
      description: 'What to find, in a few words (e.g. "red car").',
      required: true,
      maxLength: MAX_OBJECT_LENGTH,
    },
  ],
  queue: 'gpu',
  priority: 'normal',
  async parse({ args, request, loadImages }) {
    if (request.images.length > 1) {
      throw new UserError('bad_option', `/find takes one image (got ${request.images.length}).`);
    }
    // Control characters are dropped and runs of whitespace collapsed, as in alt text.
    const object = normaliseText(typeof args.object === 'string' ? args.object : '');
    if (!object) throw new UserError('bad_option', '/find needs `object`: what to look for, in a few words.');
    if (/[<>]/.test(object)) {
      throw new UserError('bad_option', '`object` cannot contain < or >: name what to find in plain words.');
    }
    const [image] = await loadImages();
    if (!image) throw new UserError('bad_option', '/find needs an image.');
    return { image, object };
  },
  async run({ image, object }, ctx) {
    const finder = await ctx.backend('find');
    const { boxes } = await finder.run({ image, object }, { signal: ctx.signal });
    const hits: FindHit[] = boxes.map((b) => ({
      label: b.label || object,
      box: b.box,
      where: describePlace(b.box, image),
    }));
    if (hits.length === 0) {
      const data: FindData = { object, hits };
      return { text: `Found no "${object}" in ${image.name}.`, data };
    }
    const lines = hits.map((h) => `${h.label}: ${h.where}`);
    const count = hits.length === 1 ? '1 box' : `${hits.length} boxes`;
    const altText = buildAltText(
      { caption: `The image with ${count} around "${object}" — ${lines.join('; ')}.` },
      { policy: ctx.config.altText, platform: ctx.request.platform },
    );
    const png = await drawBoxes(
      image,
      hits.map((h) => ({ label: h.label, box: h.box })),
    );
    const data: FindData = { object, hits, altText };
    return {
      text: [`Found "${object}" (${count}):`, ...lines.map((l) => `• ${l}`)].join('\n'),
      images: [{ png, altText, name: 'found.png' }],
      data,
    };
  },
});
