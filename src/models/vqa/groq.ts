/**
 * Visual question answering through Groq's chat completions API with groq-sdk (backend id 'groq').
 *
 * The model id is the registry's model (default meta-llama/llama-4-maverick-17b-128e-instruct); the key and
 * base URL come from config providers.groq (GROQ_API_KEY, GROQ_BASE_URL). groq-sdk posts to
 * `<baseUrl>/openai/v1/chat/completions`, so any OpenAI-compatible vision endpoint served under that path
 * works (tests use test/fakes/openai.ts).
 *
 * Memory: earlier turns are real chat messages — the first user message carries the image(s) as base64
 * data URLs, then question/answer pairs alternate, then the new question.
 * Structured mode (`format: 'json'`): `response_format: json_object`, and the answer must parse as
 * `{description, funny_story}` (zod); anything else is a clear "malformed answer" error.
 * Answers are user text (../user-text.ts): chat markers and Florence-2-style tokens a model leaks are
 * stripped (there is no tokenizer here, only the generic patterns) and lines and paragraphs are kept; an
 * answer of nothing else is '', which /ask turns into "I don't know.".
 *
 * Retries: iris retries 429 and 5xx itself (the SDK's own retries are off) because the SDK sleeps for any
 * Retry-After however long, and its sleep ignores cancellation. Here a Retry-After (or retry-after-ms)
 * is honoured up to `maxRetryAfterSeconds`; a longer one ends the job at once with "try again in N s".
 *
 * Options (config `tasks.vqa.options`): `maxRetries` (default 2), `timeoutSeconds` (per request, default
 * 60), `maxRetryAfterSeconds` (default 20), `maxTokens` (default 512), `temperature` (default 0.2),
 * `maxImageBytes` (default 3 MB: larger images are re-encoded as JPEG ≤ 1568 px; Groq caps base64
 * requests at 4 MB), `logprobs` (default false: asks for token log-probabilities and reports the mean
 * token probability as the answer's confidence; Groq's models do not offer them today, other
 * OpenAI-compatible servers do. Without them the confidence is absent). Schema `groqOptions` in ../options.ts.
 */
import Groq, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'groq-sdk';
import type {
  ChatCompletionContentPart,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionMessageParam,
} from 'groq-sdk/resources/chat/completions';
import sharp from 'sharp';
import { z } from 'zod';
import type { Backend, TaskIO } from '../../contracts/backend.js';
import type { LoadedImage } from '../../contracts/request.js';
import { redactSecrets } from '../../core/redact.js';
import { BackendError, UserError } from '../../errors.js';
import type { GroqOptions } from '../options.js';
import type { BackendFactory, BackendLoadOptions } from '../types.js';
import { userTextFilter } from '../user-text.js';

/** Groq accepts up to 5 images per request. */
export const GROQ_MAX_IMAGES = 5;

export const storySchema = z.object({ description: z.string().min(1), funny_story: z.string().min(1) });

const SYSTEM_TEXT =
  'You answer questions about the image(s) the user shows you. Answer briefly and plainly. ' +
  'When there are several images, refer to them as Image 1, Image 2, and so on.';
const SYSTEM_JSON =
  'You look at the image(s) the user shows you and reply with only a JSON object with two string ' +
  'fields: "description" (what the image shows) and "funny_story" (a short funny story about it).';

