/**
 * Bad input through the dispatch funnel with the colour-world models (real registry, scheduler, media and
 * commands): broken, hostile and odd images, oversized texts and option values. Every case gets its
 * specific user-facing message, leaves no temp file, keeps the process alive and is followed by a request
 * that is served (helpers.ts `refusedCase`). Behaviours chosen: docs/hardening.md.
 */

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { MAX_SEED } from '../../src/contracts/tasks/imagine.js';
import { pngDeclaring } from '../fakes/images.js';
import {
  assertAlive,
  assertNextServed,
  colourWorldApp,
  countingServer,
  red,
  refs,
  refusedCase,
  request,
  send,
  solid,
  tempEntries,
  UNSAFE,
} from './helpers.js';
import './tmp-env.js';

let world: Awaited<ReturnType<typeof colourWorldApp>>;
let cdn: Awaited<ReturnType<typeof countingServer>>;

before(async () => {
  cdn = await countingServer(await red());
  world = await colourWorldApp({ 'media.allowHosts': [cdn.url.replace('http://', '')] });
});
after(async () => {
  await world.stop();
  await cdn.close();
  assert.deepEqual(await tempEntries(), [], 'the private temp folder is empty at the end');
});

const tags = (name: string, data: Buffer) =>
  request('tags', { args: { labels: 'red, green, blue' }, images: [{ name, data }] });

/** The top tag of a reply from /tags. */
const topTag = (text: string | undefined) => /^Tags: (\w+)/.exec(text ?? '')?.[1];

describe('broken and hostile images', () => {
  it('decompression bomb: a 300-byte PNG declaring 100000×100000 pixels is refused from its header', async () => {
    const bomb = await pngDeclaring(100_000, 100_000);
    assert.ok(bomb.length < 1000);
    await refusedCase(world.app, tags('bomb.png', bomb), {
      code: 'image_too_large',
      text: 'bomb.png is 100000×100000 pixels (10000 megapixels); the limit is 40 megapixels.',
    });
  });

  it('truncated JPEG: the header reads, decoding fails as corrupt', async () => {
    const jpeg = await solid('#ff0000', 256).jpeg().toBuffer();
    const cut = jpeg.subarray(0, Math.floor(jpeg.length * 0.6));
    await refusedCase(world.app, tags('cut.jpg', cut), {
      code: 'bad_image',
      text: 'cut.jpg: the image data is corrupt or truncated',
    });
  });

  it('zero-byte file', async () => {
    await refusedCase(world.app, tags('empty.png', Buffer.alloc(0)), {
      code: 'bad_image',
      text: 'empty.png is empty.',
    });
  });

  it('a text file named .png', async () => {
    await refusedCase(world.app, tags('notes.png', Buffer.from('shopping list: eggs, milk\n')), {
      code: 'bad_image',
      text: 'notes.png is not an image (expected PNG, JPEG, WebP or GIF).',
    });
  });

  for (const format of ['gif', 'webp'] as const) {
    it(`animated ${format.toUpperCase()}: the first frame is used (red first, then blue)`, async () => {
      const frames = [await red(), await solid('#0000ff').png().toBuffer()];
      const animated = await sharp(frames, { join: { animated: true } })
        [format]()
        .toBuffer();
      assert.equal((await sharp(animated, { pages: -1 }).metadata()).pages, 2);
      const reply = await send(world.app, tags(`anim.${format}`, animated));
      assert.equal(reply.error, undefined, reply.text);
      assert.equal(topTag(reply.text), 'red');
      // Reversed frames: the answer follows the first frame, not a blend or the last.
      const blueFirst = await sharp([...frames].reverse(), { join: { animated: true } })
        [format]()
        .toBuffer();
      assert.equal(topTag((await send(world.app, tags(`anim2.${format}`, blueFirst))).text), 'blue');
      assertAlive();
    });
  }

  it('16-bit PNG and CMYK JPEG are read as 8-bit sRGB: tags and /ask still see red', async () => {
    const png16 = await solid('#ff0000').toColourspace('rgb16').png().toBuffer();
    assert.equal((await sharp(png16).metadata()).depth, 'ushort');
    const cmyk = await solid('#ff0000').toColourspace('cmyk').jpeg().toBuffer();
    assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
    for (const [name, data] of [
      ['deep.png', png16],
      ['print.jpg', cmyk],
    ] as const) {
      const tagged = await send(world.app, tags(name, data));
      assert.equal(tagged.error, undefined, tagged.text);
      assert.equal(topTag(tagged.text), 'red', `${name}: ${tagged.text}`);
      const asked = await send(
        world.app,
        request('ask', {
          conversation: `test:${name}`,
          args: { question: 'what colour is it?' },
          images: [{ name, data }],
        }),
      );
      assert.equal(asked.error, undefined, asked.text);
      assert.match(asked.text ?? '', /red/, `${name}: ${asked.text}`);
    }
    assertAlive();
  });

  it('a 100 MB attachment announced by size is refused before any download', async () => {
    const huge = { name: 'huge.png', url: `${cdn.url}/huge.png`, size: 100 * 1024 * 1024 };
    await refusedCase(world.app, request('tags', { args: { labels: 'red' }, images: [huge] }), {
      code: 'image_too_large',
      text: 'huge.png is 100 MB; the limit is 20 MB.',
    });
    assert.deepEqual(cdn.hits, [], 'nothing was downloaded');
  });

  it('50 images in one message: refused before any download by every command that takes images', async () => {
    const fifty = refs(50, (i) => ({ name: `p${i}.png`, url: `${cdn.url}/p${i}.png`, size: 100 }));
    const cases = [
      [
        request('ask', { args: { question: 'what colour?' }, images: fifty }),
        '/ask takes one image (got 50): ask about one at a time, or use /compare for 2 to 4.',
      ],
      [request('tags', { images: fifty }), '/tags takes at most 32 images at once (got 50).'],
      [request('caption', { images: fifty }), '/caption takes one image (got 50).'],
      [request('read', { images: fifty }), '/read takes one image (got 50).'],
      [request('compare', { images: fifty }), '/compare takes 2 to 4 images (got 50).'],
      [
        request('imagine', { args: { prompt: 'a red square' }, images: fifty }),
        '/imagine takes one image to start from (got 50).',
      ],
    ] as const;
    for (const [req, text] of cases) await refusedCase(world.app, req, { code: 'bad_option', text });
    assert.deepEqual(cdn.hits, [], 'nothing was downloaded');
  });
});

