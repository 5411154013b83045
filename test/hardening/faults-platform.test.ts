/**
 * Faults outside iris: the platform API answers 429 or 500 when iris replies (Discord through discord.js,
 * Slack through Bolt/web-api, against the local fakes), and the disk fills up while `iris models pull`
 * writes the model cache. Behaviours chosen: docs/hardening.md.
 */
import './tmp-env.js';
import assert from 'node:assert/strict';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { synthClip } from '../../src/demo/colourworld/index.js';
import { isUserError } from '../../src/errors.js';
import { clipFiles } from '../../src/models/files.js';
import { modelPaths, pullModel } from '../../src/models/hub/pull.js';
import { finalEdit, startDiscord } from '../bot/discord/harness.js';
import { startHarness as startSlack } from '../bot/slack/harness.js';
import { type FakeHub, repoFromFolder, startFakeHub } from '../fakes/hub/server.js';
import { solidPng } from '../fakes/images.js';
import { assertAlive } from './helpers.js';

const alice = { id: '100000000000000001', username: 'alice' };
const RATE_LIMITED = {
  status: 429,
  body: { message: 'You are being rate limited.', retry_after: 0.2, global: false },
  headers: {
    'retry-after': '1',
    'x-ratelimit-limit': '5',
    'x-ratelimit-remaining': '0',
    'x-ratelimit-reset-after': '0.2',
    'x-ratelimit-bucket': 'hardening-bucket',
    'x-ratelimit-scope': 'user',
  },
};

