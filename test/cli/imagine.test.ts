import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { synthAll } from '../../src/demo/colourworld/index.js';
import { dominant } from '../fakes/colours.js';

const run = promisify(execFile);

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

let dir = '';
let models = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iris-cli-imagine-'));
  models = join(dir, 'models');
  await synthAll(models);
  // each run keeps its memory in this test's own folder
  await writeFile(
    join(dir, 'iris.yaml'),
    `memory:\n  store: memory\n  path: ${join(dir, 'memory.sqlite')}\n`,
  );
});

test('iris imagine --json writes the PNG and prints file, seed and alt text; same seed → same bytes', async () => {
  const a = join(dir, 'a.png');
  const b = join(dir, 'b.png');
  const common = ['--seed', '7', '--size', '192x128', '--models', models, '--json'];
  const [ra, rb] = await Promise.all([
    iris('imagine', 'a red square', '--out', a, ...common),
    iris('imagine', 'a red square', '--out', b, ...common),
  ]);
  assert.equal(ra.code, 0, ra.stderr);
  assert.equal(rb.code, 0, rb.stderr);
  assert.deepEqual(JSON.parse(ra.stdout), {
    file: a,
    seed: 7,
    altText:
      'AI-generated: The image shows a plain red background with nothing else in it. Prompt: a red square',
  });
  const [pa, pb] = await Promise.all([readFile(a), readFile(b)]);
  assert.ok(pa.equals(pb), 'byte-identical across processes');
  assert.equal((await dominant(pa)).colour, 'red');
});

test('iris imagine with v1-5, a negative prompt and two images writes FILE and FILE-2', async () => {
  const out = join(dir, 'blue.png');
  const res = await iris(
    'imagine',
    'a blue square',
    '--model',
    'v1-5',
    '--steps',
    '4',
    '--negative',
    'red',
    '--count',
    '2',
    '--seed',
    '40',
    '--size',
    '128x128',
    '--out',
    out,
    '--models',
    models,
  );
  assert.equal(res.code, 0, res.stderr);
  const second = join(dir, 'blue-2.png');
  assert.deepEqual(res.stdout.trim().split('\n'), [`${out}: seed 40`, `${second}: seed 41`]);
  assert.match(res.stderr, /"a blue square" — seed 40, 41, 4 steps, PNDM, guidance 7\.5, v1-5, 128x128/);
  assert.equal((await dominant(await readFile(second))).colour, 'blue');
});

test('iris imagine: user errors exit 2 with one line on stderr', async () => {
  const out = join(dir, 'x.png');
  const cases: [string[], RegExp][] = [
    [['a red square', '--size', '4096x4096'], /^error: size 4096x4096 is too large/],
    [['a red square', '--steps', '1000'], /^error: steps must be from 1 to 4 for turbo/],
    [['--', '--ar 3:2'], /^error: Describe the picture you want/],
  ];
  for (const [args, message] of cases) {
    const res = await iris('imagine', '--out', out, '--models', models, ...args);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, message);
    assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
  }
});
