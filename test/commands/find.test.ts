import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import type { BackendProvider } from '../../src/contracts/backend.js';
import type { BotRequest } from '../../src/contracts/request.js';
import type { FoundBox } from '../../src/contracts/tasks/find.js';
import type { Dispatcher } from '../../src/core/dispatch.js';
import { BOX_COLOURS, MAX_DRAWN_SIDE } from '../../src/core/draw-boxes.js';
import { fakeBackends } from '../fakes/backends.js';
import { replyTo, testDispatcher } from '../fakes/dispatcher.js';
import { solidPng } from '../fakes/images.js';
import { splitPng } from '../fakes/split.js';

function setup(backends: BackendProvider, overrides: Record<string, unknown> = {}) {
  return testDispatcher({ registry: backends, overrides });
}

const send = (dispatcher: Dispatcher, fields: Partial<BotRequest>) => replyTo(dispatcher, 'find', fields);

/** A finder that answers the given boxes for any object. */
const finding = (boxes: FoundBox[]) => fakeBackends({ find: async () => ({ boxes }) });

const RIGHT_HALF: FoundBox = { label: 'red', box: { x1: 50, y1: 0, x2: 100, y2: 80 } };

async function pixels(png: Buffer) {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => {
    const i = (y * info.width + x) * 3;
    return `#${[data[i], data[i + 1], data[i + 2]].map((v) => (v as number).toString(16).padStart(2, '0')).join('')}`;
  };
  return { info, at };
}

test('/find replies with the image, the box drawn on the right half, and alt text saying where', async () => {
  const backends = finding([RIGHT_HALF]);
  const { dispatcher } = setup(backends);
  const png = await splitPng('#00ff00', '#ff0000', { width: 100, height: 80 });
  const reply = await send(dispatcher, { args: { object: 'red' }, images: [{ name: 'two.png', data: png }] });
  assert.equal(reply.error, undefined, reply.text);
  assert.equal(reply.text, 'Found "red" (1 box):\n• red: right half (x 50–100%, y 0–100%)');
  const [image] = reply.images ?? [];
  assert.ok(image, 'an image reply');
  assert.equal(
    image.altText,
    'AI-generated: The image with 1 box around "red" — red: right half (x 50–100%, y 0–100%).',
  );
  assert.deepEqual(reply.data, {
    object: 'red',
    hits: [{ ...RIGHT_HALF, where: 'right half (x 50–100%, y 0–100%)' }],
    altText: image.altText,
  });

  // The PNG: same size; outline (black border, yellow line, black border) along the box's inner edge.
  const { info, at } = await pixels(image.png);
  assert.deepEqual([info.width, info.height], [100, 80]);
  const yellow = BOX_COLOURS[0];
  for (const y of [30, 50, 70]) {
    assert.equal(at(50, y), '#000000', `outer border at x 50, y ${y}`);
    assert.equal(at(51, y), yellow, `outline at x 51, y ${y}`);
    assert.equal(at(98, y), yellow, `outline at the right edge, y ${y}`);
    assert.equal(at(75, y), '#ff0000', `inside the box stays red, y ${y}`);
    assert.equal(at(25, y), '#00ff00', `the left half is untouched, y ${y}`);
    assert.equal(at(48, y), '#00ff00', `nothing spills left of the box, y ${y}`);
  }
  assert.equal(at(75, 78), yellow, 'bottom edge');
  assert.deepEqual(backends.calls.length, 1);
});

test('several boxes are listed in order, each in its own colour; the alt text obeys the platform cap', async () => {
  const boxes: FoundBox[] = [
    { label: 'cat', box: { x1: 0, y1: 0, x2: 30, y2: 30 } },
    { label: 'cat', box: { x1: 60, y1: 50, x2: 100, y2: 80 } },
  ];
  const { dispatcher } = setup(finding(boxes), { 'altText.maxLength': 60 });
  const png = await solidPng('#0000ff', 100);
  const reply = await send(dispatcher, {
    platform: 'discord',
    args: { object: 'cat' },
    images: [{ name: 'b.png', data: await sharp(png).resize(100, 80, { fit: 'fill' }).png().toBuffer() }],
  });
  assert.equal(
    reply.text,
    'Found "cat" (2 boxes):\n• cat: top left (x 0–30%, y 0–38%)\n• cat: bottom right (x 60–100%, y 63–100%)',
  );
  const [image] = reply.images ?? [];
  assert.ok(image && image.altText.length <= 60, image?.altText);
  const { at } = await pixels(image.png);
  assert.equal(at(1, 15), BOX_COLOURS[0]);
  assert.equal(at(98, 65), BOX_COLOURS[1]);
  assert.equal(at(45, 40), '#0000ff', 'between the boxes stays blue');
});