async function dataUrl(image: LoadedImage, maxBytes: number): Promise<string> {
  if (image.bytes.length <= maxBytes && image.format !== 'gif') {
    return `data:image/${image.format};base64,${image.bytes.toString('base64')}`;
  }
  const jpeg = await sharp(image.bytes, { pages: 1 })
    .rotate()
    .resize(1568, 1568, { fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#ffffff' })
    .jpeg({ quality: 85 })
    .toBuffer();
  return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
}

/** exp(mean log-probability) of the answer's tokens, when the server sent them; else undefined. */
export function meanTokenProbability(logprobs: unknown): number | undefined {
  const content = (logprobs as { content?: { logprob?: unknown }[] | null } | null | undefined)?.content;
  const values = (content ?? []).map((t) => t.logprob).filter((v): v is number => typeof v === 'number');
  if (values.length === 0) return undefined;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.min(1, Math.max(0, Math.exp(mean)));
}

/** Milliseconds a 429/5xx response asks us to wait (retry-after-ms, Retry-After seconds or date). */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers?.get('retry-after');
  if (!raw) return undefined;
  const seconds = Number.parseFloat(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new UserError('cancelled', 'the request was cancelled'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new UserError('cancelled', 'the request was cancelled'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export const createGroqVqa: BackendFactory<'vqa', GroqOptions> = async (
  load: BackendLoadOptions<GroqOptions>,
): Promise<Backend<'vqa'>> => {
  const o = load.options;
  const groqConfig = load.providers?.groq;
  if (!groqConfig?.apiKey) {
    throw new UserError(
      'not_configured',
      'The groq backend needs an API key: set GROQ_API_KEY (or providers.groq.apiKey in the config).',
    );
  }
  const { maxRetries, maxTokens, temperature, maxImageBytes, logprobs } = o;
  const timeoutMs = o.timeoutSeconds * 1000;
  const maxRetryAfterMs = o.maxRetryAfterSeconds * 1000;
  const userText = userTextFilter({ specialTokens: [], keepLines: true });
  const host = (() => {
    try {
      return new URL(groqConfig.baseUrl).host;
    } catch {
      return groqConfig.baseUrl;
    }
  })();
  const client = new Groq({
    apiKey: groqConfig.apiKey,
    baseURL: groqConfig.baseUrl,
    maxRetries: 0,
    timeout: timeoutMs,
  });

  function explain(e: unknown, signal: AbortSignal): Error {
    if (e instanceof UserError) return e;
    if (e instanceof APIUserAbortError || signal.aborted)
      return new UserError('cancelled', 'the request was cancelled');
    if (e instanceof APIConnectionTimeoutError) {
      return new UserError(
        'remote_unavailable',
        `Groq (${host}) did not answer within ${timeoutMs / 1000} s; try again later.`,
      );
    }
    if (e instanceof APIConnectionError) {
      return new UserError(
        'remote_unavailable',
        `Cannot reach Groq at ${host}: check providers.groq.baseUrl (GROQ_BASE_URL) and the network.`,
      );
    }
    if (e instanceof APIError) {
      const status = e.status ?? 0;
      if (status === 401 || status === 403) {
        return new UserError('not_configured', `Groq refused the API key (${status}): check GROQ_API_KEY.`);
      }
      if (status === 429) {
        const wait = retryAfterMs(e.headers);
        const when = wait === undefined ? 'later' : `in ${Math.ceil(wait / 1000)} s`;
        return new UserError(
          'remote_unavailable',
          `Groq is rate-limiting requests (429); try again ${when}.`,
        );
      }
      if (status >= 500) {
        return new UserError('remote_unavailable', `Groq failed (${status}); try again later.`);
      }
      return new BackendError(
        'remote_rejected',
        `vqa/groq: request refused (${status}): ${redactSecrets(e.message).slice(0, 200)}`,
        {
          isRetryable: false,
          cause: e,
        },
      );
    }
    return e instanceof Error ? e : new Error(String(e));
  }

  async function complete(body: ChatCompletionCreateParamsNonStreaming, signal: AbortSignal) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await client.chat.completions.create(body, { signal });
      } catch (e) {
        const status = e instanceof APIError ? (e.status ?? 0) : 0;
        const retryable = status === 429 || status >= 500;
        if (!retryable || attempt >= maxRetries || signal.aborted) throw explain(e, signal);
        const wait = retryAfterMs((e as APIError).headers) ?? Math.min(500 * 2 ** attempt, 8000);
        if (wait > maxRetryAfterMs) throw explain(e, signal);
        await sleep(wait, signal);
      }
    }
  }

  return {
    task: 'vqa',
    id: 'groq',
    model: load.modelId,
    maxImages: GROQ_MAX_IMAGES,
    async run(input: TaskIO['vqa']['in'], opts) {
      if (input.images.length === 0)
        throw new UserError('no_image', 'A question needs an image to be about.');
      if (input.images.length > GROQ_MAX_IMAGES) {
        throw new UserError('bad_option', `Groq takes at most ${GROQ_MAX_IMAGES} images per question.`);
      }
      const json = input.format === 'json';
      const urls = await Promise.all(input.images.map((img) => dataUrl(img, maxImageBytes)));
      const imageParts: ChatCompletionContentPart[] = urls.flatMap((url, i) => [
        ...(urls.length > 1 ? [{ type: 'text' as const, text: `Image ${i + 1}:` }] : []),
        { type: 'image_url' as const, image_url: { url } },
      ]);
      const turns = [...input.history.map((t) => t.question), input.question];
      const messages: ChatCompletionMessageParam[] = [
        { role: 'system', content: json ? SYSTEM_JSON : SYSTEM_TEXT },
      ];
      turns.forEach((question, i) => {
        messages.push({
          role: 'user',
          content: i === 0 ? [...imageParts, { type: 'text', text: question }] : question,
        });
        const earlier = input.history[i];
        if (earlier) messages.push({ role: 'assistant', content: earlier.answer });
      });
      const completion = await complete(
        {
          model: load.modelId,
          messages,
          max_completion_tokens: maxTokens,
          temperature,
          ...(json && { response_format: { type: 'json_object' as const } }),
          ...(logprobs && { logprobs: true }),
        },
        opts.signal,
      );
      const content = completion.choices?.[0]?.message?.content;
      if (typeof content !== 'string' || content.trim() === '') {
        throw new UserError('bad_answer', 'Groq sent back an empty or malformed answer; try again.');
      }
      const confidence = logprobs ? meanTokenProbability(completion.choices?.[0]?.logprobs) : undefined;
      if (!json) return { answer: userText(content), ...(confidence !== undefined && { confidence }) };
      let parsed: unknown;
      try {
        parsed = JSON.parse(content);
      } catch {
        parsed = undefined;
      }
      // Each field is user text, and must still say something once cleaned.
      const story = storySchema
        .transform((v) => ({ description: userText(v.description), funny_story: userText(v.funny_story) }))
        .pipe(storySchema)
        .safeParse(parsed);
      if (!story.success) {
        throw new UserError(
          'bad_answer',
          'Groq did not answer with the requested JSON ({"description", "funny_story"} as text); try again.',
        );
      }
      return {
        answer: `${story.data.description}\n\n${story.data.funny_story}`,
        data: story.data,
      };
    },
    async dispose() {},
  };
};