describe('long texts, invisible characters and bad options', () => {
  it('a 10,000-character prompt and question are refused with their limits', async () => {
    const long = 'a red square '.repeat(800).slice(0, 10_000);
    await refusedCase(world.app, request('imagine', { args: { prompt: long } }), {
      code: 'bad_option',
      text: '`prompt` is too long (10000 characters; at most 1000).',
    });
    await refusedCase(
      world.app,
      request('ask', { args: { question: long }, images: [{ name: 'r.png', data: await red() }] }),
      { code: 'bad_option', text: '`question` is too long (10000 characters; at most 500).' },
    );
  });

  it('control characters and RTL overrides are stripped from prompts: never in the reply or the alt text', async () => {
    const hostile = '\u202Ea red\u0000 square\u0007\u2066\u200B\u202C\u0085';
    const reply = await send(world.app, request('imagine', { args: { prompt: hostile, seed: 3 } }));
    assert.equal(reply.error, undefined, reply.text);
    assert.equal((reply.data as { prompt: string }).prompt, 'a red square');
    assert.equal(reply.text, '"a red square" — seed 3, 1 step, Euler, turbo, 128x128');
    assert.equal(
      reply.images?.[0]?.altText,
      'AI-generated: The image shows a plain red background with nothing else in it. Prompt: a red square',
    );
    for (const text of [reply.text, ...(reply.images ?? []).map((i) => i.altText)]) {
      assert.doesNotMatch(text ?? '', UNSAFE);
    }
    // Hidden characters cannot split a blocklisted word either (the blocklist sees the cleaned text).
    assertAlive();
    await assertNextServed(world.app);
  });

  it('control characters and RTL overrides are stripped from questions, and from what memory keeps', async () => {
    const conversation = 'test:rtl-question';
    const reply = await send(
      world.app,
      request('ask', {
        conversation,
        args: { question: 'what\u202E colour\u0000 is it?\u2069' },
        images: [{ name: 'r.png', data: await red() }],
      }),
    );
    assert.equal(reply.error, undefined, reply.text);
    assert.match(reply.text ?? '', /red/);
    assert.doesNotMatch(reply.text ?? '', UNSAFE);
    const [turn] = await world.app.memory.recent(conversation, 5);
    assert.equal(turn?.question, 'what colour is it?');
    await assertNextServed(world.app);
  });

  it('a prompt of nothing but invisible characters is an empty prompt; a hostile file name is cleaned in errors', async () => {
    await refusedCase(world.app, request('imagine', { args: { prompt: '\u202E\u0000\u2066' } }), {
      code: 'bad_option',
      text: /^Describe the picture you want: \/imagine needs a prompt/,
    });
    // "gnp.exe" shown reversed by U+202E would read "exe.png"; the name is shown without it.
    await refusedCase(world.app, tags('cat\u202Egnp.exe\u0000', Buffer.alloc(0)), {
      code: 'bad_image',
      text: 'catgnp.exe is empty.',
    });
    await refusedCase(world.app, tags(`${'x'.repeat(5000)}.png`, Buffer.alloc(0)), {
      code: 'bad_image',
      text: `${'x'.repeat(99)}… is empty.`,
    });
  });

  it('unknown options, as request options and as inline --parameters', async () => {
    await refusedCase(world.app, request('imagine', { args: { prompt: 'a red square', colour: 'red' } }), {
      code: 'bad_option',
      text: /^\/imagine has no option `colour`\. Valid options: prompt, negative, seed, steps/,
    });
    await refusedCase(world.app, request('imagine', { args: { prompt: 'a red square --colour red' } }), {
      code: 'bad_option',
      text: /^Unknown parameter --colour\. Parameters: --ar, --aspect, --seed/,
    });
    await refusedCase(
      world.app,
      request('ask', {
        args: { question: 'why?', temperature: 2 },
        images: [{ name: 'r.png', data: await red() }],
      }),
      {
        code: 'bad_option',
        text: /^\/ask has no option `temperature`\. Valid options: question or format\.$/,
      },
    );
  });

  it('options out of range: steps 0 and 1000, size 99999x1, seed -1 and not a number', async () => {
    const imagine = (args: Record<string, unknown>) =>
      request('imagine', { args: { prompt: 'a red square', ...args } });
    const cases: [Record<string, unknown>, string][] = [
      [{ steps: 0 }, '`steps` must be a whole number from 1 to 1000 (got 0).'],
      [{ steps: 1000 }, 'steps must be from 1 to 4 for turbo (got 1000).'],
      [{ steps: 1001 }, '`steps` must be a whole number from 1 to 1000 (got 1001).'],
      [
        { size: '99999x1' },
        'size 99999x1: width and height must be multiples of 64 from 64 to 1024, e.g. 512x512 or 768x512.',
      ],
      [
        { size: '4096x4096' },
        /^size 4096x4096 is too large: at most 1024 pixels a side/ as unknown as string,
      ],
      [{ seed: -1 }, `\`seed\` must be a whole number from 0 to ${MAX_SEED} (got -1).`],
      [{ seed: 'banana' }, `\`seed\` must be a whole number from 0 to ${MAX_SEED}.`],
      [{ seed: '1e400' }, `\`seed\` must be a whole number from 0 to ${MAX_SEED}.`],
      [{ count: 9 }, '`count` must be a whole number from 1 to 4 (got 9).'],
    ];
    for (const [args, text] of cases) {
      await refusedCase(world.app, imagine(args), { code: 'bad_option', text });
    }
    // Inline parameters are checked by the same rules.
    await refusedCase(world.app, imagine({ prompt: 'a red square --steps 0' }), {
      code: 'bad_option',
      text: '`steps` must be a whole number from 1 to 1000 (got 0).',
    });
  });
});
