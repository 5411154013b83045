import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { synthClip } from '../../src/demo/colourworld/index.js';
import { isUserError } from '../../src/errors.js';
import { clipFiles } from '../../src/models/files.js';
import { pullModel } from '../../src/models/hub/pull.js';
import { type FakeHub, type FakeHubFile, repoFromFolder, startFakeHub } from '../fakes/hub/server.js';
import { SECRETS } from '../fakes/secrets.js';

const ID = 'Xenova/clip-vit-base-patch32';
const TOKEN = SECRETS.hfToken;

describe('models pull against a fake hub', () => {
  let source: string;
  let repo: FakeHubFile[];
  let hub: FakeHub;
  const dirs: string[] = [];
  const modelsDir = async () => {
    const d = await mkdtemp(join(tmpdir(), 'iris-pull-'));
    dirs.push(d);
    return d;
  };
  const original = (path: string) => readFile(join(source, path));

  before(async () => {
    source = await mkdtemp(join(tmpdir(), 'iris-hub-src-'));
    await synthClip(source, { variant: 'colour' });
    repo = await repoFromFolder(source);
    hub = await startFakeHub({ repos: { [ID]: repo } });
  });
  after(async () => {
    await hub.close();
    for (const d of [source, ...dirs]) await rm(d, { recursive: true, force: true });
  });

  it('fetches only the files the backend needs, byte for byte, and nothing again on a second pull', async () => {
    const dir = await modelsDir();
    const seen: string[] = [];
    const result = await pullModel({
      modelId: ID,
      files: clipFiles({ dtype: 'fp32' }),
      modelsDir: dir,
      hub: { endpoint: hub.url },
      onProgress: (p) => seen.push(`${p.file}:${p.received}/${p.total}`),
    });
    const fetched = result.files.map((f) => f.path).sort();
    assert.deepEqual(fetched, [
      'config.json',
      'onnx/text_model.onnx',
      'onnx/vision_model.onnx',
      'preprocessor_config.json',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    assert.equal(existsSync(join(dir, ID, 'onnx', 'model.onnx')), false, 'the combined graph is not needed');
    for (const path of fetched) assert.deepEqual(await readFile(join(dir, ID, path)), await original(path));
    const vision = (await original('onnx/vision_model.onnx')).length;
    assert.ok(seen.includes(`onnx/vision_model.onnx:${vision}/${vision}`), 'progress reaches the full size');
    assert.equal(existsSync(join(dir, '.partial')), false, 'no partial files are left');

    const before = hub.requests.length;
    const again = await pullModel({
      modelId: ID,
      files: clipFiles({ dtype: 'fp32' }),
      modelsDir: dir,
      hub: { endpoint: hub.url },
    });
    assert.ok(again.files.every((f) => !f.fetched));
    assert.deepEqual(
      hub.requests.slice(before).map((r) => r.url),
      [`/api/models/${ID}/tree/main`],
      'only the listing is asked for',
    );
  });

  it('resumes a dropped download with a Range request, in the same pull', async () => {
    const dir = await modelsDir();
    const file = 'onnx/vision_model.onnx';
    const size = (await original(file)).length;
    const half = Math.floor(size / 2);
    hub.dropAfter(file, half);
    const from = hub.requests.length;
    await pullModel({
      modelId: ID,
      files: clipFiles({ dtype: 'fp32' }),
      modelsDir: dir,
      hub: { endpoint: hub.url },
    });
    assert.deepEqual(await readFile(join(dir, ID, file)), await original(file));
    const ranges = hub.requests
      .slice(from)
      .filter((r) => r.url.endsWith(file))
      .map((r) => r.range);
    assert.ok(ranges.includes(`bytes=${half}-${size - 1}`), `resume asked for the tail: ${ranges.join(' ')}`);
  });

  it('a later run resumes what an interrupted run left, and the model folder never holds the partial file', async () => {
    const dir = await modelsDir();
    const file = 'onnx/text_model.onnx';
    const size = (await original(file)).length;
    const part = Math.floor(size / 3);
    hub.dropAfter(file, part);
    await assert.rejects(
      pullModel({
        modelId: ID,
        files: clipFiles({ dtype: 'fp32' }),
        modelsDir: dir,
        hub: { endpoint: hub.url },
        retries: 0,
      }),
      (e: unknown) =>
        isUserError(e) &&
        e.code === 'download_failed' &&
        e.message.includes(`${part} of ${size} bytes`) &&
        e.message.includes('again to resume'),
    );
    assert.equal(existsSync(join(dir, ID, file)), false);
    assert.equal((await stat(join(dir, '.partial', ID, `${file}.part`))).size, part);

    const result = await pullModel({
      modelId: ID,
      files: clipFiles({ dtype: 'fp32' }),
      modelsDir: dir,
      hub: { endpoint: hub.url },
    });
    assert.equal(result.files.find((f) => f.path === file)?.resumedFrom, part);
    assert.deepEqual(await readFile(join(dir, ID, file)), await original(file));
    assert.ok(hub.requests.some((r) => r.url.endsWith(file) && r.range === `bytes=${part}-${size - 1}`));
  });

  it('a wrong checksum is a clear error and leaves nothing behind', async () => {
    const dir = await modelsDir();
    const file = 'onnx/vision_model.onnx';
    hub.corrupt(file);
    await assert.rejects(
      pullModel({
        modelId: ID,
        files: clipFiles({ dtype: 'fp32' }),
        modelsDir: dir,
        hub: { endpoint: hub.url },
      }),
      (e: unknown) =>
        isUserError(e) &&
        e.code === 'download_failed' &&
        e.message.includes(`${ID}/${file} failed verification (sha256`) &&
        e.message.includes('discarded'),
    );
    assert.equal(existsSync(join(dir, ID, file)), false);
    const partial = join(dir, '.partial', ID, 'onnx');
    assert.deepEqual(existsSync(partial) ? await readdir(partial) : [], []);
  });

  it('a dtype whose files the repo lacks is an error naming them and listing the ONNX files there', async () => {
    const dir = await modelsDir();
    await assert.rejects(
      pullModel({
        modelId: ID,
        files: clipFiles({ dtype: 'q8' }),
        modelsDir: dir,
        hub: { endpoint: hub.url },
      }),
      (e: unknown) =>
        isUserError(e) &&
        e.message.includes('onnx/text_model_quantized.onnx') &&
        e.message.includes('onnx/text_model.onnx') &&
        e.message.includes('dtype'),
    );
  });

  it('an unknown model is a 404 that names the id', async () => {
    await assert.rejects(
      pullModel({
        modelId: 'nobody/nothing',
        files: clipFiles({ dtype: 'fp32' }),
        modelsDir: await modelsDir(),
        hub: { endpoint: hub.url },
      }),
      (e: unknown) => isUserError(e) && e.message.includes('nobody/nothing was not found'),
    );
  });

  it('sends HF_TOKEN as a bearer token and never shows it in errors', async () => {
    const gated = await startFakeHub({ repos: { [ID]: repo }, token: TOKEN });
    try {
      const dir = await modelsDir();
      await assert.rejects(
        pullModel({
          modelId: ID,
          files: clipFiles({ dtype: 'fp32' }),
          modelsDir: dir,
          hub: { endpoint: gated.url, token: SECRETS.hfWrongToken },
        }),
        (e: unknown) =>
          isUserError(e) && e.message.includes('HF_TOKEN') && !e.message.includes(SECRETS.hfWrongToken),
      );
      await pullModel({
        modelId: ID,
        files: clipFiles({ dtype: 'fp32' }),
        modelsDir: dir,
        hub: { endpoint: gated.url, token: TOKEN },
      });
      assert.ok(existsSync(join(dir, ID, 'onnx', 'text_model.onnx')));
      assert.ok(gated.requests.every((r) => r.authorization !== undefined));
    } finally {
      await gated.close();
    }
  });
});
