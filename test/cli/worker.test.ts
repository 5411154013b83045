import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { synthAll } from '../../src/demo/colourworld/index.js';
import { solidPng } from '../fakes/images.js';
import { completion, startFakeOpenAI } from '../fakes/openai.js';
import { type RedisServer, SKIP_NO_REDIS, startRedisServer } from '../fakes/redis-server.js';
import { SECRETS } from '../fakes/secrets.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'src/cli/index.ts'];
const KEY = SECRETS.groqCliKey;

async function iris(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...CLI, ...args], {
      env: { ...process.env, IRIS_LOG_LEVEL: 'warn', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('iris worker + iris tag through a real redis-server', { skip: SKIP_NO_REDIS }, () => {
  let server: RedisServer;
  let dir = '';
  before(async () => {
    server = await startRedisServer();
    dir = await mkdtemp(join(tmpdir(), 'iris-worker-cli-'));
    await synthAll(join(dir, 'models'));
    await writeFile(join(dir, 'red.png'), await solidPng('#ff0000'));
    await writeFile(join(dir, 'blue.png'), await solidPng('#0000ff'));
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('usage errors exit 2 with one line: unknown task class, no Redis configured', async () => {
    const bad = await iris({ IRIS_REDIS_URL: server.url }, 'worker', '--tasks', 'gpu');
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /^error: Unknown task class gpu\. --tasks takes a comma list of imagine, vision or llm\.$/m,
    );
    const noRedis = await iris({ IRIS_REDIS_URL: '' }, 'worker', '--tasks', 'vision');
    assert.equal(noRedis.code, 2);
    assert.match(noRedis.stderr, /^error: `iris worker` needs a Redis queue: set IRIS_REDIS_URL/m);
  });

  test('a CLI task command submits through the queue and the worker process answers with the colour-world model', async () => {
    const env = { IRIS_REDIS_URL: server.url };
    const worker = await startWorkerProcess(env, 'vision', '--models', join(dir, 'models'));
    try {
      const res = await iris(
        env,
        'tag',
        join(dir, 'red.png'),
        join(dir, 'blue.png'),
        '--labels',
        'red,green,blue',
        '--json',
      );
      assert.equal(res.code, 0, res.stderr);
      const lines = res.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { labels: { label: string }[] });
      assert.deepEqual(
        lines.map((l) => l.labels[0]?.label),
        ['red', 'blue'],
      );
    } finally {
      worker.process.kill('SIGTERM');
    }
    assert.equal(await worker.exited, 0, worker.stderr());
    assert.match(worker.stderr(), /finishing running jobs/);
  });

  test("a Groq question runs on `iris worker --tasks llm` with the worker's GROQ_API_KEY and GROQ_BASE_URL", async () => {
    const fake = await startFakeOpenAI({ apiKey: KEY, respond: () => completion('It is red.') });
    const config = join(dir, 'groq.yaml');
    await writeFile(config, 'tasks: { vqa: { backend: groq, model: fake-vision, options: {} } }\n');
    const shared = { IRIS_REDIS_URL: server.url, IRIS_CONFIG: config };
    const worker = await startWorkerProcess({ ...shared, GROQ_API_KEY: KEY, GROQ_BASE_URL: fake.url }, 'llm');
    try {
      // The asking process has no key: only the worker can answer.
      const res = await iris(
        { ...shared, GROQ_API_KEY: '', GROQ_BASE_URL: '' },
        'ask',
        join(dir, 'red.png'),
        'what colour is it?',
      );
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /It is red\./);
      assert.equal(fake.requests.length, 1);
      assert.equal(fake.requests[0]?.body.model, 'fake-vision');
      assert.equal(fake.requests[0]?.images.length, 1, 'the image travelled to the worker and on to the API');
    } finally {
      worker.process.kill('SIGTERM');
      await worker.exited;
      await fake.close();
    }
  });
});

/** `iris worker --tasks <tasks> …` as a child process, once it says it is serving. */
async function startWorkerProcess(env: Record<string, string>, tasks: string, ...args: string[]) {
  const child = spawn(process.execPath, [...CLI, 'worker', '--tasks', tasks, ...args], {
    env: { ...process.env, IRIS_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes(`iris worker: ${tasks}×1 on redis://127.0.0.1:`)) resolve();
    });
    void exited.then(() => reject(new Error(`worker exited:\n${stderr}`)));
  });
  return { process: child, exited, stderr: () => stderr };
}
