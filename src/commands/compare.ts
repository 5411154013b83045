import { defineCommand } from '../contracts/command.js';
import type { LoadedImage } from '../contracts/request.js';
import { UserError } from '../errors.js';
import { imageKeyOf, MAX_QUESTION_LENGTH, NO_ANSWER, withConfidenceHint } from './ask.js';

export const MAX_COMPARE_IMAGES = 4;
/** Asked of each image when the backend sees one image at a time and the user asked nothing. */
const DESCRIBE = 'What is in this image?';
const COMPARE = 'Compare these images: what does each show, and how do they differ?';

export interface CompareInput {
  images: LoadedImage[];
  question?: string;
}

export const compareCommand = defineCommand<CompareInput>({
  name: 'compare',
  description: 'Compare 2–4 images, optionally answering a question about them.',
  options: [
    { name: 'image1', type: 'image', description: 'First image.', required: true },
    { name: 'image2', type: 'image', description: 'Second image.', required: true },
    { name: 'image3', type: 'image', description: 'Third image.' },
    { name: 'image4', type: 'image', description: 'Fourth image.' },
    {
      name: 'question',
      type: 'string',
      description: 'What to compare (default: what each shows and how they differ).',
      maxLength: MAX_QUESTION_LENGTH,
    },
  ],
  queue: 'gpu',
  queueFor: (config, queueOf) => queueOf('vqa', config.tasks.vqa.backend),
  priority: 'normal',
  async parse({ args, request, loadImages }) {
    if (request.images.length > MAX_COMPARE_IMAGES) {
      throw new UserError(
        'bad_option',
        `/compare takes 2 to ${MAX_COMPARE_IMAGES} images (got ${request.images.length}).`,
      );
    }
    const question = typeof args.question === 'string' ? args.question.trim() : '';
    return { images: await loadImages(), ...(question && { question }) };
  },
  async run({ images, question }, ctx) {
    const vqa = await ctx.backend('vqa');
    const threshold = ctx.config.answers.lowConfidence;
    const names = images.map((img, i) => `Image ${i + 1} (${img.name})`);
    if ((vqa.maxImages ?? 1) >= images.length) {
      // One question about all images: the backend labels them Image 1, Image 2, … in its prompt.
      const out = await vqa.run(
        { images, question: question ?? COMPARE, history: [] },
        { signal: ctx.signal },
      );
      const legend = names.join(', ');
      const answer = `${out.answer.trim() || NO_ANSWER}\n(${legend})`;
      return {
        text: withConfidenceHint(answer, out.confidence, threshold),
        data: {
          answer,
          ...(out.confidence !== undefined && { confidence: out.confidence }),
          images: images.map((img, i) => ({ image: i + 1, name: img.name })),
        },
      };
    }
    // One image at a time, then combined here: each answer is labelled with its image.
    const answers: string[] = [];
    // The least sure of the per-image answers decides the hint (undefined when no backend said).
    let confidence: number | undefined;
    for (const image of images) {
      if (ctx.signal.aborted) throw new UserError('cancelled', 'the request was cancelled');
      const out = await vqa.run(
        { images: [image], question: question ?? DESCRIBE, history: [], imageKey: imageKeyOf(image) },
        { signal: ctx.signal },
      );
      answers.push(out.answer.trim() || NO_ANSWER);
      if (out.confidence !== undefined) confidence = Math.min(confidence ?? 1, out.confidence);
      await ctx.progress({ kind: 'running', step: answers.length, total: images.length });
    }
    const distinct = new Set(answers.map((a) => a.toLowerCase()));
    const verdict =
      distinct.size === 1
        ? `All ${images.length} images get the same answer: ${answers[0]}.`
        : distinct.size === answers.length
          ? 'Each image gets a different answer.'
          : 'Some images get the same answer.';
    const lines = answers.map((a, i) => `${names[i]}: ${a}`);
    const answer = [...lines, verdict].join('\n');
    return {
      text: withConfidenceHint(answer, confidence, threshold),
      data: {
        answer,
        ...(confidence !== undefined && { confidence }),
        images: images.map((img, i) => ({ image: i + 1, name: img.name, answer: answers[i] })),
      },
    };
  },
});
