import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { createApp } from '../../src/app.js';
import { similarCli } from '../../src/cli/similar.js';
import { loadConfig } from '../../src/config.js';
import { synthClip } from '../../src/demo/colourworld/index.js';
import { solidPng } from '../fakes/images.js';

const run = promisify(execFile);
let dir = '';
let models = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iris-cli-similar-'));
  models = join(dir, 'models');
  await synthClip(join(models, 'Xenova/clip-vit-base-patch32'));
  for (const [name, hex] of Object.entries({ red: '#ff0000', green: '#00ff00', blue: '#0000ff' }))
    await writeFile(join(dir, `${name}.png`), await solidPng(hex));
});

/** similarCli on an app like the `iris similar` action builds (channel opted in, index in the SQLite file). */
async function similar(image: string | undefined, flags: { channel: string; text?: string; json?: boolean }) {
  const config = loadConfig({
    env: {},
    overrides: {
      'models.dir': models,
      'memory.path': join(dir, 'data', 'iris.sqlite'),
      'log.level': 'silent',
      'imageIndex.channels': [flags.channel],
    },
  });
  const app = createApp(config);
  const out: string[] = [];
  const err: string[] = [];
  try {
    const code = await similarCli(app, image, { ...flags, out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out, err };
  } finally {
    await app.stop();
  }
}

test('iris similar stores images per channel in the SQLite file and finds them by image and by text', async () => {
  for (const name of ['red', 'green', 'blue']) {
    const r = await similar(join(dir, `${name}.png`), { channel: 'cli:a' });
    assert.equal(r.code, 0, r.err.join('\n'));
  }
  const byText = await similar(undefined, { channel: 'cli:a', text: 'red', json: true });
  assert.equal(byText.code, 0, byText.err.join('\n'));
  const { hits } = JSON.parse(byText.out[0] as string) as {
    hits: { name: string; link: string; score: number }[];
  };
  assert.equal(hits[0]?.name, join(dir, 'red.png'));
  assert.equal(hits[0]?.link, join(dir, 'red.png'), 'the absolute path is the link');
  const byImage = await similar(join(dir, 'blue.png'), { channel: 'cli:a' });
  assert.match(byImage.out[0] ?? '', /^1\.000\t.*blue\.png\t/);
  const elsewhere = await similar(undefined, { channel: 'cli:b', text: 'red', json: true });
  assert.deepEqual(JSON.parse(elsewhere.out[0] as string), { hits: [] }, 'another channel sees nothing');
});

test('iris similar: bad input exits 2 with one error line; the real binary parses the flags', async () => {
  const none = await similar(undefined, { channel: 'cli:a' });
  assert.equal(none.code, 2);
  assert.deepEqual(none.err, ['error: give an image file or --text, not both']);
  const missing = await similar(join(dir, 'nope.png'), { channel: 'cli:a' });
  assert.equal(missing.code, 2);
  assert.match(missing.err[0] ?? '', /nope\.png: no such file/);
  const child = await run(
    process.execPath,
    ['--import', 'tsx', 'src/cli/index.ts', 'similar', '--text', 'red', '--models', models, '--json'],
    { env: { ...process.env, IRIS_LOG_LEVEL: 'warn' } },
  ).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(child.code, 2, 'no --channel');
  assert.match(child.stderr, /--channel/);
});
