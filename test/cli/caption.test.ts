import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { GENERIC_ALT_TEXT } from '../../src/core/alttext.js';
import { synthFlorence2 } from '../../src/demo/colourworld/florence2.js';
import { runIris } from '../fakes/cli.js';
import { COLOURS, solidPng } from '../fakes/images.js';

/** The real CLI in a child process. */
const iris = (...args: string[]) => runIris(args);

let dir = '';
let models = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iris-cli-caption-'));
  models = join(dir, 'models');
  const synth = await iris('models', 'synth', '--out', models);
  assert.equal(synth.code, 0, synth.stderr);
  for (const [name, hex] of Object.entries(COLOURS))
    await writeFile(join(dir, `${name}.png`), await solidPng(hex, 50));
});

test('iris caption --json prints {"altText","caption"} naming the colour (colour-world Florence-2)', async () => {
  for (const name of ['red', 'white']) {
    const res = await iris('caption', join(dir, `${name}.png`), '--models', models, '--json');
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trim().split('\n');
    assert.equal(lines.length, 1);
    const out = JSON.parse(lines[0] as string);
    assert.deepEqual(Object.keys(out), ['altText', 'caption']);
    assert.equal(
      out.altText,
      `AI-generated: The image shows a plain ${name} background with nothing else in it.`,
    );
    assert.match(out.caption, new RegExp(`The colour is ${name},`));
  }
});

test('a Florence-2 that emits <loc_…>, <pad> and <unk> tokens gets clean alt text and caption; only tokens → the fallback', async () => {
  const florence = 'onnx-community/Florence-2-base-ft';
  const mixed = join(dir, 'models-mixed');
  const only = join(dir, 'models-only');
  await synthFlorence2(join(mixed, florence), { controlTokens: 'mixed' });
  await synthFlorence2(join(only, florence), { controlTokens: 'only' });

  const clean = await iris('caption', join(dir, 'red.png'), '--models', mixed, '--json');
  assert.equal(clean.code, 0, clean.stderr);
  assert.deepEqual(JSON.parse(clean.stdout), {
    altText: 'AI-generated: The image shows a plain red background with nothing else in it.',
    caption:
      'The image is filled with a single solid colour. The colour is red, and nothing else can be seen in the picture.',
  });

  // No readable caption and no tagger in that folder: the alt-text policy's generic text, never tokens.
  const fallback = await iris('caption', join(dir, 'red.png'), '--models', only, '--json');
  assert.equal(fallback.code, 0, fallback.stderr);
  assert.deepEqual(JSON.parse(fallback.stdout), {
    altText: `AI-generated: ${GENERIC_ALT_TEXT}`,
    caption: GENERIC_ALT_TEXT,
  });
});

test('a Florence-2 folder without its task prompts: the log names the key and the file, the reply does not', async () => {
  const models = join(dir, 'models-noprompts');
  const folder = join(models, 'onnx-community/Florence-2-base-ft');
  await synthFlorence2(folder);
  const file = join(folder, 'preprocessor_config.json');
  const { task_prompts_with_input: _, ...rest } = JSON.parse(await readFile(file, 'utf8'));
  await writeFile(file, JSON.stringify(rest));
  const res = await runIris(['caption', join(dir, 'red.png'), '--models', models, '--verbose'], {
    logLevel: 'error',
  });
  assert.equal(res.code, 2, res.stderr);
  const lines = res.stderr.trim().split('\n');
  const reply = lines.find((l) => l.startsWith('error: ')) ?? '';
  assert.match(reply, /The caption model \(onnx-community\/Florence-2-base-ft\) could not be loaded/);
  assert.ok(!reply.includes(folder), reply);
  const log = lines.filter((l) => l.startsWith('{')).join('\n');
  assert.ok(log.includes(`${file} has no task_prompts_with_input`), log);
});

test('iris caption without --json prints the alt text and the caption', async () => {
  const res = await iris('caption', join(dir, 'blue.png'), '--models', models);
  assert.equal(res.code, 0, res.stderr);
  const [alt, caption] = res.stdout.trim().split('\n');
  assert.match(alt ?? '', /^Alt text: AI-generated: .*\bblue\b/);
  assert.match(caption ?? '', /^Caption: .*\bblue\b/);
});

test('a corrupt image, a text file and a missing file exit 2 with one clear line; a missing model too', async () => {
  const red = await solidPng('#ff0000', 64);
  await writeFile(join(dir, 'corrupt.png'), red.subarray(0, Math.floor(red.length / 2)));
  await writeFile(join(dir, 'notes.txt'), 'this is not an image\n');
  const cases: [string, RegExp][] = [
    ['corrupt.png', /corrupt\.png.*(corrupt|truncated)/i],
    ['notes.txt', /notes\.txt is not an image/],
    ['missing.png', /missing\.png: no such file/],
  ];
  for (const [name, message] of cases) {
    const res = await iris('caption', join(dir, name), '--models', models, '--json');
    assert.equal(res.code, 2, `${name}: ${res.stderr}`);
    const errLines = res.stderr.trim().split('\n');
    assert.equal(errLines.length, 1, res.stderr);
    assert.match(errLines[0] ?? '', /^error: /);
    assert.match(errLines[0] ?? '', message);
    assert.equal(res.stdout, '');
  }
  const noModel = await iris('caption', join(dir, 'red.png'), '--models', join(dir, 'empty'));
  assert.equal(noModel.code, 2);
  assert.match(noModel.stderr, /^error: .*Florence-2-base-ft is not in .*iris models synth/);
  const usage = await iris('caption');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /missing required argument/);
});
