import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { solidPng } from '../../fakes/images.js';
import { alice, finalEdit, type Harness, startDiscord } from './harness.js';

let h: Harness;
before(async () => {
  h = await startDiscord();
});
after(() => h.stop());

test('/tags is deferred, then answered by editing the original reply', async () => {
  const file = h.fake.addAttachment({ filename: 'red.png', data: await solidPng('#ff0000') });
  const { id, token } = h.fake.interaction({
    kind: 'command',
    name: 'tags',
    user: alice,
    options: { image: file, labels: 'green, red, blue' },
  });
  const callback = await h.fake.waitFor((r) => r.path === `/interactions/${id}/${token}/callback`);
  assert.equal(callback.json.type, 5, 'deferred channel message');
  assert.equal(callback.json.data.flags ?? 0, 0, 'public');
  const edit = await finalEdit(h.fake, token, (j) => /^Tags:/.test(j.content ?? ''));
  assert.match(edit.json.content, /^Tags: red 90%/);
  const order = h.fake.requests.filter((r) => r.path.includes(token)).map((r) => r.method);
  assert.equal(order[0], 'POST', 'the callback comes before any edit');
  assert.equal(h.fake.cdnHits.length, 1, 'the image was fetched once from the CDN');
});

test('a command that returns images answers with files whose description is the alt text, and buttons', async () => {
  const { token } = h.fake.interaction({
    kind: 'command',
    name: 'draw',
    user: alice,
    options: { prompt: 'a cat' },
  });
  const edit = await finalEdit(h.fake, token, (j) => /^Drew/.test(j.content ?? ''));
  assert.equal(edit.json.content, 'Drew: a cat');
  assert.equal(edit.files.length, 1);
  assert.equal(edit.files[0]?.filename, 'square.png');
  assert.equal(edit.files[0]?.description, 'A red square: a cat');
  assert.equal(edit.files[0]?.data.subarray(1, 4).toString(), 'PNG');
  const buttons = edit.json.components[0].components.map((c: { custom_id: string }) => c.custom_id);
  assert.deepEqual(buttons, ['draw:again:red', 'draw:settings:red']);
});

test('an ephemeral command defers ephemerally', async () => {
  const { id, token } = h.fake.interaction({
    kind: 'command',
    name: 'alttext',
    user: alice,
    options: { mode: 'off' },
  });
  const callback = await h.fake.waitFor((r) => r.path === `/interactions/${id}/${token}/callback`);
  assert.equal(callback.json.type, 5);
  assert.equal(callback.json.data.flags, 64, 'ephemeral flag');
  const edit = await finalEdit(h.fake, token, (j) => /alt text/.test(j.content ?? ''));
  assert.match(edit.json.content, /no longer add alt text/);
});

test('an attachment announced larger than the limit is refused before any download', async () => {
  const hits = h.fake.cdnHits.length;
  const file = h.fake.addAttachment({
    filename: 'huge.png',
    data: await solidPng('#ff0000'),
    announcedSize: 30 * 1024 * 1024,
  });
  const { token } = h.fake.interaction({
    kind: 'command',
    name: 'tags',
    user: alice,
    options: { image: file },
  });
  const reply = await h.fake.waitFor(
    (r) => r.path.includes(token) && /huge\.png/.test(r.json?.content ?? '') && r.status === 200,
  );
  assert.match(reply.json.content, /huge\.png is 30 MB; the limit is 20 MB/);
  assert.equal(reply.json.flags, 64, 'the error is shown only to the requester');
  assert.equal(h.fake.cdnHits.length, hits, 'nothing was downloaded');
});

test('a bad option is answered at once, ephemerally, without deferring', async () => {
  const { id, token } = h.fake.interaction({
    kind: 'command',
    name: 'draw',
    user: alice,
    options: { size: 5000 },
  });
  const callback = await h.fake.waitFor((r) => r.path === `/interactions/${id}/${token}/callback`);
  assert.equal(callback.json.type, 4, 'an immediate message, not a defer');
  assert.equal(callback.json.data.flags, 64);
  assert.match(callback.json.data.content, /`size` must be a whole number from 8 to 1024/);
});
