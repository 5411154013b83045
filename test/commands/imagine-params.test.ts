import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeImagineButton,
  encodeImagineButton,
  type ImagineButtonParams,
  MAX_BUTTON_ID,
  promptHash,
} from '../../src/commands/imagine-buttons.js';
import {
  findBlocked,
  imagineAltText,
  parseInlineParams,
  parseSize,
  sizeForAspect,
} from '../../src/commands/imagine-params.js';
import { isUserError } from '../../src/errors.js';

const limits = { maxSide: 1024, maxPixels: 1024 * 1024 };
const userError = (re: RegExp) => (e: unknown) => isUserError(e) && re.test(e.message);

describe('inline parameters', () => {
  it('splits Midjourney-style parameters off the prompt', () => {
    assert.deepEqual(parseInlineParams('a castle at dusk --ar 3:2 --seed 7 --no text, watermark'), {
      prompt: 'a castle at dusk',
      params: { ar: '3:2', seed: '7', negative: 'text, watermark' },
    });
  });

  it('accepts phone dashes, aliases and repeated --no', () => {
    assert.deepEqual(parseInlineParams('a cat —aspect 16:9 --no text --cfg 5 --no blur'), {
      prompt: 'a cat',
      params: { ar: '16:9', negative: 'text, blur', guidance: '5' },
    });
  });

  it('leaves hyphenated words and a prompt without parameters alone', () => {
    assert.deepEqual(parseInlineParams('a well-lit room -- quiet'), {
      prompt: 'a well-lit room -- quiet',
      params: {},
    });
  });

  it('unknown parameters and missing values are clear errors', () => {
    assert.throws(
      () => parseInlineParams('a cat --stylize 100'),
      userError(/Unknown parameter --stylize\. Parameters: --ar/),
    );
    assert.throws(() => parseInlineParams('a cat --seed'), userError(/--seed needs a value/));
  });
});

describe('sizes', () => {
  it('parses WxH within the limits', () => {
    assert.deepEqual(parseSize('768x512', limits), { width: 768, height: 512 });
    assert.deepEqual(parseSize(' 512 × 512 ', limits), { width: 512, height: 512 });
  });

  it('refuses sizes that are too large, not multiples of 64 or malformed, naming the allowed range', () => {
    assert.throws(
      () => parseSize('4096x4096', limits),
      userError(/4096x4096 is too large: at most 1024 pixels a side/),
    );
    assert.throws(() => parseSize('1024x1088', limits), userError(/too large/));
    assert.throws(() => parseSize('500x500', limits), userError(/multiples of 64 from 64 to 1024/));
    assert.throws(() => parseSize('big', limits), userError(/must look like 512x512/));
  });

  it('--ar keeps the area of the base size, in multiples of 64', () => {
    const base = { width: 512, height: 512 };
    assert.deepEqual(sizeForAspect('1:1', base, limits), base);
    assert.deepEqual(sizeForAspect('16:9', base, limits), { width: 704, height: 384 });
    assert.deepEqual(sizeForAspect('2:3', base, limits), { width: 448, height: 640 });
    assert.deepEqual(sizeForAspect('4:1', { width: 1024, height: 1024 }, limits), {
      width: 1024,
      height: 256,
    });
    assert.throws(() => sizeForAspect('10:1', base, limits), userError(/between 1:4 and 4:1/));
    assert.throws(() => sizeForAspect('wide', base, limits), userError(/width:height/));
  });
});

