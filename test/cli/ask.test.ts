import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { synthAll } from '../../src/demo/colourworld/index.js';
import { solidPng } from '../fakes/images.js';
import { completion, startFakeOpenAI } from '../fakes/openai.js';
import { SECRETS } from '../fakes/secrets.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'src/cli/index.ts'];

let dir = '';
let models = '';
let config = '';

/** Runs the real CLI in a child process; returns exit code and output (never throws on a non-zero exit). */
async function iris(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [...CLI, '--config', config, ...args], {
      env: { ...process.env, IRIS_LOG_LEVEL: 'silent', GROQ_API_KEY: '', GROQ_BASE_URL: '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iris-cli-ask-'));
  models = join(dir, 'models');
  config = join(dir, 'iris.yaml');
  // memory in a fresh SQLite file in a folder that does not exist yet
  await writeFile(config, `memory:\n  store: sqlite\n  path: ${join(dir, 'state', 'memory.sqlite')}\n`);
  await synthAll(models);
  await writeFile(join(dir, 'red.png'), await solidPng('#ff0000'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('iris ask answers with the colour; a second call with the same --conversation continues it', async () => {
  const image = join(dir, 'red.png');
  const first = await iris([
    'ask',
    image,
    'What colour is the cat?',
    '--conversation',
    'k1',
    '--models',
    models,
    '--json',
  ]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(JSON.parse(first.stdout).answer, 'red');
  const second = await iris([
    'ask',
    image,
    'What did I ask before?',
    '--conversation',
    'k1',
    '--models',
    models,
    '--json',
  ]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(JSON.parse(second.stdout).answer, 'cat');
  // another key, or no key, starts afresh
  const other = await iris([
    'ask',
    image,
    'What did I ask before?',
    '--conversation',
    'k2',
    '--models',
    models,
  ]);
  assert.equal(other.stdout.trim(), 'nothing');
});

test('iris ask --backend smolvlm (transformers.js) keeps the conversation as chat messages', async () => {
  const image = join(dir, 'red.png');
  const args = ['--backend', 'smolvlm', '--conversation', 's1', '--models', models];
  const first = await iris(['ask', image, 'What colour is the apple?', ...args]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout.trim(), 'red');
  const second = await iris(['ask', image, 'What did I ask before?', ...args, '--json']);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(JSON.parse(second.stdout).answer, 'apple');
});

test('iris ask user errors exit 2 with one line on stderr', async () => {
  const image = join(dir, 'red.png');
  const cases: [string[], Record<string, string>, RegExp][] = [
    [
      ['ask', image, 'why '.repeat(150)],
      {},
      /^error: `question` is too long \(599 characters; at most 500\)\.$/,
    ],
    [
      ['ask', image, 'what is it?', '--backend', 'groq'],
      {},
      /^error: The groq backend needs an API key: set GROQ_API_KEY/,
    ],
    [
      ['ask', image, 'what is it?', '--backend', 'groq'],
      { GROQ_API_KEY: SECRETS.groqWrongKey, GROQ_BASE_URL: 'http://127.0.0.1:1' },
      /^error: Cannot reach Groq at 127\.0\.0\.1:1: check providers\.groq\.baseUrl/,
    ],
  ];
  for (const [args, env, message] of cases) {
    const res = await iris([...args, '--models', models], env);
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
    assert.match(res.stderr.trim().split('\n')[0] ?? '', message);
    assert.ok(!res.stderr.includes(SECRETS.groqWrongKey));
  }
});

test('iris ask --backend groq talks to an OpenAI-compatible server: 429 then success, then a follow-up with memory', async () => {
  const fake = await startFakeOpenAI({ apiKey: SECRETS.groqCliKey });
  try {
    const env = { GROQ_API_KEY: SECRETS.groqCliKey, GROQ_BASE_URL: fake.url };
    const image = join(dir, 'red.png');
    fake.script(
      { status: 429, headers: { 'retry-after-ms': '50' }, body: { error: { message: 'rate limited' } } },
      completion('It is red.'),
    );
    const first = await iris(
      ['ask', image, 'What colour is it?', '--backend', 'groq', '--conversation', 'g1', '--json'],
      env,
    );
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout), { answer: 'It is red.' });
    assert.equal(fake.requests.length, 2);
    fake.script(completion('You asked what colour it is.'));
    const second = await iris(
      ['ask', image, 'What did I ask?', '--backend', 'groq', '--conversation', 'g1'],
      env,
    );
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout.trim(), 'You asked what colour it is.');
    const last = fake.requests.at(-1);
    assert.equal(last?.body.model, 'meta-llama/llama-4-maverick-17b-128e-instruct');
    assert.equal(last?.images.length, 1);
    assert.deepEqual(last?.turns.slice(1), [
      ['user', 'What colour is it?'],
      ['assistant', 'It is red.'],
      ['user', 'What did I ask?'],
    ]);
  } finally {
    await fake.close();
  }
});

test('iris compare says which image is which (colour-world BLIP-2, one image at a time)', async () => {
  await writeFile(join(dir, 'blue.png'), await solidPng('#0000ff'));
  const files = [join(dir, 'red.png'), join(dir, 'blue.png')];
  const res = await iris(['compare', ...files, '--backend', 'blip2', '--models', models, '--json']);
  assert.equal(res.code, 0, res.stderr);
  const out = JSON.parse(res.stdout);
  assert.deepEqual(
    out.images.map((i: { name: string; answer: string }) => [i.name, i.answer]),
    [
      [files[0], 'red'],
      [files[1], 'blue'],
    ],
  );
  assert.match(out.answer, /^Image 1 \(.*red\.png\): red\nImage 2 \(.*blue\.png\): blue\n/);
});
