import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { synthAll } from '../../src/models/colourworld/index.js';
import { solidPng } from '../fakes/images.js';
import { type RedisServer, SKIP_NO_REDIS, startRedisServer } from '../fakes/redis-server.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'src/cli.ts'];

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
    const worker = spawn(
      process.execPath,
      [...CLI, 'worker', '--tasks', 'vision', '--models', join(dir, 'models')],
      {
        env: { ...process.env, IRIS_LOG_LEVEL: 'warn', ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => worker.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      worker.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('iris worker: vision×1 on redis://127.0.0.1:')) resolve();
      });
      void exited.then(() => reject(new Error(`worker exited:\n${stderr}`)));
    });
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
      worker.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /finishing running jobs/);
  });
});
