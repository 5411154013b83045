/**
 * `iris check IMAGE [--json]` (the real nsfwjs model) and `iris verify FILE` (the provenance iris wrote),
 * run as the operator runs them: a child process of the CLI.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { readPngText, withPngText } from '../../src/core/provenance/png-text.js';
import { synthAll } from '../../src/demo/colourworld/index.js';

const run = promisify(execFile);
let dir = '';
let models = '';

async function iris(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const cli = ['--import', 'tsx', 'src/cli/index.ts', '--config', join(dir, 'iris.yaml')];
    const { stdout, stderr } = await run(process.execPath, [...cli, ...args], {
      env: { ...process.env, IRIS_LOG_LEVEL: 'warn' },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iris-cli-check-'));
  models = join(dir, 'models');
  await synthAll(models);
  await writeFile(
    join(dir, 'iris.yaml'),
    `memory:\n  store: memory\nprovenance:\n  c2pa:\n    credentialsDir: ${join(dir, 'c2pa')}\n`,
  );
  await sharp({ create: { width: 64, height: 64, channels: 3, background: '#2060c0' } })
    .png()
    .toFile(join(dir, 'blue.png'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('iris check --json prints the file, safe and every class score; plain output lists them', async () => {
  const file = join(dir, 'blue.png');
  const json = await iris('check', file, '--json');
  assert.equal(json.code, 0, json.stderr);
  const row = JSON.parse(json.stdout) as { file: string; safe: boolean; scores: Record<string, number> };
  assert.equal(row.file, file);
  assert.equal(row.safe, true);
  assert.deepEqual(Object.keys(row.scores).sort(), ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']);
  const plain = await iris('check', file);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /blue\.png: safe \(Porn\+Hentai\+Sexy 0\.\d{4} < 0\.7; nsfwjs MobileNetV2\)/);
  assert.match(plain.stdout, /\n {2}Neutral +0\.\d{4}/);

  const again = await iris('check', file, '--json');
  assert.equal(again.stdout, json.stdout, 'same image, same scores');
});

test('iris check: a file that is not an image, or is missing, is a user error (exit 2)', async () => {
  await writeFile(join(dir, 'notes.txt'), 'hello');
  const bad = await iris('check', join(dir, 'notes.txt'));
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim(), 'error: That file could not be read as an image.');
  const missing = await iris('check', join(dir, 'nope.png'));
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr.trim(), 'error: Cannot read nope.png: ENOENT.');
});

test('iris verify reads back what iris imagine wrote; other PNGs have no iris provenance (exit 2)', async () => {
  const out = join(dir, 'drawn.png');
  const drawn = await iris(
    'imagine',
    'a red square',
    '--out',
    out,
    '--seed',
    '5',
    '--size',
    '64x64',
    '--models',
    models,
  );
  assert.equal(drawn.code, 0, drawn.stderr);
  const verified = await iris('verify', out, '--json');
  assert.equal(verified.code, 0, verified.stderr);
  assert.deepEqual(JSON.parse(verified.stdout), {
    file: out,
    iris: true,
    aiGenerated: true,
    digitalSourceType: 'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia',
    generator: 'iris',
    model: 'onnxruntime/sd-turbo',
    seed: 5,
    prompt: 'a red square',
    parameters: readPngText(await readFile(out)).parameters,
    c2pa: {
      valid: true,
      failures: [],
      signer: 'CN=iris, O=iris (local signing certificate)',
      digitalSourceType: 'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia',
      softwareAgent: 'iris',
      description: 'model onnxruntime/sd-turbo, seed 5',
    },
  });
  const plain = await iris('verify', out);
  assert.match(
    plain.stdout,
    /made by iris, marked AI-generated \(IPTC digital source type trainedAlgorithmicMedia\)/,
  );
  assert.match(plain.stdout, /seed: {3}5/);
  assert.match(plain.stdout, /C2PA: {3}signed manifest valid/);

  // Edited pixels: the XMP still says iris, the signed manifest says the file changed.
  const bytes = await readFile(out);
  const at = bytes.indexOf('IDAT') + 10;
  bytes[at] = (bytes[at] as number) ^ 0xff;
  await writeFile(join(dir, 'edited.png'), bytes);
  const edited = await iris('verify', join(dir, 'edited.png'));
  assert.equal(edited.code, 2);
  assert.match(
    edited.stderr,
    /^error: edited\.png has changed since iris signed it \(C2PA: .*assertion\.dataHash\.mismatch/,
  );

  const other = await iris('verify', join(dir, 'blue.png'));
  assert.equal(other.code, 2);
  assert.equal(other.stderr.trim(), 'error: blue.png carries no provenance from iris.');
  // A parameters text alone proves nothing: any tool can write one.
  const forged = withPngText(await readFile(join(dir, 'blue.png')), {
    parameters: 'x\nSeed: 1',
    Software: 'iris',
  });
  await writeFile(join(dir, 'forged.png'), forged);
  const f = await iris('verify', join(dir, 'forged.png'));
  assert.equal(f.code, 2);
  assert.match(f.stderr, /carries no provenance from iris \(only a parameters text/);
  const notPng = await iris('verify', join(dir, 'notes.txt'));
  assert.equal(notPng.code, 2);
  assert.equal(notPng.stderr.trim(), 'error: notes.txt is not a PNG file (iris writes PNG).');
});
