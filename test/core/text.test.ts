import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { truncate } from '../../src/core/text.js';

describe('truncate', () => {
  it('leaves text that fits alone', () => {
    assert.equal(truncate('a red square', 12), 'a red square');
    assert.equal(truncate('', 1), '');
  });

  it('cuts at the last word boundary with an ellipsis, within the cap', () => {
    const out = truncate('Reroll the picture of a red square', 20);
    assert.equal(out, 'Reroll the picture…');
    assert.ok(out.length <= 20);
    assert.equal(truncate('first line\nsecond line', 15), 'first line…', 'a line break is a boundary');
  });

  it('never leaves a dangling comma or dash before the ellipsis', () => {
    assert.equal(truncate('red, green, blue, yellow, cyan', 19), 'red, green, blue…');
    assert.equal(truncate('alpha beta — gamma delta epsilon', 16), 'alpha beta…');
  });

  it('cuts hard when the last boundary would waste more than half the room', () => {
    assert.equal(truncate('a supercalifragilisticexpialidocious', 20), 'a supercalifragilis…');
    assert.equal(truncate('x'.repeat(5000), 100), `${'x'.repeat(99)}…`);
  });

  it('never splits a surrogate pair', () => {
    const emoji = '😀'.repeat(10); // two UTF-16 units each
    const out = truncate(emoji, 6);
    assert.equal(out, '😀😀…');
    assert.doesNotThrow(() => encodeURIComponent(out), 'no lone surrogate');
    assert.equal(truncate('😀😀', 1), '');
    assert.equal(truncate('ab😀', 2), 'a…');
  });

  it('refuses a cap below 1', () => {
    assert.throws(() => truncate('x', 0), RangeError);
    assert.throws(() => truncate('x', 2.5), RangeError);
  });
});
