import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BackendProvider, TaskIO } from '../../src/contracts/backend.js';
import type { BotRequest } from '../../src/contracts/request.js';
import { GENERIC_ALT_TEXT } from '../../src/core/alttext.js';
import type { Dispatcher } from '../../src/core/dispatch.js';
import { BackendError } from '../../src/errors.js';
import { fakeBackends } from '../fakes/backends.js';
import { replyTo, testDispatcher, testRequest } from '../fakes/dispatcher.js';
import { solidPng } from '../fakes/images.js';

function setup(backends: BackendProvider, overrides: Record<string, unknown> = {}) {
  return testDispatcher({ registry: backends, overrides });
}

const _request = (fields: Partial<BotRequest> = {}) => testRequest('caption', fields);
const send = (dispatcher: Dispatcher, fields: Partial<BotRequest>) => replyTo(dispatcher, 'caption', fields);

const captions = (byDetail: Record<string, string>) =>
  fakeBackends({
    caption: async ({ detail }: TaskIO['caption']['in']) => ({ caption: byDetail[detail ?? 'short'] ?? '' }),
    tag: async ({ images, labels }) =>
      images.map(() => ({
        labels: labels.map((label, i) => ({ label, score: i === 0 ? 0.7 : 0.3 / (labels.length - 1) })),
      })),
  });

test('caption replies with alt text (detailed caption, labelled) and the long caption', async () => {
  const backends = captions({
    detailed: 'a red square.',
    more_detailed: 'A red square on a red background.',
  });
  const { dispatcher } = setup(backends);
  const reply = await send(dispatcher, { images: [{ name: 'r.png', data: await solidPng('#f00') }] });
  assert.equal(reply.error, undefined, reply.text);
  assert.deepEqual(reply.data, {
    altText: 'AI-generated: A red square.',
    caption: 'A red square on a red background.',
  });
  // What adapters post as automatic alt text: typed, per described image.
  assert.deepEqual(reply.describes, [{ name: 'r.png', altText: 'AI-generated: A red square.' }]);
  assert.equal(
    reply.text,
    'Alt text: AI-generated: A red square.\nCaption: A red square on a red background.',
  );
  assert.deepEqual(
    backends.calls.map((c) => [c.task, (c.input as { detail?: string }).detail]),
    [
      ['caption', 'detailed'],
      ['caption', 'more_detailed'],
    ],
  );
});

test('alt text obeys the configured length and the platform cap; the caption is not trimmed', async () => {
  const long = `${'A red square on a red background. '.repeat(60)}The end.`;
  const { dispatcher } = setup(captions({ detailed: long, more_detailed: long }), {
    'altText.maxLength': 1024,
    'altText.label': '',
  });
  const image = { name: 'r.png', data: await solidPng('#f00') };
  const slack = await send(dispatcher, { platform: 'slack', images: [image] });
  const discord = await send(dispatcher, { platform: 'discord', images: [image] });
  const data = (r: typeof slack) => r.data as { altText: string; caption: string };
  assert.ok(data(slack).altText.length <= 1000 && data(slack).altText.endsWith('background.'));
  assert.ok(
    data(discord).altText.length <= 1024 && data(discord).altText.length > data(slack).altText.length,
  );
  assert.equal(data(slack).caption, long.trim());

  const { dispatcher: short } = setup(captions({ detailed: long, more_detailed: long }), {
    'altText.maxLength': 50,
  });
  const capped = data(await send(short, { platform: 'discord', images: [image] }));
  assert.equal(capped.altText, 'AI-generated: A red square on a red background.');
});

test('an empty caption falls back to the top tags, then to a generic text', async () => {
  const { dispatcher } = setup(captions({ detailed: ' ', more_detailed: '' }));
  const image = { name: 'r.png', data: await solidPng('#f00') };
  const tagged = (await send(dispatcher, { images: [image] })).data as { altText: string; caption: string };
  assert.equal(tagged.altText, 'AI-generated: An image that may show photo.');
  assert.equal(tagged.caption, 'An image that may show photo.');

  const noTagger = fakeBackends({ caption: async () => ({ caption: '' }) }); // tag throws: not implemented
  const { dispatcher: bare } = setup(noTagger);
  const generic = (await send(bare, { images: [image] })).data as { altText: string; caption: string };
  assert.equal(generic.altText, `AI-generated: ${GENERIC_ALT_TEXT}`);
  assert.equal(generic.caption, GENERIC_ALT_TEXT);
});

// A truncated PNG passes the header check and fails when decoded: the CLI test covers it with the real backend.
test('bad input: no image, two images, a text file — each a clear message before the model runs', async () => {
  const backends = captions({ detailed: 'x', more_detailed: 'y' });
  const { dispatcher } = setup(backends);
  const red = await solidPng('#f00', 64);
  const cases: [Partial<BotRequest>, RegExp][] = [
    [{ images: [] }, /image/i],
    [
      {
        images: [
          { name: 'a.png', data: red },
          { name: 'b.png', data: red },
        ],
      },
      /one image/,
    ],
    [
      { images: [{ name: 'notes.txt', data: Buffer.from('hello, not an image') }] },
      /notes\.txt is not an image/,
    ],
  ];
  for (const [fields, message] of cases) {
    const reply = await send(dispatcher, fields);
    assert.equal(reply.error?.internal, false, reply.text);
    assert.match(reply.text ?? '', message);
  }
  assert.equal(backends.calls.length, 0, 'no bad input reached the model');
});

test('a throwing backend gives this request an error reply; the next request still works', async () => {
  let fail = true;
  const backends = fakeBackends({
    caption: async () => {
      if (fail)
        throw new BackendError('model_failed', 'caption/florence2: generation failed: boom', {
          isRetryable: false,
        });
      return { caption: 'A red square.' };
    },
  });
  const { dispatcher, lines } = setup(backends);
  const image = { name: 'r.png', data: await solidPng('#f00') };
  const failed = await send(dispatcher, { images: [image] });
  assert.equal(failed.error?.internal, true);
  assert.match(failed.text ?? '', /^Something went wrong \(ref req\d+\)\.$/);
  assert.ok(!(failed.text ?? '').includes('boom'), 'internals stay in the log');
  assert.ok(lines.some((l) => l.includes('boom')));
  fail = false;
  const ok = await send(dispatcher, { images: [image] });
  assert.equal((ok.data as { altText: string }).altText, 'AI-generated: A red square.');
});
