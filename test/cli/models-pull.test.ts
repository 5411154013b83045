import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { listCli, type PullIo, pullCli } from '../../src/cli/models.js';
import { loadConfig } from '../../src/config.js';
import { MODELS } from '../../src/demo/colourworld/index.js';
import { isUserError } from '../../src/errors.js';
import { formatBytes, type ModelRow } from '../../src/models/hub/manager.js';
import { type FakeHub, type FakeHubFile, repoFromFolder, startFakeHub } from '../fakes/hub/server.js';

const run = promisify(execFile);
const CLIP = 'Xenova/clip-vit-base-patch32';
const FLORENCE = 'onnx-community/Florence-2-base-ft';
const SMOLVLM = 'HuggingFaceTB/SmolVLM-256M-Instruct';
const SD = 'onnxruntime/sd-turbo';
const GB = 1024 ** 3;

/** A repo's files plus `_quantized` copies of the named graphs (as the hub's repos list their q8 files). */
function withQuantized(files: FakeHubFile[], graphs: string[]): FakeHubFile[] {
  const copies = files
    .filter((f) => graphs.includes(f.path))
    .map((f) => ({ ...f, path: f.path.replace(/\.onnx$/, '_quantized.onnx') }));
  return [...files, ...copies];
}

async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name))).size;
  }
  return total;
}

