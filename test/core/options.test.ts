import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineCommand } from '../../src/contracts/command.js';
import { validateArgs } from '../../src/core/options.js';

const command = defineCommand({
  name: 'demo',
  description: 'demo',
  options: [
    { name: 'image', type: 'image', description: 'img', required: true },
    { name: 'prompt', type: 'string', description: 'what to draw', required: true, maxLength: 10 },
    { name: 'steps', type: 'integer', description: 'steps', min: 1, max: 4 },
    { name: 'scale', type: 'number', description: 'scale', min: 0 },
    { name: 'mode', type: 'string', description: 'mode', choices: ['on', 'off'] },
    { name: 'fast', type: 'boolean', description: 'fast' },
  ],
  parse: async () => ({}),
  run: async () => ({}),
});

test('values are coerced from text (Slack, CLI) and checked', () => {
  assert.deepEqual(
    validateArgs(command, { prompt: ' cat ', steps: '3', scale: '1.5', mode: 'on', fast: 'yes' }, 1),
    {
      prompt: 'cat',
      steps: 3,
      scale: 1.5,
      mode: 'on',
      fast: true,
    },
  );
});

test('each bad value names the option and the allowed range or choices', () => {
  const bad: [Record<string, unknown>, number, RegExp][] = [
    [{ prompt: 'x', nope: 1 }, 1, /no option `nope`\. Valid options: prompt, steps, scale, mode or fast\./],
    [{}, 1, /\/demo needs `prompt`/],
    [{ prompt: 'x'.repeat(11) }, 1, /`prompt` is too long \(11 characters; at most 10\)/],
    [{ prompt: 'x', steps: '2.5' }, 1, /`steps` must be a whole number from 1 to 4/],
    [{ prompt: 'x', steps: 9 }, 1, /from 1 to 4 \(got 9\)/],
    [{ prompt: 'x', scale: 'big' }, 1, /`scale` must be a number of at least 0/],
    [{ prompt: 'x', mode: 'maybe' }, 1, /`mode` must be on or off/],
    [{ prompt: 'x', fast: 'perhaps' }, 1, /`fast` must be true or false/],
    [{ prompt: 'x' }, 0, /needs an image/],
  ];
  for (const [args, images, message] of bad) {
    assert.throws(
      () => validateArgs(command, args, images),
      (e: unknown) => {
        assert.match((e as Error).message, message);
        assert.equal((e as { code?: string }).code, 'bad_option');
        return true;
      },
    );
  }
});
