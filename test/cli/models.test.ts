import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { listCli, pullCli, removeCli } from '../../src/cli/models.js';
import { loadConfig } from '../../src/config.js';
import { synthClip } from '../../src/demo/colourworld/index.js';
import { isUserError } from '../../src/errors.js';
import type { ModelRow } from '../../src/models/hub/manager.js';
import { type FakeHub, repoFromFolder, startFakeHub } from '../fakes/hub/server.js';
import { SECRETS } from '../fakes/secrets.js';

const run = promisify(execFile);
const CLIP = 'Xenova/clip-vit-base-patch32';
const TOKEN = SECRETS.hfToken;

describe('iris models pull | list | remove', () => {
  let source: string;
  let hub: FakeHub;
  const dirs: string[] = [];
  const tempDir = async () => {
    const d = await mkdtemp(join(tmpdir(), 'iris-models-cli-'));
    dirs.push(d);
    return d;
  };
  const configFor = (modelsDir: string, extra: Record<string, unknown> = {}) =>
    loadConfig({
      env: {},
      overrides: { 'models.dir': modelsDir, 'providers.huggingface.endpoint': hub.url, ...extra },
    });
  const capture = () => {
    const lines: string[] = [];
    return { lines, out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
  };

  before(async () => {
    source = await mkdtemp(join(tmpdir(), 'iris-hub-src-'));
    await synthClip(source, { variant: 'colour' });
    hub = await startFakeHub({ repos: { [CLIP]: await repoFromFolder(source) }, token: TOKEN });
  });
  after(async () => {
    await hub.close();
    for (const d of [source, ...dirs]) await rm(d, { recursive: true, force: true });
  });

  it('list says missing, pull tag makes it ready with its size, remove takes it away', async () => {
    const dir = await tempDir();
    const config = configFor(dir, { 'providers.huggingface.token': TOKEN });
    const rowsOf = async () => {
      const io = capture();
      await listCli(config, { ...io, json: true });
      return JSON.parse(io.lines[0] as string) as ModelRow[];
    };
    const tag = async () => (await rowsOf()).find((r) => r.task === 'tag') as ModelRow;
    assert.equal((await tag()).state, 'missing');

    const io = capture();
    await pullCli(config, ['tag'], io);
    assert.match(
      io.lines.join('\n'),
      /Xenova\/clip-vit-base-patch32: ready in .* \(7 files, .* downloaded\)/,
    );
    assert.match(io.lines.join('\n'), /onnx\/vision_model\.onnx: .* \(100%\)/, 'progress lines in the log');
    assert.ok(!io.lines.join('\n').includes(TOKEN), 'the token is never printed');
    const ready = await tag();
    assert.equal(ready.state, 'ready');
    assert.ok(ready.bytesOnDisk > 0);
    assert.equal(ready.dir, join(dir, CLIP));

    const table = capture();
    await listCli(config, table);
    assert.match(table.lines[0] as string, /^task\s+backend \/ model\s+state\s+size\s+folder$/);
    assert.match(
      table.lines.find((l) => l.startsWith('tag')) as string,
      /clip Xenova\/clip-vit-base-patch32\s+ready\s+\d/,
    );

    await rm(join(dir, CLIP, 'onnx', 'text_model.onnx'));
    assert.deepEqual((await tag()).missingFiles, ['onnx/text_model.onnx']);

    const removed = capture();
    await removeCli(config, ['tag'], removed);
    assert.deepEqual(removed.lines, [`removed ${CLIP}`]);
    assert.equal(existsSync(join(dir, CLIP)), false);
  });

  it('offline: nothing is fetched and the error says what to do', async () => {
    const before = hub.requests.length;
    await assert.rejects(
      pullCli(configFor(await tempDir(), { 'models.offline': true }), ['tag'], capture()),
      (e: unknown) => isUserError(e) && e.message.includes('models.offline is true: nothing is downloaded'),
    );
    assert.equal(hub.requests.length, before);
  });

  it('names that are neither tasks nor known models list the choices; remove stays inside the models folder', async () => {
    const config = configFor(await tempDir());
    await assert.rejects(pullCli(config, ['someone/else'], capture()), (e: unknown) =>
      Boolean(isUserError(e) && e.message.includes('Name a task (tag, caption')),
    );
    await assert.rejects(removeCli(config, ['../../etc'], capture()), (e: unknown) =>
      Boolean(isUserError(e) && e.message.includes('only model folders inside')),
    );
  });

  it('the real command line: HF_ENDPOINT and HF_TOKEN from the environment, exit codes, token never printed', async () => {
    const dir = await tempDir();
    const env = {
      ...process.env,
      HF_ENDPOINT: hub.url,
      HF_TOKEN: TOKEN,
      IRIS_MODELS_DIR: dir,
      IRIS_CONFIG: '',
    };
    const ok = await run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'models', 'pull', 'tag'], {
      env,
    });
    assert.match(ok.stdout, /ready in/);
    assert.ok(!`${ok.stdout}${ok.stderr}`.includes(TOKEN));
    assert.ok(existsSync(join(dir, CLIP, 'onnx', 'vision_model.onnx')));

    const bad = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/index.ts', 'models', 'pull', 'tag'],
      {
        env: { ...env, HF_TOKEN: SECRETS.hfWrongToken, IRIS_MODELS_DIR: await tempDir() },
      },
    ).catch((e: { code: number; stderr: string; stdout: string }) => e);
    assert.equal((bad as { code: number }).code, 2);
    assert.match((bad as { stderr: string }).stderr, /^error: .*refused access \(HTTP 401\).*HF_TOKEN/m);
    assert.ok(!(bad as { stderr: string }).stderr.includes(SECRETS.hfWrongToken));
  });
});
