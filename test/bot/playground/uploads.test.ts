/**
 * What the playground keeps and lets in: only uploads that decode are kept to be shown, all kept images
 * stay under keptImageBytes (oldest dropped first), uploads read at once are bounded, a button press
 * names a message that exists, and the operator is not held to the quotas meant for other users.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import sharp from 'sharp';
import type { ChatMessage } from '../../../src/bot/playground/channel.js';
import { solidPng } from '../../fakes/images.js';
import { postMessage, startPlayground } from './harness.js';

const MB = 1024 * 1024;
const PNG_SIGNATURE = Buffer.from('89504e470d0a1a0a', 'hex');

/** Bytes that only start like a PNG. */
const fakePng = (bytes: number) => Buffer.concat([PNG_SIGNATURE, randomBytes(bytes - PNG_SIGNATURE.length)]);

/** A PNG of random pixels (it does not compress): about 3 × side² bytes. */
const noisePng = (side: number) =>
  sharp({
    create: {
      width: side,
      height: side,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: 60 },
    },
  })
    .png()
    .toBuffer();

/** Bytes of every image the history links to that the server still serves, and how many 404. */
async function servedImages(url: string) {
  const history = (await (await fetch(`${url}api/messages`)).json()) as ChatMessage[];
  let bytes = 0;
  const gone: string[] = [];
  for (const image of history.flatMap((m) => m.images)) {
    const res = await fetch(new URL(image.url, url));
    if (res.status === 404) gone.push(image.name);
    else bytes += (await res.arrayBuffer()).byteLength;
  }
  return { bytes, gone };
}

/** The whole process's memory held in array buffers (Buffers), after a full garbage collection. */
function heldBuffers(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
}

test('uploads that only look like images are not kept: memory stays flat over 64 fake 1 MB PNGs', async () => {
  const pg = await startPlayground({ overrides: { 'media.maxBytes': 4 * MB } });
  try {
    const truncated = (await noisePng(64)).subarray(0, 2000); // a real header over cut-off pixel data
    const first = await pg.send('/tags', {
      files: [
        { name: 'fake.png', bytes: fakePng(MB) },
        { name: 'cut.png', bytes: truncated },
      ],
    });
    assert.equal(first.status, 202);
    const mine = await pg.sse.waitFor((m) => m.id === first.body.id);
    assert.deepEqual(mine.images, [], 'nothing is kept to be shown');
    assert.deepEqual(mine.files, ['fake.png', 'cut.png'], 'the page still says what was attached');
    assert.equal((await pg.answerTo(first.body.id)).error?.code, 'bad_image', 'the command says why');

    const before = heldBuffers();
    for (let round = 0; round < 16; round++) {
      const files = Array.from({ length: 4 }, (_, i) => ({
        name: `f${round}-${i}.png`,
        bytes: fakePng(MB),
      }));
      const sent = await pg.send('/tags', { files });
      assert.equal(sent.status, 202);
      await pg.answerTo(sent.body.id);
    }
    const grown = heldBuffers() - before;
    assert.ok(grown < 16 * MB, `buffers grew by ${(grown / MB).toFixed(1)} MB over 64 MB of uploads`);
    assert.deepEqual(await servedImages(pg.url), { bytes: 0, gone: [] });

    const real = await pg.send('/tags', { files: [{ name: 'red.png', bytes: await solidPng('#ff0000') }] });
    const shown = await pg.sse.waitFor((m) => m.id === real.body.id);
    assert.equal(shown.images.length, 1, 'an image that decodes is shown');
  } finally {
    await pg.stop();
  }
});

test('kept images stay under keptImageBytes: the oldest are dropped first', async () => {
  const pg = await startPlayground({ overrides: { 'platforms.playground.keptImageBytes': MB } });
  try {
    const names: string[] = [];
    let total = 0;
    for (let i = 0; i < 6; i++) {
      const bytes = await noisePng(300); // ≈ 270 kB
      total += bytes.length;
      names.push(`noise${i}.png`);
      const sent = await pg.send('/help', { files: [{ name: `noise${i}.png`, bytes }] });
      await pg.answerTo(sent.body.id);
    }
    assert.ok(total > 1.5 * MB, `${total} bytes uploaded`);
    const { bytes, gone } = await servedImages(pg.url);
    assert.ok(bytes <= MB, `${bytes} bytes kept`);
    assert.ok(bytes > MB / 2, `${bytes} bytes kept: the newest that fit`);
    assert.deepEqual(gone, names.slice(0, gone.length), 'the oldest went first');
    assert.ok(!gone.includes('noise5.png'));
  } finally {
    await pg.stop();
  }
});

test('uploads read at once are bounded: one more is told to try again, then goes through', async () => {
  const pg = await startPlayground({ overrides: { 'platforms.playground.concurrentUploads': 1 } });
  try {
    const form = new FormData();
    form.set('text', '/help');
    form.append(
      'files',
      new Blob([new Uint8Array(await solidPng('#ff0000'))], { type: 'image/png' }),
      'red.png',
    );
    const encoded = new Request('http://x/', { method: 'POST', body: form });
    const body = Buffer.from(await encoded.arrayBuffer());
    const { host, port } = new URL(pg.url);
    // An upload that is still arriving: the server has its headers (100 Continue) and part of its body.
    const slow: ClientRequest = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/api/messages',
      headers: {
        host,
        'content-type': encoded.headers.get('content-type') as string,
        'content-length': body.length,
        'x-iris-token': pg.token,
        expect: '100-continue',
      },
    });
    const answered = once(slow, 'response') as Promise<[IncomingMessage]>;
    await once(slow, 'continue');
    slow.write(body.subarray(0, 100));

    const busy = await postMessage(pg.url, pg.token, { text: 'hello' });
    assert.equal(busy.status, 503);
    assert.equal(busy.headers.get('retry-after'), '1');
    assert.match(((await busy.json()) as { error: string }).error, /busy reading other uploads/);

    slow.end(body.subarray(100));
    const [res] = await answered;
    res.resume();
    assert.equal(res.statusCode, 202);
    assert.equal((await postMessage(pg.url, pg.token, { text: 'hello' })).status, 202, 'room again');
  } finally {
    await pg.stop();
  }
});

test('a button press must name a message in the history: a crafted messageId is refused', async () => {
  const pg = await startPlayground();
  try {
    const crafted = await pg.press('draw:again:red', `x'] .text, #m-"`);
    assert.equal(crafted.status, 400);
    assert.match(String(crafted.body.error), /no longer in the history/);
    const drawn = await pg.send('/draw a red square');
    const answer = await pg.answerTo(drawn.body.id);
    const pressed = await pg.press('draw:again:red', answer.id);
    assert.equal(pressed.status, 202);
    assert.match((await pg.answerTo(answer.id)).text, /^Drew again/);
  } finally {
    await pg.stop();
  }
});

test('the operator is not locked out by the per-user and per-channel quotas', async () => {
  const quota = { jobs: 2, windowSeconds: 3600 };
  const pg = await startPlayground({
    overrides: { 'scheduler.perUser': quota, 'scheduler.perChannel': quota },
  });
  try {
    const red = await solidPng('#ff0000');
    for (let i = 0; i < 4; i++) {
      const sent = await pg.send('/tags labels:red,blue', { files: [{ name: 'red.png', bytes: red }] });
      const answer = await pg.answerTo(sent.body.id);
      assert.match(answer.text, /^Tags: red/, `job ${i + 1}: ${answer.text}`);
    }
  } finally {
    await pg.stop();
  }
});