describe('iris models pull with no names: the configured defaults', () => {
  let source: string;
  let hub: FakeHub;
  const dirs: string[] = [];
  const tempDir = async () => {
    const d = await mkdtemp(join(tmpdir(), 'iris-pull-defaults-'));
    dirs.push(d);
    return d;
  };
  const configFor = (modelsDir: string, file?: string) =>
    loadConfig({
      env: {},
      ...(file && { file }),
      overrides: { 'models.dir': modelsDir, 'providers.huggingface.endpoint': hub.url },
    });
  const capture = (extra: Partial<PullIo> = {}) => {
    const lines: string[] = [];
    return {
      lines,
      io: { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l), ...extra } as PullIo,
    };
  };
  const downloads = () => hub.requests.filter((r) => r.url.includes('/resolve/')).length;
  const rowsOf = async (config: ReturnType<typeof configFor>) => {
    const c = capture();
    await listCli(config, { ...c.io, json: true });
    return JSON.parse(c.lines[0] as string) as ModelRow[];
  };

  before(async () => {
    source = await mkdtemp(join(tmpdir(), 'iris-hub-defaults-'));
    const repos: Record<string, FakeHubFile[]> = {};
    for (const id of [CLIP, FLORENCE, SMOLVLM, SD]) {
      await (MODELS[id] as (d: string) => Promise<void>)(join(source, id));
      repos[id] = await repoFromFolder(join(source, id));
    }
    repos[CLIP] = withQuantized(repos[CLIP] as FakeHubFile[], [
      'onnx/text_model.onnx',
      'onnx/vision_model.onnx',
    ]);
    repos[SMOLVLM] = withQuantized(repos[SMOLVLM] as FakeHubFile[], [
      'onnx/vision_encoder.onnx',
      'onnx/embed_tokens.onnx',
      'onnx/decoder_model_merged.onnx',
    ]);
    hub = await startFakeHub({ repos });
  });
  after(async () => {
    await hub.close();
    for (const d of [source, ...dirs]) await rm(d, { recursive: true, force: true });
  });

  it('lists each model, its files and sizes, the total and the free disk; --yes fetches them all', async () => {
    const dir = await tempDir();
    const config = configFor(dir);
    const { lines, io } = capture({ yes: true, freeBytes: async () => 10 * GB });
    await pullCli(config, [], io);
    const text = lines.join('\n');
    assert.equal(lines[0], `From ${hub.url}:`);
    for (const head of [
      `${CLIP} (tag, embed): 7 files, `,
      `${FLORENCE} (caption, find): `,
      `${SMOLVLM} (vqa): `,
      `${SD} (imagine): `,
    ]) {
      assert.ok(
        lines.some((l) => l.startsWith(head)),
        `a line starting ${head}`,
      );
    }
    assert.match(text, /^ {2}onnx\/decoder_model_merged\.onnx {2}\d/m, 'each file with its size');
    assert.match(text, /^ {2}unet\/model\.onnx {2}\d/m);
    assert.ok(!text.includes('_quantized'), 'the configured dtype (fp32) is fetched');
    // the total printed is what landed on disk
    let onDisk = 0;
    for (const id of [CLIP, FLORENCE, SMOLVLM, SD]) onDisk += await bytesUnder(join(dir, id));
    assert.ok(
      lines.includes(
        `Total to download: ${formatBytes(onDisk)}; free on the disk holding ${dir}: ${formatBytes(10 * GB)}.`,
      ),
      text,
    );
    assert.match(text, /onnx\/vision_encoder\.onnx: .* \(100%\)/, 'progress per file');
    for (const id of [CLIP, FLORENCE, SMOLVLM, SD]) assert.match(text, new RegExp(`${id}: ready in `));
    for (const row of await rowsOf(config)) {
      if (row.dir) assert.equal(row.state, 'ready', `${row.task}: ${row.state} ${row.missingFiles}`);
    }

    // again: nothing left to fetch, so nothing to confirm either
    const again = capture({ interactive: false });
    await pullCli(config, [], again.io);
    assert.ok(again.lines.includes(`${SMOLVLM} (vqa): complete`));
    assert.ok(again.lines.some((l) => l.startsWith('Total to download: 0 B;')));
  });

  it('without a terminal and without --yes it refuses before downloading anything', async () => {
    const dir = await tempDir();
    const before = downloads();
    await assert.rejects(
      pullCli(configFor(dir), [], capture({ interactive: false }).io),
      (e: unknown) =>
        isUserError(e) &&
        e.code === 'bad_option' &&
        /^iris models pull downloads every configured model \(.+\): confirm on a terminal, or run it with --yes\.$/.test(
          e.message,
        ),
    );
    assert.equal(downloads(), before);
    assert.deepEqual(await readdir(dir), []);

    // the real command line: no terminal in a child process → exit 2, one error line
    const res = await run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'models', 'pull'], {
      env: {
        ...process.env,
        HF_ENDPOINT: hub.url,
        IRIS_MODELS_DIR: dir,
        IRIS_CONFIG: '',
        IRIS_LOG_LEVEL: 'silent',
      },
    }).catch((e: { code: number; stdout: string; stderr: string }) => e);
    assert.equal((res as { code?: number }).code, 2);
    const stderr = (res as { stderr: string }).stderr.trim().split('\n');
    assert.equal(stderr.length, 1, stderr.join('\n'));
    assert.match(
      stderr[0] as string,
      /^error: iris models pull downloads every configured model .* --yes\.$/,
    );
    assert.match((res as { stdout: string }).stdout, /^Total to download: /m, 'the plan was shown first');
    assert.deepEqual(await readdir(dir), []);
  });

  it('on a terminal it asks: no leaves the folder as it was, yes downloads', async () => {
    const dir = await tempDir();
    const questions: string[] = [];
    const no = capture({
      interactive: true,
      confirm: async (q) => {
        questions.push(q);
        return false;
      },
    });
    const before = downloads();
    await pullCli(configFor(dir), [], no.io);
    assert.match(questions[0] as string, /^Download \d+(\.\d)? [KM]B\? \[y\/N\] $/);
    assert.equal(no.lines.at(-1), 'Nothing was downloaded.');
    assert.equal(downloads(), before);
    assert.deepEqual(await readdir(dir), []);

    const yes = capture({ interactive: true, confirm: async () => true });
    await pullCli(configFor(dir), [], yes.io);
    assert.ok(yes.lines.some((l) => l.startsWith(`${SMOLVLM}: ready in `)));
  });

  it('--dtype q8 fetches the quantized files where the repo has them, and says how to load them', async () => {
    const dir = await tempDir();
    const { lines, io } = capture({ yes: true, dtype: 'q8' });
    await pullCli(configFor(dir), [], io);
    const text = lines.join('\n');
    for (const f of ['onnx/text_model_quantized.onnx', 'onnx/vision_model_quantized.onnx']) {
      assert.ok(existsSync(join(dir, CLIP, f)), f);
    }
    assert.ok(!existsSync(join(dir, CLIP, 'onnx/text_model.onnx')), 'not the fp32 files as well');
    for (const s of ['vision_encoder', 'embed_tokens', 'decoder_model_merged']) {
      assert.ok(existsSync(join(dir, SMOLVLM, `onnx/${s}_quantized.onnx`)), s);
      assert.ok(!existsSync(join(dir, SMOLVLM, `onnx/${s}.onnx`)), s);
    }
    // Florence-2's repo has no q8 files here: it keeps the configured ones, and says so
    assert.match(
      text,
      new RegExp(
        `note: ${FLORENCE} has no q8 files \\(no onnx/vision_encoder_quantized\\.onnx, .*\\): keeping the configured ones\\.`,
      ),
    );
    assert.ok(existsSync(join(dir, FLORENCE, 'onnx/vision_encoder.onnx')));
    // the printed lines, as a config file, make those folders ready
    const hint = lines.slice(lines.indexOf('tasks:'));
    assert.deepEqual(hint, [
      'tasks:',
      '  tag: { options: { dtype: q8 } }',
      '  embed: { options: { dtype: q8 } }',
      '  vqa: { options: { dtype: q8 } }',
    ]);
    const before = await rowsOf(configFor(dir));
    assert.equal(
      before.find((r) => r.task === 'vqa')?.state,
      'incomplete',
      'the default config reads fp32 files',
    );
    const local = join(dir, 'local.yaml');
    await writeFile(local, `${hint.join('\n')}\n`);
    for (const row of await rowsOf(configFor(dir, local))) {
      if (row.dir) assert.equal(row.state, 'ready', `${row.task}: ${row.missingFiles}`);
    }
  });

  it('not enough disk: a clear error before anything is downloaded, nothing partial left', async () => {
    const dir = await tempDir();
    const before = downloads();
    await assert.rejects(
      pullCli(configFor(dir), [], capture({ yes: true, freeBytes: async () => 1000 }).io),
      (e: unknown) =>
        isUserError(e) &&
        e.code === 'download_failed' &&
        e.message.startsWith('the models need ') &&
        e.message.includes(`but the disk holding ${dir} has 1000 B free. Nothing was downloaded`),
    );
    assert.equal(downloads(), before);
    assert.deepEqual(await readdir(dir), [], 'no model folder and no .partial folder');
  });
});
