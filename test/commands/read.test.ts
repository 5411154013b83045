import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_READ_REPLY } from '../../src/commands/read.js';
import type { BackendProvider } from '../../src/contracts/backend.js';
import type { BotRequest } from '../../src/contracts/request.js';
import type { Dispatcher } from '../../src/core/dispatch.js';
import { BackendError } from '../../src/errors.js';
import { fakeBackends } from '../fakes/backends.js';
import { replyTo, testDispatcher } from '../fakes/dispatcher.js';
import { solidPng } from '../fakes/images.js';

function setup(backends: BackendProvider) {
  return testDispatcher({ registry: backends });
}

const send = (dispatcher: Dispatcher, fields: Partial<BotRequest>) => replyTo(dispatcher, 'read', fields);

const image = async (name = 'sign.png') => ({ name, data: await solidPng('#fff') });

test('read replies with the text and returns it (and the confidence) as data', async () => {
  const backends = fakeBackends({ read: async () => ({ text: '  OPEN 9–5\nMon–Fri \n', confidence: 0.91 }) });
  const { dispatcher } = setup(backends);
  const reply = await send(dispatcher, { images: [await image()] });
  assert.equal(reply.error, undefined, reply.text);
  assert.equal(reply.text, 'OPEN 9–5\nMon–Fri');
  assert.deepEqual(reply.data, { text: 'OPEN 9–5\nMon–Fri', confidence: 0.91 });
  assert.equal(backends.calls.length, 1);
});

test('no text is an answer that says so, with an empty text in data', async () => {
  const { dispatcher } = setup(fakeBackends({ read: async () => ({ text: ' \n ' }) }));
  const reply = await send(dispatcher, { images: [await image('blank.png')] });
  assert.equal(reply.error, undefined);
  assert.equal(reply.text, 'No text found in blank.png.');
  assert.deepEqual(reply.data, { text: '' });
});

test('a long text is trimmed in the reply and complete in data', async () => {
  const long = 'Lorem ipsum dolor sit amet. '.repeat(400).trim();
  const { dispatcher } = setup(fakeBackends({ read: async () => ({ text: long }) }));
  const reply = await send(dispatcher, { images: [await image()] });
  assert.ok((reply.text ?? '').length <= MAX_READ_REPLY);
  assert.ok((reply.text ?? '').endsWith('amet.'));
  assert.equal((reply.data as { text: string }).text, long);
});

test('bad input and a throwing backend each get a clear reply; the process and the next request go on', async () => {
  let fail = true;
  const backends = fakeBackends({
    read: async () => {
      if (fail)
        throw new BackendError('model_failed', 'read/tesseract: recognition failed: boom', {
          isRetryable: false,
        });
      return { text: 'fine' };
    },
  });
  const { dispatcher, lines } = setup(backends);
  const none = await send(dispatcher, { images: [] });
  assert.equal(none.error?.internal, false);
  assert.match(none.text ?? '', /image/);
  const two = await send(dispatcher, { images: [await image('a.png'), await image('b.png')] });
  assert.match(two.text ?? '', /one image \(got 2\)/);
  const text = await send(dispatcher, { images: [{ name: 'notes.txt', data: Buffer.from('plain words') }] });
  assert.match(text.text ?? '', /notes\.txt is not an image/);
  assert.equal(backends.calls.length, 0);

  const failed = await send(dispatcher, { images: [await image()] });
  assert.equal(failed.error?.internal, true);
  assert.match(failed.text ?? '', /^Something went wrong \(ref req\d+\)\.$/);
  assert.ok(lines.some((l) => l.includes('boom')));
  fail = false;
  assert.equal((await send(dispatcher, { images: [await image()] })).text, 'fine');
});
