import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  altTextLimit,
  buildAltText,
  describe as describeSource,
  GENERIC_ALT_TEXT,
  normaliseText,
  PLATFORM_ALT_TEXT_LIMITS,
  trimToLength,
} from '../../src/core/alttext.js';

const NO_LABEL = { maxLength: 300, label: '' };

describe('altTextLimit', () => {
  it('takes the smaller of the configured length and the platform cap', () => {
    assert.equal(PLATFORM_ALT_TEXT_LIMITS.discord, 1024);
    assert.equal(PLATFORM_ALT_TEXT_LIMITS.slack, 1000);
    assert.equal(altTextLimit({ maxLength: 5000 }, 'discord'), 1024);
    assert.equal(altTextLimit({ maxLength: 5000 }, 'slack'), 1000);
    assert.equal(altTextLimit({ maxLength: 1024 }, 'slack'), 1000);
    assert.equal(altTextLimit({ maxLength: 300 }, 'discord'), 300);
    assert.equal(altTextLimit({ maxLength: 300 }, 'slack'), 300);
  });
  it('uses the configured length for platforms without a cap, and rejects nonsense', () => {
    assert.equal(altTextLimit({ maxLength: 5000 }, 'cli'), 5000);
    assert.equal(altTextLimit({ maxLength: 77 }), 77);
    assert.throws(() => altTextLimit({ maxLength: 0 }), RangeError);
    assert.throws(() => altTextLimit({ maxLength: 2.5 }), RangeError);
  });
});

describe('describe (the untrimmed description)', () => {
  it('uses the caption, normalised and capitalised', () => {
    assert.equal(describeSource({ caption: '  a red\n\ncar \t parked. ' }), 'A red car parked.');
    assert.equal(describeSource({ caption: 'ärger', tags: ['x'] }), 'Ärger');
  });
  it('falls back to the tags when the caption is empty or blank, then to a generic text', () => {
    assert.equal(describeSource({ caption: '', tags: ['red'] }), 'An image that may show red.');
    assert.equal(
      describeSource({ caption: ' \n ', tags: ['red', 'car'] }),
      'An image that may show red and car.',
    );
    assert.equal(
      describeSource({ tags: ['red', ' car ', 'red', '', 'tree'] }),
      'An image that may show red, car and tree.',
    );
    assert.equal(describeSource({ caption: '', tags: [' ', ''] }), GENERIC_ALT_TEXT);
    assert.equal(describeSource({}), GENERIC_ALT_TEXT);
  });
  it('drops control characters', () => {
    assert.equal(normaliseText('a\u0000b\u0007c\u001bd\u009fe'), 'abcde');
    assert.equal(normaliseText('line one\r\nline two'), 'line one line two');
  });
});

describe('trimToLength', () => {
  const text = 'A red car is parked on a street. Behind it stands a tall yellow building with many windows.';

  it('leaves text that fits alone', () => {
    assert.equal(trimToLength(text, text.length), text);
    assert.equal(trimToLength('Short.', 100), 'Short.');
  });
  it('cuts at the last sentence end that keeps at least half the room', () => {
    assert.equal(trimToLength(text, 60), 'A red car is parked on a street.');
    assert.equal(
      trimToLength('One. Two! Three? Four five six seven eight nine ten.', 20),
      'One. Two! Three?',
    );
  });
  it('cuts at a word boundary with an ellipsis when the sentence end would waste more than half the room', () => {
    const out = trimToLength(text, 80);
    // the first sentence (32 characters) is less than half of 80, so the cut is at a word
    assert.equal(out, 'A red car is parked on a street. Behind it stands a tall yellow building with…');
    assert.ok(out.length <= 80);
    const noSentence = 'a very long description without any full stop in it at all whatsoever';
    assert.equal(trimToLength(noSentence, 30), 'a very long description…');
  });
  it('never leaves a dangling comma or dash before the ellipsis', () => {
    assert.equal(trimToLength('red, green, blue, yellow, cyan', 19), 'red, green, blue…');
    assert.equal(trimToLength('alpha beta — gamma delta epsilon', 16), 'alpha beta…');
  });
  it('cuts a single long word hard, never inside a surrogate pair', () => {
    assert.equal(trimToLength('abcdefghijklmnopqrstuvwxyz', 10), 'abcdefghi…');
    const emoji = '😀'.repeat(10); // each is two UTF-16 units
    const out = trimToLength(emoji, 6);
    assert.ok(out.length <= 6);
    assert.equal(out, '😀😀…');
    assert.doesNotThrow(() => encodeURIComponent(out), 'no lone surrogate');
    assert.equal(trimToLength('😀😀', 1), '');
    assert.throws(() => trimToLength('x', 0), RangeError);
  });
});

