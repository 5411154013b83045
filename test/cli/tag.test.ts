import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { runIris } from '../fakes/cli.js';
import { COLOURS, pngDeclaring, solidPng } from '../fakes/images.js';

/** The real CLI in a child process. */
const iris = (...args: string[]) => runIris(args, { logLevel: 'warn' });

let dir = '';
let models = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iris-cli-'));
  models = join(dir, 'models');
  const synth = await iris('models', 'synth', '--out', models);
  assert.equal(synth.code, 0, synth.stderr);
  for (const [name, hex] of Object.entries(COLOURS))
    await writeFile(join(dir, `${name}.png`), await solidPng(hex));
});

test('iris tag ranks the matching colour first for every colour-world colour', async () => {
  const names = Object.keys(COLOURS);
  const files = names.map((n) => join(dir, `${n}.png`));
  const res = await iris('tag', ...files, '--labels', names.join(','), '--models', models, '--json');
  assert.equal(res.code, 0, res.stderr);
  const lines = res.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, names.length);
  lines.forEach((line, i) => {
    assert.equal(line.file, files[i]);
    assert.equal(
      line.labels[0].label,
      names[i],
      `${names[i]}.png → ${JSON.stringify(line.labels.slice(0, 2))}`,
    );
    const scores = line.labels.map((l: { score: number }) => l.score);
    assert.deepEqual(
      scores,
      [...scores].sort((a, b) => b - a),
      'sorted by score',
    );
    assert.ok(
      Math.abs(scores.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-4,
      'softmax scores sum to 1',
    );
  });
});

test('iris tag on a folder tags every image in it; without --json it prints one line per image', async () => {
  const res = await iris(
    'tag',
    dir,
    '--labels',
    'red,green,blue,yellow,black,white',
    '--models',
    models,
    '--top',
    '1',
  );
  assert.equal(res.code, 0, res.stderr);
  const lines = res.stdout.trim().split('\n');
  assert.equal(lines.length, Object.keys(COLOURS).length);
  assert.ok(
    lines.some((l) => /red\.png: red \d+%$/.test(l)),
    res.stdout,
  );
});

test('a corrupt file, a text file and a 30000×30000 PNG each exit 2 with one clear line', async () => {
  const red = await solidPng('#ff0000', 64);
  const cases: [string, Buffer, RegExp][] = [
    ['corrupt.png', red.subarray(0, Math.floor(red.length / 2)), /corrupt\.png.*(corrupt|truncated)/i],
    ['notes.txt', Buffer.from('this is not an image\n'), /notes\.txt is not an image/],
    ['huge.png', await pngDeclaring(30000, 30000), /huge\.png.*30000.?×.?30000|30000x30000/],
  ];
  for (const [name, bytes, message] of cases) {
    const file = join(dir, name);
    await writeFile(file, bytes);
    const res = await iris('tag', file, '--labels', 'red,green', '--models', models);
    assert.equal(res.code, 2, `${name}: ${res.stderr}`);
    const errLines = res.stderr.trim().split('\n');
    assert.equal(errLines.length, 1, res.stderr);
    assert.match(errLines[0] ?? '', /^error: /);
    assert.match(errLines[0] ?? '', message);
    assert.equal(res.stdout, '');
  }
});

test('one bad file among good ones: the good ones are still tagged, exit 2', async () => {
  const bad = join(dir, 'bad.txt');
  await writeFile(bad, 'nope');
  const res = await iris(
    'tag',
    join(dir, 'red.png'),
    bad,
    join(dir, 'blue.png'),
    '--labels',
    'red,blue',
    '--models',
    models,
    '--json',
  );
  assert.equal(res.code, 2);
  const tagged = res.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).labels[0].label);
  assert.deepEqual(tagged, ['red', 'blue']);
  assert.match(res.stderr, /bad\.txt is not an image/);
});

test('usage errors and a missing model exit 2 naming the fix', async () => {
  const noArgs = await iris('tag');
  assert.equal(noArgs.code, 2);
  assert.match(noArgs.stderr, /missing required argument/);
  const missing = await iris('tag', join(dir, 'red.png'), '--labels', 'red', '--models', join(dir, 'empty'));
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error: .*is not in .*iris models synth/);
});
