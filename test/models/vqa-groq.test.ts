import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { z } from 'zod';
import { DEFAULT_MEDIA_LIMITS } from '../../src/contracts/media.js';
import { loadImage } from '../../src/core/media.js';
import { UserError } from '../../src/errors.js';
import { groqOptions } from '../../src/models/options.js';
import { createGroqVqa, retryAfterMs } from '../../src/models/vqa/groq.js';
import { solidPng } from '../fakes/images.js';
import { completion, startFakeOpenAI } from '../fakes/openai.js';
import { SECRETS } from '../fakes/secrets.js';

const KEY = SECRETS.groqKey;
const MODEL = 'meta-llama/llama-4-maverick-17b-128e-instruct';
const signal = new AbortController().signal;
let fake: Awaited<ReturnType<typeof startFakeOpenAI>>;

before(async () => {
  fake = await startFakeOpenAI({ apiKey: KEY });
});
after(async () => {
  await fake.close();
});

function groq(options: z.input<typeof groqOptions> = {}, apiKey = KEY, baseUrl?: string) {
  return createGroqVqa({
    modelDir: '',
    modelId: MODEL,
    executionProviders: [],
    options: groqOptions.parse(options),
    providers: { groq: { apiKey, baseUrl: baseUrl ?? fake.url } },
  });
}

async function red() {
  return loadImage('red.png', await solidPng('#ff0000'), DEFAULT_MEDIA_LIMITS);
}

function rejectsWith(code: string, message: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof UserError, String(e));
    assert.equal(e.code, code);
    assert.match(e.message, message);
    assert.doesNotMatch(e.message, new RegExp(KEY));
    return true;
  };
}

test('the request carries the model, the image as a base64 data URL and the earlier turns as chat messages', async () => {
  fake.requests.length = 0;
  fake.script(completion('  It is red.  '));
  const image = await red();
  const out = await (await groq()).run(
    {
      images: [image],
      question: 'And what did I ask before?',
      history: [{ question: 'What colour is it?', answer: 'Red.', at: 0 }],
    },
    { signal },
  );
  assert.equal(out.answer, 'It is red.');
  const [req] = fake.requests;
  assert.equal(req?.body.model, MODEL);
  assert.equal(req?.images.length, 1);
  assert.equal(req?.images[0]?.mime, 'image/png');
  assert.ok(req?.images[0]?.bytes.equals(image.bytes), 'the image arrives byte for byte');
  assert.deepEqual(req?.turns.slice(1), [
    ['user', 'What colour is it?'],
    ['assistant', 'Red.'],
    ['user', 'And what did I ask before?'],
  ]);
  assert.equal(req?.turns[0]?.[0], 'system');
  assert.equal(req?.body.response_format, undefined);
});

test('several images are labelled Image 1, Image 2 in one message', async () => {
  fake.requests.length = 0;
  fake.script(completion('Image 1 is red, Image 2 is blue.'));
  const blue = await loadImage('b.png', await solidPng('#0000ff'), DEFAULT_MEDIA_LIMITS);
  await (await groq()).run(
    { images: [await red(), blue], question: 'Compare them.', history: [] },
    { signal },
  );
  assert.equal(fake.requests[0]?.images.length, 2);
  assert.deepEqual(fake.requests[0]?.turns[1], ['user', 'Image 1: Image 2: Compare them.']);
});

test('429 with Retry-After, then success: one retry after the wait the server asked for', async () => {
  fake.requests.length = 0;
  fake.script(
    { status: 429, headers: { 'retry-after-ms': '120' }, body: { error: { message: 'rate limited' } } },
    completion('red'),
  );
  const out = await (await groq()).run(
    { images: [await red()], question: 'colour?', history: [] },
    { signal },
  );
  assert.equal(out.answer, 'red');
  assert.equal(fake.requests.length, 2);
  const gap = (fake.requests[1]?.at ?? 0) - (fake.requests[0]?.at ?? 0);
  assert.ok(gap >= 100, `waited ${gap} ms before retrying`);
});

test('5xx is retried up to maxRetries, then a clear message', async () => {
  fake.requests.length = 0;
  const fail = {
    status: 503,
    headers: { 'retry-after': '0' },
    body: { error: { message: 'over capacity' } },
  };
  fake.script(fail, fail, completion('ok'));
  assert.equal(
    (await (await groq()).run({ images: [await red()], question: 'q', history: [] }, { signal })).answer,
    'ok',
  );
  assert.equal(fake.requests.length, 3);
  fake.script(fail, fail, fail);
  await assert.rejects(
    (await groq()).run({ images: [await red()], question: 'q', history: [] }, { signal }),
    rejectsWith('remote_unavailable', /Groq failed \(503\); try again later/),
  );
});