test('nothing found: a clear message and no image', async () => {
  const { dispatcher } = setup(finding([]));
  const reply = await send(dispatcher, {
    args: { object: 'blue' },
    images: [{ name: 'two.png', data: await solidPng('#ff0000') }],
  });
  assert.equal(reply.error, undefined);
  assert.equal(reply.text, 'Found no "blue" in two.png.');
  assert.equal(reply.images, undefined);
  assert.deepEqual(reply.data, { object: 'blue', hits: [] });
});

test('labels with XML characters are drawn safely; control characters in `object` are dropped', async () => {
  const backends = finding([{ label: 'salt & <pepper>', box: { x1: 2, y1: 2, x2: 30, y2: 30 } }]);
  const { dispatcher } = setup(backends);
  const reply = await send(dispatcher, {
    args: { object: 'salt\u0000 &\u0007  pepper\n' },
    images: [{ name: 'r.png', data: await solidPng('#ff0000') }],
  });
  assert.equal(reply.error, undefined, reply.text);
  assert.equal((backends.calls[0]?.input as { object?: string } | undefined)?.object, 'salt & pepper');
  assert.equal(reply.images?.length, 1);
});

test('bad input: missing object or image, an over-long or empty object, < >, two images — clear messages, model untouched', async () => {
  const backends = finding([RIGHT_HALF]);
  const { dispatcher } = setup(backends);
  const red = { name: 'r.png', data: await solidPng('#ff0000') };
  const cases: [Partial<BotRequest>, RegExp][] = [
    [{ images: [red] }, /\/find needs `object`/],
    [{ args: { object: 'red' } }, /\/find needs an image/],
    [
      { args: { object: 'x'.repeat(101) }, images: [red] },
      /`object` is too long \(101 characters; at most 100\)/,
    ],
    [{ args: { object: '\u0001\u0002' }, images: [red] }, /\/find needs `object`: what to look for/],
    [{ args: { object: 'red<loc_5>' }, images: [red] }, /`object` cannot contain < or >/],
    [{ args: { object: 'red' }, images: [red, red] }, /one image/],
  ];
  for (const [fields, message] of cases) {
    const reply = await send(dispatcher, fields);
    assert.equal(reply.error?.internal, false, reply.text);
    assert.match(reply.text ?? '', message);
    assert.equal(reply.images, undefined);
  }
  assert.equal(backends.calls.length, 0, 'no bad input reached the model');
});

test('/help lists /find and explains its options', async () => {
  const { dispatcher } = setup(finding([]));
  const all = await send(dispatcher, { command: 'help' });
  assert.match(all.text ?? '', /\/find — Find something in an image/);
  const detail = await send(dispatcher, { command: 'help', args: { command: 'find' } });
  assert.match(detail.text ?? '', /`object` \(required\)/);
  assert.match(detail.text ?? '', /`image` \(required\)/);
});

test('a large image comes back shrunk to MAX_DRAWN_SIDE, its boxes with it', async () => {
  const { dispatcher } = setup(finding([{ label: 'red', box: { x1: 1500, y1: 0, x2: 3000, y2: 1000 } }]));
  const wide = await splitPng('#00ff00', '#ff0000', { width: 3000, height: 1000 });
  const reply = await send(dispatcher, { args: { object: 'red' }, images: [{ name: 'w.png', data: wide }] });
  assert.equal(reply.error, undefined, reply.text);
  assert.match(reply.text ?? '', /red: right half \(x 50–100%, y 0–100%\)/);
  const [image] = reply.images ?? [];
  assert.ok(image, 'an image reply');
  const { info, at } = await pixels(image.png);
  assert.equal(Math.max(info.width, info.height), MAX_DRAWN_SIDE);
  assert.deepEqual([info.width, info.height], [2048, 683]);
  const mid = 1024; // the box's left edge, scaled
  assert.equal(at(mid + 3, 300), BOX_COLOURS[0], 'outline just inside the scaled left edge');
  assert.equal(at(mid - 20, 300), '#00ff00', 'left of it stays green');
  assert.equal(at(1500, 300), '#ff0000', 'inside stays red');
});
