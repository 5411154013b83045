import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { argsOf, specFlags } from '../../src/cli/flags.js';
import { addTaskCommands } from '../../src/cli/tasks.js';
import { IMAGINE_OPTIONS } from '../../src/commands/imagine.js';
import { tagsCommand } from '../../src/commands/tags.js';
import { type AnyCommand, defineCommand } from '../../src/contracts/command.js';

function program(): Command {
  const p = new Command('iris').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  addTaskCommands(p);
  return p;
}

const flagsOf = (name: string) =>
  program()
    .commands.find((c) => c.name() === name)
    ?.options.map((o) => o.long) ?? [];

test("a task command's flags are its command's options (hidden ones and arguments left out), plus --models and --json", () => {
  const expected = IMAGINE_OPTIONS.filter((o) => !o.hidden && o.name !== 'prompt').map((o) => `--${o.name}`);
  assert.deepEqual(flagsOf('imagine'), [...expected, '--out', '--models', '--json']);
  assert.deepEqual(flagsOf('tag'), ['--labels', '--top', '--model', '--models', '--json']);
  assert.deepEqual(flagsOf('similar'), ['--text', '--top', '--channel', '--models', '--json']);
  assert.deepEqual(flagsOf('compare'), ['--question', '--backend', '--models', '--json']);
  for (const name of ['tag', 'imagine', 'caption', 'read', 'find', 'ask', 'compare', 'similar'])
    assert.equal(flagsOf(name).filter((f) => f === '--models').length, 1, name);
});

test('an option added to a spec is a flag at once, with numbers parsed and the request args named by the spec', () => {
  const spec: AnyCommand = defineCommand({
    name: 'demo',
    description: 'd',
    options: [
      { name: 'image', type: 'image', description: 'i', required: true },
      { name: 'max_words', type: 'integer', min: 1, description: 'w' },
      { name: 'ratio', type: 'number', description: 'r' },
      { name: 'style', type: 'string', choices: ['a', 'b'], description: 's' },
      { name: 'secret', type: 'string', hidden: true, description: 'h' },
    ],
    parse: async () => ({}),
    run: async () => ({}),
  });
  const cli = new Command('demo').exitOverride().configureOutput({ writeErr: () => {} });
  for (const f of specFlags(spec, ['image'])) cli.addOption(f);
  cli.parse(['--max-words', '7', '--ratio', '0.5', '--style', 'b'], { from: 'user' });
  assert.deepEqual(argsOf(spec, cli.opts(), ['image']), { max_words: 7, ratio: 0.5, style: 'b' });
  assert.deepEqual(
    cli.options.map((o) => o.flags),
    ['--max-words <n>', '--ratio <x>', '--style <text>'],
  );
  const strict = new Command('demo').exitOverride().configureOutput({ writeErr: () => {} });
  for (const f of specFlags(spec, ['image'])) strict.addOption(f);
  assert.throws(
    () => strict.parse(['--max-words', '0'], { from: 'user' }),
    /expected a whole number of at least 1/,
  );
});

test('the tag command takes its labels and top from the tags spec', () => {
  const cli = program().commands.find((c) => c.name() === 'tag') as Command;
  const labels = tagsCommand.options.find((o) => o.name === 'labels');
  assert.ok(labels);
  assert.match(cli.options.find((o) => o.long === '--labels')?.description ?? '', /Comma-separated labels/);
});
