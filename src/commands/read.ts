import { defineCommand } from '../contracts/command.js';
import type { LoadedImage } from '../contracts/request.js';
import { trimToLength } from '../core/alttext.js';
import { UserError } from '../errors.js';

/** Longest text a chat reply carries; `data.text` always has all of it. */
export const MAX_READ_REPLY = 3500;

export interface ReadInput {
  image: LoadedImage;
}

export interface ReadData {
  text: string;
  /** 0–1, when the engine reports one. */
  confidence?: number;
}

/** /read: the text in an image (OCR). No text is an answer, not an error: "No text found in x.png." */
export const readCommand = defineCommand<ReadInput, ReadData>({
  name: 'read',
  description: 'Read the text in an image (OCR).',
  options: [{ name: 'image', type: 'image', description: 'The image to read.', required: true }],
  queue: 'gpu',
  priority: 'normal',
  async parse({ request, loadImages }) {
    if (request.images.length > 1) {
      throw new UserError('bad_option', `/read takes one image (got ${request.images.length}).`);
    }
    const [image] = await loadImages();
    if (!image) throw new UserError('bad_option', '/read needs an image.');
    return { image };
  },
  async run({ image }, ctx) {
    const reader = await ctx.backend('read');
    const result = await reader.run({ image }, { signal: ctx.signal });
    const text = result.text.trim();
    const data: ReadData =
      result.confidence === undefined ? { text } : { text, confidence: result.confidence };
    if (!text) return { text: `No text found in ${image.name}.`, data };
    return { text: trimToLength(text, MAX_READ_REPLY), data };
  },
});