describe('buildAltText', () => {
  it('puts the label in front with one space and counts it', () => {
    const policy = { maxLength: 40, label: 'AI-generated:' };
    assert.equal(
      buildAltText({ caption: 'A solid red image.' }, { policy }),
      'AI-generated: A solid red image.',
    );
    const long = buildAltText(
      { caption: 'A red car is parked on a street. Behind it stands a tall building.' },
      { policy },
    );
    assert.equal(long, 'AI-generated: A red car is parked on a…');
    assert.ok(long.length <= 40);
    assert.equal(
      buildAltText({ caption: 'x' }, { policy: { maxLength: 40, label: '  AI:  ' } }),
      'AI: X',
      'label normalised',
    );
  });
  it('leaves out a label that would take more than half of the room', () => {
    const policy = { maxLength: 20, label: 'AI-generated description:' };
    assert.equal(buildAltText({ caption: 'A solid red image.' }, { policy }), 'A solid red image.');
  });
  it('applies the platform cap when it is below the configured length', () => {
    const caption = `${'word '.repeat(400)}end.`;
    const policy = { maxLength: 1024, label: 'AI:' };
    const discord = buildAltText({ caption }, { policy, platform: 'discord' });
    const slack = buildAltText({ caption }, { policy, platform: 'slack' });
    assert.ok(discord.length <= 1024 && discord.length > 1000, `${discord.length}`);
    assert.ok(slack.length <= 1000 && slack.length > 990, `${slack.length}`);
    assert.ok(slack.startsWith('AI: Word word'));
    assert.ok(slack.endsWith('word…'));
  });
  it('is never empty and never longer than the limit (many texts, many limits)', () => {
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pieces = [
      'red',
      'car.',
      'a',
      'very-long-hyphenated-word',
      '😀',
      ',',
      'Hello!',
      '\n',
      '  ',
      'é',
      'x'.repeat(50),
    ];
    for (let i = 0; i < 500; i++) {
      const words = Array.from(
        { length: Math.floor(rand() * 60) },
        () => pieces[Math.floor(rand() * pieces.length)],
      );
      const caption = words.join(rand() < 0.5 ? ' ' : '');
      const maxLength = 20 + Math.floor(rand() * 200);
      const label = rand() < 0.5 ? 'AI-generated:' : '';
      const platform = rand() < 0.5 ? 'slack' : 'discord';
      const tags = rand() < 0.5 ? ['red', 'car'] : [];
      const out = buildAltText({ caption, tags }, { policy: { maxLength, label }, platform });
      assert.ok(out.trim().length > 0, `empty for ${JSON.stringify(caption)}`);
      assert.ok(out.length <= maxLength, `${out.length} > ${maxLength}: ${JSON.stringify(out)}`);
      assert.doesNotThrow(() => encodeURIComponent(out), `lone surrogate in ${JSON.stringify(out)}`);
      assert.ok(!/\s{2}/.test(out), 'whitespace collapsed');
    }
  });
  it('falls back to tags, then to the generic text', () => {
    assert.equal(
      buildAltText({ caption: '', tags: ['red', 'square'] }, { policy: NO_LABEL }),
      'An image that may show red and square.',
    );
    assert.equal(buildAltText({ caption: '   ' }, { policy: NO_LABEL }), GENERIC_ALT_TEXT);
  });
});