describe('Discord answers 429 or 500 to a reply', () => {
  let h: Awaited<ReturnType<typeof startDiscord>>;
  before(async () => {
    h = await startDiscord({ overrides: { 'platforms.discord.messageContent': true } });
  });
  after(() => h.stop());

  it('429 on the reply to a chat message: discord.js waits out retry-after and the answer arrives', async () => {
    const channel = h.fake.channel.id;
    h.fake.failNext({ method: 'POST', path: new RegExp(`^/channels/${channel}/messages$`), ...RATE_LIMITED });
    const image = h.fake.addAttachment({ filename: 'r.png', data: await solidPng('#ff0000', 40) });
    const question = h.fake.message({
      channelId: channel,
      author: alice,
      content: `<@${h.fake.bot.id}> what size?`,
      mentions: [h.fake.bot],
      attachments: [image],
    });
    const answer = await h.fake.waitFor(
      (r) =>
        r.path === `/channels/${channel}/messages` &&
        r.status === 200 &&
        r.json?.message_reference?.message_id === question.id,
    );
    assert.equal(answer.json.content, '40x40; earlier: none');
    const tries = h.fake.requests.filter(
      (r) => r.path === `/channels/${channel}/messages` && r.method === 'POST',
    );
    assert.deepEqual(
      tries.slice(-2).map((r) => r.status),
      [429, 200],
    );
  });

  it('500 on the final edit (every retry): logged, no crash, and the next command is answered', async () => {
    h.fake.failNext({
      method: 'PATCH',
      path: /\/messages\/@original$/,
      status: 500,
      body: { message: '500: Internal Server Error', code: 0 },
      times: 10,
      when: (r) => r.json?.content === 'Drew: lost',
    });
    const failing = h.fake.interaction({
      kind: 'command',
      name: 'draw',
      user: alice,
      options: { prompt: 'lost' },
    });
    await h.fake.waitFor(
      (r) =>
        r.path.includes(failing.token) &&
        r.method === 'PATCH' &&
        r.status === 500 &&
        /^Drew/.test(r.json?.content),
    );
    const deadline = Date.now() + 15_000;
    while (!h.lines.some((l) => /could not deliver the reply/.test(l)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const logged = h.lines.find((l) => /could not deliver the reply/.test(l));
    assert.ok(logged, 'the failed delivery is logged');
    assert.match(logged, /"level":50/, 'as an error');
    assertAlive();
    const next = h.fake.interaction({
      kind: 'command',
      name: 'draw',
      user: alice,
      options: { prompt: 'fine' },
    });
    await finalEdit(h.fake, next.token, (j) => j.content === 'Drew: fine');
  });
});

describe('Slack answers 429 or 500 to a reply', () => {
  let h: Awaited<ReturnType<typeof startSlack>>;
  before(async () => {
    h = await startSlack();
  });
  after(() => h.stop());

  it('429 on chat.postMessage: web-api waits out Retry-After and the answer arrives', async () => {
    h.fake.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    await h.command({ command: '/echo', text: 'after a 429' });
    await h.fake.waitForMessage((m) => m.text === 'echo: after a 429');
    assertAlive();
  });

  it('500 on every attempt to post the answer: logged as an error, no crash; the next command is answered', async () => {
    const always = Array.from({ length: 200 }, () => ({ status: 500 as const }));
    h.fake.failNext('chat.update', ...always);
    h.fake.failNext('chat.postMessage', ...always);
    const from = h.logs.length;
    await h.command({ command: '/echo', text: 'into the void' });
    const undelivered = () => h.logs.slice(from).find((l) => /could not deliver/.test(l));
    const deadline = Date.now() + 15_000;
    while (!undelivered() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const line = undelivered();
    assert.ok(line, `the failed delivery is logged:\n${h.logs.slice(-3).join('')}`);
    assert.match(line, /"level":50/);
    assert.match(line, /statusCode = 500/);
    assert.equal(
      h.fake.messages.some((m) => m.text === 'echo: into the void'),
      false,
    );
    assertAlive();
    h.fake.clearFailures();
    await h.command({ command: '/echo', text: 'back again' });
    await h.fake.waitForMessage((m) => m.text === 'echo: back again');
  });
});

describe('disk full while `iris models pull` writes the model cache', () => {
  const ID = 'Xenova/clip-vit-base-patch32';
  let source: string;
  let hub: FakeHub;
  let modelsDir: string;
  before(async () => {
    source = await mkdtemp(join(tmpdir(), 'hub-src-'));
    modelsDir = await mkdtemp(join(tmpdir(), 'models-'));
    await synthClip(source, { variant: 'colour' });
    hub = await startFakeHub({ repos: { [ID]: await repoFromFolder(source) } });
  });
  after(async () => {
    await hub.close();
    await rm(source, { recursive: true, force: true });
    await rm(modelsDir, { recursive: true, force: true });
  });

  /** A disk that takes `room` bytes of the vision model, then fails with ENOSPC (other files write normally). */
  const fullDisk = (room: number, opened: string[]) => (path: string, options: { flags: 'a' }) => {
    opened.push(path);
    const real = createWriteStream(path, options);
    if (!path.endsWith('vision_model.onnx.part')) return real;
    let written = 0;
    return new Writable({
      write(chunk: Buffer, _enc, done) {
        const fits = Math.max(0, room - written);
        written += Math.min(fits, chunk.length);
        real.write(chunk.subarray(0, fits), () => {
          if (fits >= chunk.length) return done();
          done(
            Object.assign(new Error('ENOSPC: no space left on device, write'), {
              code: 'ENOSPC',
              errno: -28,
            }),
          );
        });
      },
      final(done) {
        real.end(done);
      },
      destroy(err, done) {
        real.end(() => done(err));
      },
    });
  };

  it('the partial file is removed, the message says the disk is full, and a later pull completes', async () => {
    const opened: string[] = [];
    await assert.rejects(
      pullModel({
        modelId: ID,
        files: clipFiles({ dtype: 'fp32' }),
        modelsDir,
        hub: { endpoint: hub.url },
        createWriteStream: fullDisk(500, opened),
      }),
      (e: unknown) => {
        assert.ok(isUserError(e));
        assert.equal(e.code, 'download_failed');
        assert.match(
          e.message,
          /^Xenova\/clip-vit-base-patch32\/onnx\/vision_model\.onnx: the disk holding .* is full \(ENOSPC\) after 500 of \d+ bytes; the partial file was removed\. Free some space and run the same command again\.$/,
        );
        return true;
      },
    );
    const { dir, partial } = modelPaths(modelsDir, ID);
    assert.equal(existsSync(join(partial, 'onnx/vision_model.onnx.part')), false, 'the partial file is gone');
    assert.equal(
      existsSync(join(dir, 'onnx/vision_model.onnx')),
      false,
      'nothing half-written in the model folder',
    );
    assert.equal(
      opened.filter((p) => p.endsWith('vision_model.onnx.part')).length,
      1,
      'a full disk is not retried',
    );

    // Space freed: the same pull again completes, byte for byte.
    const done = await pullModel({
      modelId: ID,
      files: clipFiles({ dtype: 'fp32' }),
      modelsDir,
      hub: { endpoint: hub.url },
    });
    assert.ok(done.files.some((f) => f.path === 'onnx/vision_model.onnx' && f.fetched));
    assert.deepEqual(
      await readFile(join(dir, 'onnx/vision_model.onnx')),
      await readFile(join(source, 'onnx/vision_model.onnx')),
    );
    assert.equal(existsSync(join(modelsDir, '.partial')), false);
  });
});
