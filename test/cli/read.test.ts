import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { synthFlorence2 } from '../../src/demo/colourworld/florence2.js';
import { runIris } from '../fakes/cli.js';
import { solidPng, textPng } from '../fakes/images.js';

/** The real CLI in a child process. */
const iris = (...args: string[]) => runIris(args);

let dir = '';
let models = '';
const LINE = 'Read this line 2026';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iris-cli-read-'));
  models = join(dir, 'models');
  const synth = await iris('models', 'synth', '--out', models);
  assert.equal(synth.code, 0, synth.stderr);
  const { png, inkFraction } = await textPng(LINE);
  assert.ok(
    inkFraction > 0.01,
    'no glyphs were drawn: install a font (CI: apt-get install fonts-dejavu-core)',
  );
  await writeFile(join(dir, 'line.png'), png);
  await writeFile(join(dir, 'blank.png'), await solidPng('#ffffff', 120));
  await writeFile(join(dir, 'green.png'), await solidPng('#00ff00', 40));
});

test('iris read --json prints {"text"} with the words of a rendered line (tesseract)', async () => {
  const res = await iris('read', join(dir, 'line.png'), '--json');
  assert.equal(res.code, 0, res.stderr);
  const out = JSON.parse(res.stdout.trim());
  assert.deepEqual(Object.keys(out), ['text']);
  assert.deepEqual(out.text.split(/\s+/), LINE.split(' '));
  const plain = await iris('read', join(dir, 'line.png'));
  assert.equal(plain.stdout.trim(), out.text);
});

test('no text: {"text":""} and exit 0; without --json a note on stderr and nothing on stdout', async () => {
  const json = await iris('read', join(dir, 'blank.png'), '--json');
  assert.equal(json.code, 0, json.stderr);
  assert.equal(json.stdout.trim(), '{"text":""}');
  const plain = await iris('read', join(dir, 'blank.png'));
  assert.equal(plain.code, 0);
  assert.equal(plain.stdout, '');
  assert.match(plain.stderr, /No text found in .*blank\.png\./);
});

test('--backend florence2 reads with Florence-2 <OCR> (the colour world reads the colour)', async () => {
  const res = await iris(
    'read',
    join(dir, 'green.png'),
    '--backend',
    'florence2',
    '--models',
    models,
    '--json',
  );
  assert.equal(res.code, 0, res.stderr);
  assert.deepEqual(JSON.parse(res.stdout), { text: 'green' });
});

test('--backend florence2 on a model that emits location tokens prints the text only; only tokens → no text found', async () => {
  const florence = 'onnx-community/Florence-2-base-ft';
  const mixed = join(dir, 'models-mixed');
  const only = join(dir, 'models-only');
  await synthFlorence2(join(mixed, florence), { controlTokens: 'mixed' });
  await synthFlorence2(join(only, florence), { controlTokens: 'only' });
  const read = (models: string, ...more: string[]) =>
    iris('read', join(dir, 'green.png'), '--backend', 'florence2', '--models', models, ...more);

  const clean = await read(mixed, '--json');
  assert.equal(clean.code, 0, clean.stderr);
  assert.deepEqual(JSON.parse(clean.stdout), { text: 'green' });
  const nothing = await read(only);
  assert.equal(nothing.code, 0, nothing.stderr);
  assert.equal(nothing.stdout, '');
  assert.match(nothing.stderr, /No text found in .*green\.png\./);
});

test('bad input and bad choices exit 2 with one clear line', async () => {
  const { png } = await textPng('x');
  await writeFile(join(dir, 'corrupt.png'), png.subarray(0, Math.floor(png.length / 2)));
  await writeFile(join(dir, 'notes.txt'), 'not an image');
  const cases: [string[], RegExp][] = [
    [[join(dir, 'corrupt.png')], /corrupt\.png.*(corrupt|truncated)/i],
    [[join(dir, 'notes.txt')], /notes\.txt is not an image/],
    [[join(dir, 'missing.png')], /missing\.png: no such file/],
    [
      [join(dir, 'line.png'), '--backend', 'nope'],
      /tasks\.read\.backend: unknown backend; valid backends: tesseract or florence2 — got "nope"/,
    ],
    [[join(dir, 'line.png'), '--model', 'xyz'], /npm install @tesseract\.js-data\/xyz/],
  ];
  for (const [args, message] of cases) {
    const res = await iris('read', ...args, '--json');
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
    const errLines = res.stderr.trim().split('\n');
    assert.equal(errLines.length, 1, res.stderr);
    assert.match(errLines[0] ?? '', /^error: /);
    assert.match(errLines[0] ?? '', message);
    assert.equal(res.stdout, '');
  }
});