describe('blocklist and alt text', () => {
  it('matches whole words and phrases, ignoring case and punctuation', () => {
    const list = ['gore', 'red dragon'];
    assert.equal(findBlocked('A scene of GORE!', list), 'gore');
    assert.equal(findBlocked('a red, dragon', list), 'red dragon');
    assert.equal(findBlocked('a gorey Gorenje kitchen', list), undefined);
    assert.equal(findBlocked('a red square', list), undefined);
  });

  it('labels the prompt as AI-generated under the alt-text policy, shortened at a word boundary', () => {
    const policy = { label: 'AI-generated:', maxLength: 40 };
    assert.equal(imagineAltText({ prompt: 'a  red\nsquare' }, { policy }), 'AI-generated: A red square');
    const long = imagineAltText(
      { prompt: 'a very long prompt about a castle on a hill at dusk' },
      { policy },
    );
    assert.ok(long.length <= 40, long);
    assert.match(long, /^AI-generated: A very long prompt about.*…$/);
    assert.equal(
      imagineAltText({ prompt: 'a cat' }, { policy: { ...policy, maxLength: 80 }, index: 1, count: 3 }),
      'AI-generated: A cat (image 2 of 3)',
    );
    const huge = imagineAltText(
      { prompt: 'word '.repeat(400) },
      {
        policy: { label: 'AI-generated:', maxLength: 1024 },
        platform: 'slack',
      },
    );
    assert.ok(huge.length <= 1000, `slack cap: ${huge.length}`);
  });

  it('says what the picture shows first, then the prompt; the caption survives a tight cap', () => {
    const policy = { label: 'AI-generated:', maxLength: 200 };
    assert.equal(
      imagineAltText(
        { prompt: 'a lighthouse at dusk', caption: 'grey noise on a dark background' },
        { policy },
      ),
      'AI-generated: Grey noise on a dark background. Prompt: a lighthouse at dusk',
    );
    const tight = imagineAltText(
      { prompt: `a lighthouse ${'very '.repeat(20)}far away`, caption: 'Grey noise on a dark background.' },
      { policy: { ...policy, maxLength: 70 } },
    );
    assert.equal(tight, 'AI-generated: Grey noise on a dark background.');
    assert.equal(
      imagineAltText({ prompt: 'a cat', caption: '  ' }, { policy }),
      'AI-generated: A cat',
      'no caption: the prompt alone',
    );
  });
});

describe('button ids', () => {
  const params: ImagineButtonParams = {
    prompt: 'a red square',
    negative: 'blue',
    steps: 25,
    guidance: 7.5,
    width: 768,
    height: 512,
    count: 2,
    model: 'v1-5',
    scheduler: 'ddim',
  };

  it('reroll carries every option but the seed', () => {
    const { id, store } = encodeImagineButton(params, { action: 'reroll' });
    assert.equal(store, undefined);
    assert.ok(id.startsWith('imagine:reroll:') && id.length <= MAX_BUTTON_ID, id);
    assert.deepEqual(decodeImagineButton(id), {
      command: 'imagine',
      args: {
        prompt: 'a red square',
        negative: 'blue',
        steps: 25,
        guidance: 7.5,
        size: '768x512',
        count: 2,
        model: 'v1-5',
        scheduler: 'ddim',
      },
    });
  });

  it('vary carries the source seed and strength, count 1', () => {
    const { id } = encodeImagineButton(
      { ...params, negative: undefined, scheduler: undefined },
      { action: 'vary', seed: 4294967295, strength: 0.6 },
    );
    const { args } = decodeImagineButton(id);
    assert.equal(args.variation_of, 4294967295);
    assert.equal(args.strength, 0.6);
    assert.equal(args.count, 1);
    assert.equal(args.negative, undefined);
    assert.equal(args.scheduler, undefined);
  });

  it('a long prompt is cut to fit 100 characters, with a hash of the full texts', () => {
    const prompt = `a château on a hill, ${'very detailed, '.repeat(20)}golden hour ☀`;
    const { id, store } = encodeImagineButton(
      { ...params, prompt },
      { action: 'vary', seed: 7, strength: 0.5 },
    );
    assert.ok(id.length <= MAX_BUTTON_ID, `${id.length}`);
    assert.ok(store);
    assert.equal(store.prompt, prompt);
    assert.equal(store.negative, 'blue');
    const { args } = decodeImagineButton(id);
    assert.ok(prompt.startsWith(String(args.prompt)) && String(args.prompt).length > 20, String(args.prompt));
    assert.equal(args.prompt_hash, promptHash(prompt, 'blue'));
    assert.equal(store.key, `imagine-prompt:${args.prompt_hash}`);
  });

  it('unreadable ids are a user error', () => {
    for (const id of ['imagine:reroll:', 'imagine:zap:AAAA', 'imagine:reroll:AAAA', 'other']) {
      assert.throws(() => decodeImagineButton(id), userError(/not one iris can read/), id);
    }
    const { id } = encodeImagineButton(params, { action: 'reroll' });
    assert.throws(
      () => decodeImagineButton(id.replace('reroll', 'vary')),
      userError(/not one iris can read/),
    );
  });
});
