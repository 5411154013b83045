import { createHash } from 'node:crypto';
import { defineCommand } from '../contracts/command.js';
import type { LoadedImage } from '../contracts/request.js';
import type { Turn } from '../core/memory.js';
import { isUserError, UserError } from '../errors.js';

/** Longer questions are refused before any model runs (prompts stay small, answers stay fast). */
export const MAX_QUESTION_LENGTH = 500;
/** The reply when the model said nothing a person can read (an empty answer once cleaned). */
export const NO_ANSWER = "I don't know.";
/** Added below an answer whose backend reported a confidence under config answers.lowConfidence. */
export const LOW_CONFIDENCE_HINT = '(I may be wrong about this: the model was not sure.)';

/** `answer`, with the "may be wrong" hint when `confidence` is known and below the threshold. */
export function withConfidenceHint(
  answer: string,
  confidence: number | undefined,
  threshold: number,
): string {
  return confidence !== undefined && confidence < threshold ? `${answer}\n${LOW_CONFIDENCE_HINT}` : answer;
}

export interface AskInput {
  question: string;
  image: LoadedImage;
  imageKey: string;
  imageUrl?: string;
  history: Turn[];
  format: 'text' | 'json';
  /** Set when memory could not be read: the reply says follow-ups will not remember. */
  memoryNote?: string;
}

const MEMORY_DOWN_NOTE = "(Memory is unavailable right now: I can't remember this conversation.)";
/** The dispatcher's memory guard turns a failing store into UserError('not_available'). */
const isMemoryDown = (err: unknown) => isUserError(err) && err.code === 'not_available';

/** Content hash of an image: the key of its turns in memory and of its cached vision features. */
export function imageKeyOf(image: LoadedImage): string {
  return createHash('sha256').update(image.bytes).digest('hex');
}

export const askCommand = defineCommand<AskInput>({
  name: 'ask',
  description: 'Ask a question about an image; follow-up questions remember the conversation.',
  options: [
    {
      name: 'question',
      type: 'string',
      description: 'What you want to know about the image.',
      required: true,
      maxLength: MAX_QUESTION_LENGTH,
    },
    {
      name: 'image',
      type: 'image',
      description: 'The image to ask about (default: the image this conversation is about).',
      recent: true,
    },
    {
      name: 'format',
      type: 'string',
      description: 'text, or json for {description, funny_story} (remote backends).',
      choices: ['text', 'json'],
    },
  ],
  queue: 'gpu',
  queueFor: (config, queueOf) => queueOf('vqa', config.tasks.vqa.backend),
  priority: 'interactive',
  async parse({ args, config, request, memory, loadImages, fetchImage }) {
    const question = String(args.question ?? '').trim();
    if (!question) throw new UserError('bad_option', '`question` is empty: ask something about the image.');
    // Checked before anything is downloaded: a message with 50 attachments costs nothing.
    if (request.images.length > 1) {
      throw new UserError(
        'bad_option',
        `/ask takes one image (got ${request.images.length}): ask about one at a time, or use /compare for 2 to 4.`,
      );
    }
    // Memory that cannot be read (a broken store) means no history, not no answer.
    let memoryNote: string | undefined;
    const earlier = await memory.recent(request.conversation, config.memory.maxTurns).catch((err) => {
      if (!isMemoryDown(err)) throw err;
      memoryNote = MEMORY_DOWN_NOTE;
      return [] as Turn[];
    });
    let image: LoadedImage | undefined;
    let imageUrl: string | undefined;
    if (request.images.length > 0) {
      image = (await loadImages())[0];
      imageUrl = request.images[0]?.url;
    } else {
      // A follow-up without an image is about the last image this conversation was about.
      const last = [...earlier].reverse().find((t) => t.imageUrl);
      if (last?.imageUrl && fetchImage) {
        image = await fetchImage({ name: 'the earlier image', url: last.imageUrl });
        imageUrl = last.imageUrl;
      }
    }
    if (!image) {
      throw new UserError(
        'no_image',
        'This conversation has no image yet: attach one to your question, or reply to a message that has one.',
      );
    }
    const imageKey = imageKeyOf(image);
    // Memory is per conversation and per image: turns about another image would only mislead the model.
    const history = earlier.filter((t) => t.imageKey === undefined || t.imageKey === imageKey);
    const format = args.format === 'json' ? 'json' : 'text';
    return { question, image, imageKey, ...(imageUrl && { imageUrl }), history, format, memoryNote };
  },
  async run(input, ctx) {
    const vqa = await ctx.backend('vqa');
    const out = await vqa.run(
      {
        images: [input.image],
        question: input.question,
        history: input.history,
        imageKey: input.imageKey,
        format: input.format,
      },
      { signal: ctx.signal },
    );
    const answer = out.answer.trim() || NO_ANSWER;
    let memoryNote = input.memoryNote;
    try {
      await ctx.memory.append(ctx.request.conversation, {
        question: input.question,
        answer,
        imageKey: input.imageKey,
        ...(input.imageUrl && { imageUrl: input.imageUrl }),
        userId: ctx.request.user.id,
        at: Date.now(),
      });
    } catch (err) {
      // The answer still goes out; only the follow-ups lose their context.
      if (!isMemoryDown(err)) throw err;
      memoryNote = MEMORY_DOWN_NOTE;
    }
    const text = withConfidenceHint(answer, out.confidence, ctx.config.answers.lowConfidence);
    return {
      text: memoryNote ? `${text}\n${memoryNote}` : text,
      data: {
        answer,
        ...(out.confidence !== undefined && { confidence: out.confidence }),
        ...(out.data && { data: out.data }),
      },
    };
  },
});
