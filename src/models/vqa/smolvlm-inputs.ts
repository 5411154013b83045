/**
 * What SmolVLM reads, built as transformers.js builds it: the folder's processor and JSON files, the chat
 * messages of a question with its earlier turns, each image decoded for the processor, the image cache
 * key, and the vision encoder's features placed at the image tokens. The sessions run in smolvlm.ts.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Idefics3Processor,
  type PreTrainedTokenizer,
  type Processor,
  RawImage,
} from '@huggingface/transformers';
import type * as ort from 'onnxruntime-node';
import type { TaskIO } from '../../contracts/backend.js';
import type { LoadedImage } from '../../contracts/request.js';
import { toRgb } from '../../core/media.js';
import { BackendError, UserError } from '../../errors.js';

type Content = { type: 'image' } | { type: 'text'; text: string };
type Message = { role: string; content: Content[] };

/** Chat messages for the question, earlier turns first; the images ride in the first user message. */
export function smolVlmMessages(
  input: TaskIO['vqa']['in'],
  clean: (text: string) => string = (t) => t,
): Message[] {
  const questions = [...input.history.map((t) => t.question), input.question];
  const messages: Message[] = [];
  questions.forEach((text, i) => {
    const images: Content[] = i === 0 ? input.images.map(() => ({ type: 'image' })) : [];
    messages.push({ role: 'user', content: [...images, { type: 'text', text: clean(text) }] });
    const earlier = input.history[i];
    if (earlier)
      messages.push({ role: 'assistant', content: [{ type: 'text', text: clean(earlier.answer) }] });
  });
  return messages;
}

/** The image as the processor gets it: decoded at most at its longest edge (shrink-on-load), aspect kept. */
export async function smolVlmImage(image: LoadedImage, longestEdge: number): Promise<RawImage> {
  const scale = Math.min(1, longestEdge / Math.max(image.width, image.height));
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  const rgb = await toRgb(image, { width, height, fit: 'fill' });
  return new RawImage(rgb.data, rgb.width, rgb.height, 3);
}

export async function readJson(
  dir: string,
  name: string,
  required: boolean,
): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(join(dir, name), 'utf8'));
  } catch (cause) {
    if (!required && (cause as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new UserError('model_missing', `vqa/smolvlm: the SmolVLM folder ${dir} has no readable ${name}`, {
      cause,
    });
  }
}

export function ids(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  return Array.isArray(value) ? value.filter((v): v is number => typeof v === 'number') : [];
}

/** A number the model folder's JSON gives, else the fallback. */
export function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}
/** The processor iris needs, whatever preprocessor_config.json says about `processor_class`. */
export async function loadProcessor(
  dir: string,
): Promise<{ processor: Processor; tokenizer: PreTrainedTokenizer }> {
  let processor: Processor;
  try {
    processor = await Idefics3Processor.from_pretrained(dir, { local_files_only: true });
  } catch (cause) {
    throw new UserError(
      'model_missing',
      `vqa/smolvlm: cannot build the Idefics3 processor from ${dir} (tokenizer.json, tokenizer_config.json, preprocessor_config.json, processor_config.json): ${(cause as Error).message}`,
      { cause },
    );
  }
  const seqLen = (processor.config as { image_seq_len?: unknown }).image_seq_len;
  if (!Number.isInteger(seqLen) || (seqLen as number) < 1) {
    throw new UserError(
      'model_missing',
      `vqa/smolvlm: processor_config.json in ${dir} has no image_seq_len (the image tokens per frame, e.g. 64).`,
    );
  }
  const tokenizer = processor.tokenizer;
  if (!tokenizer) throw new UserError('model_missing', `vqa/smolvlm: ${dir} has no tokenizer.`);
  return { processor, tokenizer };
}
/** The image(s)' cache key: the caller's content hash for one image, else a hash of all their bytes. */
export function imageKeyOf(input: TaskIO['vqa']['in']): string {
  if (input.imageKey && input.images.length === 1) return input.imageKey;
  const hash = createHash('sha256');
  for (const image of input.images) hash.update(String(image.bytes.length)).update(image.bytes);
  return `${input.images.length}:${hash.digest('hex')}`;
}

/** Puts frame features [frames, image_seq_len, hidden] at the image tokens of embeds [1, T, hidden]. */
export function placeImageFeatures(o: {
  embeds: ort.Tensor;
  features: ort.Tensor;
  ids: readonly bigint[];
  imageTokenId: number;
}) {
  const { embeds, features } = o;
  const hidden = embeds.dims[2] as number;
  const target = embeds.data as Float32Array;
  const source = features.data as Float32Array;
  const imageId = BigInt(o.imageTokenId);
  const positions: number[] = [];
  o.ids.forEach((id, i) => {
    if (id === imageId) positions.push(i);
  });
  if (positions.length * hidden !== source.length || features.dims.at(-1) !== hidden) {
    throw new BackendError(
      'model_failed',
      `vqa/smolvlm: ${positions.length} image tokens but the vision encoder gave features of shape [${features.dims.join(', ')}]`,
      { isRetryable: false },
    );
  }
  positions.forEach((p, i) => {
    target.set(source.subarray(i * hidden, (i + 1) * hidden), p * hidden);
  });
}
