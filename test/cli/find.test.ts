import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import sharp from 'sharp';
import { BOX_COLOURS } from '../../src/core/draw-boxes.js';
import { runIris } from '../fakes/cli.js';
import { splitPng } from '../fakes/split.js';

/** The real CLI in a child process, on the colour-world models. */
const iris = (...args: string[]) => runIris(args);

let dir = '';
let models = '';
let image = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iris-cli-find-'));
  models = join(dir, 'models');
  const synth = await iris('models', 'synth', '--out', models);
  assert.equal(synth.code, 0, synth.stderr);
  image = join(dir, 'green-red.png');
  await writeFile(image, await splitPng('#00ff00', '#ff0000', { width: 80, height: 60 }));
});

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

test('iris find --json boxes the right half for "red" and draws it into --out (colour-world Florence-2)', async () => {
  const out = join(dir, 'found.png');
  const res = await iris('find', image, 'red', '--out', out, '--models', models, '--json');
  assert.equal(res.code, 0, res.stderr);
  const lines = res.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const parsed = JSON.parse(lines[0] as string);
  assert.equal(parsed.object, 'red');
  assert.equal(parsed.file, out);
  assert.equal(parsed.boxes.length, 1);
  const [hit] = parsed.boxes;
  assert.equal(hit.label, 'red');
  assert.equal(hit.where, 'right half (x 50–100%, y 0–100%)');
  for (const [k, v] of Object.entries({ x1: 40, y1: 0, x2: 80, y2: 60 })) {
    assert.ok(Math.abs(hit.box[k] - v) <= 1.5, `${k}: ${hit.box[k]} ≠ ${v}`);
  }
  const { data, info } = await sharp(await readFile(out))
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [80, 60]);
  const at = (x: number, y: number) => [...data.subarray((y * 80 + x) * 3, (y * 80 + x) * 3 + 3)];
  const yellow = [0xff, 0xff, 0x00];
  assert.equal(BOX_COLOURS[0], '#ffff00');
  assert.deepEqual(at(41, 40), yellow, 'the outline on the box’s left edge');
  assert.deepEqual(at(60, 40), [255, 0, 0], 'inside stays red');
  assert.deepEqual(at(20, 40), [0, 255, 0], 'the green half is untouched');
});

test('iris find without --json prints one line per box', async () => {
  const out = join(dir, 'left.png');
  const res = await iris('find', image, 'green', '--out', out, '--models', models);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout.trim(), 'green: left half (x 0–50%, y 0–100%)');
  assert.ok(await exists(out));
});

test('nothing found: exit 0, no file, a note on stderr (plain) or "file": null (--json)', async () => {
  const out = join(dir, 'none.png');
  const plain = await iris('find', image, 'blue', '--out', out, '--models', models);
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(plain.stdout, '');
  assert.match(plain.stderr, /Found no "blue" in .*green-red\.png\./);
  const json = await iris('find', image, 'blue', '--out', out, '--models', models, '--json');
  assert.deepEqual(JSON.parse(json.stdout), { object: 'blue', boxes: [], file: null });
  assert.equal(await exists(out), false);
});

test('bad input exits 2 with one clear line: missing file, over-long object, < >, no --out, unwritable --out', async () => {
  const out = join(dir, 'x.png');
  const cases: [string[], RegExp][] = [
    [['find', join(dir, 'missing.png'), 'red', '--out', out], /missing\.png: no such file/],
    [['find', image, 'x'.repeat(101), '--out', out], /`object` is too long/],
    [['find', image, 'red<loc_1>', '--out', out], /cannot contain < or >/],
    [
      ['find', image, 'red', '--out', join(dir, 'no-such-dir', 'x.png')],
      /cannot write .*no-such-dir.*ENOENT/,
    ],
  ];
  for (const [args, message] of cases) {
    const res = await iris(...args, '--models', models);
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
    const errLines = res.stderr.trim().split('\n');
    assert.equal(errLines.length, 1, res.stderr);
    assert.match(errLines[0] ?? '', /^error: /);
    assert.match(errLines[0] ?? '', message);
  }
  const usage = await iris('find', image, 'red');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--out/);
});