test('a Retry-After longer than maxRetryAfterSeconds fails at once, saying when to try again', async () => {
  fake.requests.length = 0;
  fake.script({ status: 429, headers: { 'retry-after': '3600' }, body: { error: { message: 'slow down' } } });
  await assert.rejects(
    (await groq()).run({ images: [await red()], question: 'q', history: [] }, { signal }),
    rejectsWith('remote_unavailable', /rate-limiting requests \(429\); try again in 3600 s/),
  );
  assert.equal(fake.requests.length, 1);
});

test('structured mode asks for a JSON object and validates {description, funny_story}', async () => {
  fake.requests.length = 0;
  const story = { description: 'A red square.', funny_story: 'The square wanted to be a circle.' };
  fake.script(completion(JSON.stringify(story)));
  const out = await (await groq()).run(
    { images: [await red()], question: 'Describe it', history: [], format: 'json' },
    { signal },
  );
  assert.deepEqual(out.data, story);
  assert.equal(out.answer, `${story.description}\n\n${story.funny_story}`);
  assert.deepEqual(fake.requests[0]?.body.response_format, { type: 'json_object' });
  for (const bad of ['not json at all', JSON.stringify({ description: 'only half' }), '[1,2]']) {
    fake.script(completion(bad));
    await assert.rejects(
      (await groq()).run(
        { images: [await red()], question: 'Describe it', history: [], format: 'json' },
        { signal },
      ),
      rejectsWith('bad_answer', /did not answer with the requested JSON/),
    );
  }
});

test('chat markers a model leaks are not passed on; an answer of nothing else is empty', async () => {
  const ask = async (content: unknown, format?: 'json') => {
    fake.script(completion(typeof content === 'string' ? content : JSON.stringify(content)));
    return (await groq()).run(
      { images: [await red()], question: 'q', history: [], ...(format && { format }) },
      { signal },
    );
  };
  assert.equal((await ask('<|im_start|>assistant\nIt is <|eot_id|>red.<|im_end|>')).answer, 'It is red.');
  assert.equal((await ask('<|eot_id|> <|im_end|>')).answer, '');
  // Lists and paragraphs keep their lines.
  assert.equal(
    (await ask('Two:\n1. red\n2. blue<|eot_id|>\n\nDone.')).answer,
    'Two:\n1. red\n2. blue\n\nDone.',
  );

  const story = await ask(
    { description: 'A red<|eot_id|> square.', funny_story: 'It blushed.<|im_end|>' },
    'json',
  );
  assert.deepEqual(story.data, { description: 'A red square.', funny_story: 'It blushed.' });
  await assert.rejects(
    ask({ description: '<|eot_id|>', funny_story: 'It blushed.' }, 'json'),
    rejectsWith('bad_answer', /did not answer with the requested JSON/),
  );
});

test('an empty or malformed completion is a clear error', async () => {
  fake.script(completion(null));
  await assert.rejects(
    (await groq()).run({ images: [await red()], question: 'q', history: [] }, { signal }),
    rejectsWith('bad_answer', /empty or malformed answer/),
  );
  fake.script({ body: { choices: [] } });
  await assert.rejects(
    (await groq()).run({ images: [await red()], question: 'q', history: [] }, { signal }),
    rejectsWith('bad_answer', /empty or malformed answer/),
  );
});

test('missing key, wrong key, unreachable endpoint and a timeout each get a clear message', async () => {
  await assert.rejects(groq({}, ''), rejectsWith('not_configured', /set GROQ_API_KEY/));
  await assert.rejects(
    (await groq({}, SECRETS.groqWrongKey)).run(
      { images: [await red()], question: 'q', history: [] },
      { signal },
    ),
    rejectsWith('not_configured', /refused the API key \(401\)/),
  );
  await assert.rejects(
    (await groq({}, KEY, 'http://127.0.0.1:1')).run(
      { images: [await red()], question: 'q', history: [] },
      { signal },
    ),
    rejectsWith('remote_unavailable', /Cannot reach Groq at 127\.0\.0\.1:1/),
  );
  fake.script({ hang: true });
  await assert.rejects(
    (await groq({ timeoutSeconds: 0.2 })).run(
      { images: [await red()], question: 'q', history: [] },
      { signal },
    ),
    rejectsWith('remote_unavailable', /did not answer within 0\.2 s/),
  );
});

test('retryAfterMs reads retry-after-ms, seconds and HTTP dates', () => {
  assert.equal(retryAfterMs(new Headers({ 'retry-after-ms': '250' })), 250);
  assert.equal(retryAfterMs(new Headers({ 'retry-after': '2' })), 2000);
  assert.equal(retryAfterMs(new Headers({ 'retry-after': new Date(10_000).toUTCString() }), 4000), 6000);
  assert.equal(retryAfterMs(new Headers({})), undefined);
});
