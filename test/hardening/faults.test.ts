/**
 * Faults inside iris: backends that throw or hang, a model whose .onnx is garbage, requests over the
 * memory budget, a memory store that cannot be written. Each: a short, specific message for the user
 * (never a stack or a secret), the process lives, other users and the next request are unaffected.
 * Behaviours chosen: docs/hardening.md.
 */
import './tmp-env.js';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { mediaSettings } from '../../src/app.js';
import { checkMemoryBudget, estimateImagineMemoryMB } from '../../src/commands/imagine-params.js';
import { COMMANDS } from '../../src/commands/index.js';
import { loadConfig } from '../../src/config.js';
import type { BackendProvider, RunOptions } from '../../src/contracts/backend.js';
import { Dispatcher } from '../../src/core/dispatch.js';
import { createLogger } from '../../src/core/log.js';
import type { MemoryStore } from '../../src/core/memory.js';
import { SqliteMemoryStore } from '../../src/core/memory-sqlite.js';
import { Scheduler } from '../../src/core/scheduler.js';
import { synthFlorence2 } from '../../src/demo/colourworld/florence2.js';
import { synthAll } from '../../src/demo/colourworld/index.js';
import { BackendError, isUserError } from '../../src/errors.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { deferred, fakeBackends } from '../fakes/backends.js';
import { dominant } from '../fakes/colours.js';
import { RecordingResponder } from '../fakes/responder.js';
import { SECRETS } from '../fakes/secrets.js';
import { assertAlive, colourWorldApp, red, request, tempEntries, UNSAFE } from './helpers.js';

const SECRET = SECRETS.slackConfigToken;

function setup(
  registry: BackendProvider,
  o: { overrides?: Record<string, unknown>; memory?: MemoryStore } = {},
) {
  const config = loadConfig({
    env: { SLACK_BOT_TOKEN: SECRET },
    overrides: { 'memory.store': 'memory', ...o.overrides },
  });
  const lines: string[] = [];
  const log = createLogger({
    level: 'info',
    secrets: [SECRET],
    destination: new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
  const scheduler = new Scheduler(config.scheduler);
  const dispatcher = new Dispatcher({
    commands: COMMANDS,
    executor: scheduler,
    registry,
    config,
    log,
    media: mediaSettings(config),
    ...(o.memory && { memory: o.memory }),
  });
  const run = async (req: ReturnType<typeof request>, res = new RecordingResponder()) => {
    await dispatcher.handle(req, res);
    return res.reply;
  };
  return { dispatcher, scheduler, lines, run };
}

/** A tag backend whose behaviour each request picks by its first label. */
function scriptedTagger(onRun?: (label: string, opts: RunOptions) => Promise<void>) {
  return fakeBackends({
    tag: async ({ images, labels }, opts) => {
      const label = labels[0] as string;
      if (label === 'retryable')
        throw new BackendError('upstream_503', 'upstream said 503', { isRetryable: true });
      if (label === 'fatal')
        throw new BackendError('bad_model', `model exploded near ${SECRET}`, { isRetryable: false });
      if (label === 'plain') throw new Error(`TypeError-ish failure with ${SECRET} in it`);
      await onRun?.(label, opts);
      return images.map(() => ({ labels: [{ label, score: 1 }] }));
    },
  });
}

describe('backend failures', () => {
  let image: Buffer;
  before(async () => {
    image = await red();
  });
  const tags = (label: string, user = 'alice', id?: string) =>
    request('tags', {
      ...(id && { id }),
      user: { id: user },
      args: { labels: label },
      images: [{ name: 'a.png', data: image }],
    });

  it('throws (retryable, not retryable, plain Error): a short message with a ref, no stack or secret; logged; the queue moves on', async () => {
    const { run, lines, scheduler } = setup(scriptedTagger());
    const cases = [
      [
        'retryable',
        'The model backend is unavailable right now — try again in a moment. (ref r-1)',
        'upstream_503',
      ],
      ['fatal', 'Something went wrong (ref r-2).', 'bad_model'],
      ['plain', 'Something went wrong (ref r-3).', 'internal'],
    ] as const;
    for (const [[label, text, code], i] of cases.map((c, i) => [c, i] as const)) {
      const reply = await run(tags(label, 'alice', `r-${i + 1}`));
      assert.equal(reply.text, text);
      assert.equal(reply.error?.code, code);
      assert.equal(reply.error?.internal, true);
      const ok = await run(tags('fine'));
      assert.equal(ok.text, 'Tags: fine 100%', 'the next job runs');
    }
    const logged = lines.join('');
    for (const ref of ['r-1', 'r-2', 'r-3'])
      assert.match(logged, new RegExp(`"req":"${ref}".*request failed`));
    assert.equal(logged.includes(SECRET), false, 'the secret is redacted in the log');
    assert.match(logged, /TypeError-ish failure with \[redacted\]/);
    assert.deepEqual(scheduler.stats().queues.encoder, { running: 0, queued: 0, maxConcurrent: 16 });
    assertAlive();
    await scheduler.stop();
  });

  it("one user's failing job does not disturb another user's job running beside it", async () => {
    const aliceRunning = deferred();
    const { run, scheduler } = setup(
      scriptedTagger(async (label) => {
        if (label === 'bob') await aliceRunning.promise;
      }),
      { overrides: { 'scheduler.queues.encoder.maxConcurrent': 2 } },
    );
    // Bob's job is running (holding a slot) while Alice's fails beside it; then Bob's finishes.
    const bob = run(tags('bob', 'bob'));
    const alice = await run(tags('plain', 'alice', 'r-alice'));
    assert.equal(alice.text, 'Something went wrong (ref r-alice).');
    aliceRunning.resolve();
    assert.equal((await bob).text, 'Tags: bob 100%');
    assert.equal((await run(tags('again', 'alice'))).text, 'Tags: again 100%');
    await scheduler.stop();
  });

  it('hangs: the job is stopped at the timeout with a clear message and its slot is freed', async () => {
    let honoured = 0;
    const { run, scheduler } = setup(
      scriptedTagger(async (label, opts) => {
        if (label !== 'hang') return;
        // A backend that honours its signal (as iris's do between steps): it stops when asked.
        await new Promise<never>((_, reject) =>
          opts.signal.addEventListener('abort', () => {
            honoured++;
            reject(opts.signal.reason);
          }),
        );
      }),
      { overrides: { 'scheduler.jobTimeoutSeconds': 0.2 } },
    );
    const reply = await run(tags('hang'));
    assert.equal(reply.text, 'That took longer than 0.2 s and was stopped.');
    assert.equal(reply.error?.code, 'timeout');
    assert.equal(honoured, 1, 'the backend was told to stop');
    assert.equal((await run(tags('next', 'bob'))).text, 'Tags: next 100%', 'the only GPU slot was freed');
    assert.equal(scheduler.stats().timedOut, 1);
    await scheduler.stop();
  });

  it('hangs ignoring its signal: the user hears the timeout at once; the slot is held until the backend returns', async () => {
    const release = deferred();
    const { run, scheduler } = setup(
      scriptedTagger(async (label) => {
        if (label === 'stuck') await release.promise;
      }),
      // One encoder slot (the queue /tags uses), so the next job has to wait for it.
      { overrides: { 'scheduler.jobTimeoutSeconds': 0.2, 'scheduler.queues.encoder.maxConcurrent': 1 } },
    );
    const reply = await run(tags('stuck'));
    assert.equal(reply.error?.code, 'timeout');
    // A GPU session cannot be killed mid-run: the next job waits for the slot instead of running beside it.
    const queued = deferred();
    const res = new RecordingResponder().onProgress((p) => {
      if (p.kind === 'queued') queued.resolve();
    });
    const next = run(tags('after', 'bob'), res);
    await queued.promise;
    assert.equal(scheduler.stats().queues.encoder?.running, 1);
    release.resolve();
    assert.equal((await next).text, 'Tags: after 100%');
    await scheduler.stop();
  });
});

describe('a corrupt model (.onnx full of garbage)', () => {
  let world: Awaited<ReturnType<typeof colourWorldApp>>;
  before(async () => {
    world = await colourWorldApp();
  });
  after(() => world.stop());

  it('"could not be loaded" naming the task, no path; other tasks work; the fixed folder loads again', async () => {
    const clip = join(world.root, 'Xenova/clip-vit-base-patch32');
    await writeFile(join(clip, 'onnx/vision_model.onnx'), Buffer.from('this is not a protobuf '.repeat(40)));
    const png = await red();
    const tags = () =>
      request('tags', { args: { labels: 'red, green, blue' }, images: [{ name: 'r.png', data: png }] });
    const send = async (req: ReturnType<typeof request>) => {
      const res = new RecordingResponder();
      await world.app.dispatcher.handle(req, res);
      return res.reply;
    };
    const before = await tempEntries();
    const reply = await send(tags());
    assert.equal(
      reply.text,
      "The tag model (Xenova/clip-vit-base-patch32) could not be loaded, so this is unavailable right now; the reason is in iris's log for the admin.",
    );
    assert.equal(reply.error?.code, 'model_load_failed');
    assert.equal(reply.text?.includes(world.root), false, 'no server path in the reply');
    assert.ok(
      world.lines.some((l) => /model failed to load/.test(l) && /vision_model/.test(l)),
      'the cause is logged',
    );
    assert.deepEqual(await tempEntries(), before);
    assertAlive();

    // Other tasks are unaffected.
    const drawn = await send(request('imagine', { args: { prompt: 'a red square', seed: 1 } }));
    assert.equal(drawn.error, undefined, drawn.text);
    assert.equal((await dominant(drawn.images?.[0]?.png as Buffer)).colour, 'red');
    const asked = await send(
      request('ask', { args: { question: 'what colour is it?' }, images: [{ name: 'r.png', data: png }] }),
    );
    assert.match(asked.text ?? '', /red/);

    // The failed load is not cached: once the folder is fixed, /tags works without a restart.
    const fresh = await mkdtemp(join(tmpdir(), 'fresh-models-'));
    await synthAll(fresh);
    const { readFile } = await import('node:fs/promises');
    await writeFile(
      join(clip, 'onnx/vision_model.onnx'),
      await readFile(join(fresh, 'Xenova/clip-vit-base-patch32/onnx/vision_model.onnx')),
    );
    await rm(fresh, { recursive: true, force: true });
    assert.match((await send(tags())).text ?? '', /^Tags: red/);
  });
});

describe('a missing or deleted model folder', () => {
  it('chat hears the task, the model and `iris models pull`; the folder and its contents go to the log and the CLI', async () => {
    const root = await mkdtemp(join(tmpdir(), 'iris-missing-'));
    const florence = join(root, 'onnx-community/Florence-2-base-ft');
    await synthFlorence2(florence);
    await mkdir(join(root, 'private/other-model'), { recursive: true });
    await writeFile(join(root, 'private/other-model/config.json'), '{}');
    const registry = new ModelRegistry({
      modelsDir: root,
      executionProviders: ['cpu'],
      tasks: { caption: { backend: 'florence2', model: 'onnx-community/Florence-2-base-ft', options: {} } },
    });
    const { run, lines, scheduler } = setup(registry);
    try {
      await rm(florence, { recursive: true, force: true }); // deleted while iris runs
      const png = await red();
      const caption = (platform: string) =>
        request('caption', { platform, images: [{ name: 'r.png', data: png }] });
      const chat = await run(caption('discord'));
      assert.equal(chat.error?.code, 'model_missing');
      assert.equal(
        chat.text,
        'The caption model (onnx-community/Florence-2-base-ft) is not installed on this server, so this is unavailable right now. An admin can get it with `iris models pull onnx-community/Florence-2-base-ft`.',
      );
      assert.equal(chat.text?.includes(root), false, 'no server path in the reply');
      assert.equal(chat.text?.includes('private/other-model'), false, "no list of the server's models");
      assert.ok(
        lines.some((l) => /model missing/.test(l) && l.includes(root) && l.includes('private/other-model')),
        'where iris looked, and what is there, is logged for the admin',
      );
      // The operator at their terminal gets the folder and the ways to fill it.
      const cli = await run(caption('cli'));
      assert.equal(cli.error?.code, 'model_missing');
      assert.ok(cli.text?.includes(root), cli.text);
      assert.match(cli.text ?? '', /is not in .*Models there: private\/other-model\..*iris models synth/);
      assertAlive();
    } finally {
      await scheduler.stop();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('out-of-memory guard (tasks.imagine.limits.memoryMB)', () => {
  it('the estimate grows with pixels², images and guidance', () => {
    assert.equal(estimateImagineMemoryMB({ width: 512, height: 512, count: 1, guidance: 0 }), 572);
    assert.equal(estimateImagineMemoryMB({ width: 512, height: 512, count: 1, guidance: 7.5 }), 1144);
    assert.equal(estimateImagineMemoryMB({ width: 1024, height: 1024, count: 2, guidance: 0 }), 16864);
    assert.doesNotThrow(
      () => checkMemoryBudget({ width: 1024, height: 1024, count: 4, guidance: 9 }, 0),
      'budget 0: none',
    );
  });

  it('requests over the budget are refused before queueing with the numbers; the default budget lets 1024x1024 through alone', async () => {
    const world = await colourWorldApp({ 'tasks.imagine.limits.memoryMB': 1000 });
    try {
      const send = async (args: Record<string, unknown>) => {
        const res = new RecordingResponder();
        await world.app.dispatcher.handle(
          request('imagine', { args: { prompt: 'a red square', ...args } }),
          res,
        );
        return res.reply;
      };
      const big = await send({ size: '512x512', count: 2 });
      assert.equal(big.error?.code, 'too_large');
      assert.equal(
        big.text,
        'That needs about 1.1 GB of memory (2 images at 512x512); this server allows 1 GB per picture request. Ask for fewer images or a smaller size.',
      );
      const guided = await send({ size: '512x512', model: 'v1-5', steps: 2 });
      assert.match(
        guided.text ?? '',
        /^That needs about 1\.1 GB of memory \(1 image at 512x512 with guidance\)/,
      );
      const stats = await world.app.executor.stats();
      assert.equal(stats.refused, 0, 'refused in parse: nothing was queued');
      assert.equal(stats.done, 0);
      const small = await send({ size: '128x128', count: 4, seed: 2 });
      assert.equal(small.error, undefined, small.text);
      assert.equal(small.images?.length, 4);
    } finally {
      await world.stop();
    }
    // The shipped default (16384 MiB) allows one 1024x1024 turbo image and refuses two.
    const defaults = loadConfig({ env: {}, overrides: {} }).tasks.imagine.limits.memoryMB;
    assert.equal(defaults, 16384);
    assert.doesNotThrow(() =>
      checkMemoryBudget({ width: 1024, height: 1024, count: 1, guidance: 0 }, defaults),
    );
    assert.throws(
      () => checkMemoryBudget({ width: 1024, height: 1024, count: 2, guidance: 0 }, defaults),
      (e) => isUserError(e) && e.code === 'too_large' && /16\.5 GB .*allows 16 GB/.test(e.message),
    );
  });
});

describe('a memory store that cannot be written (SQLite file read-only)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ro-memory-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('/ask still answers, with a note that it will not remember; /forget says nothing was forgotten; the log says why', async () => {
    const path = join(dir, 'memory.sqlite');
    const options = { path, maxTurns: 20, ttlSeconds: 3600 };
    const writable = new SqliteMemoryStore(options);
    await writable.append('test:hardening', { question: 'earlier?', answer: 'yes', at: Date.now() });
    await writable.close();
    // Tests run as root here, where chmod 0444 does not stop writes; SQLite opens a file it may not write
    // read-only, which is what `readonly: true` does.
    const store = new SqliteMemoryStore({ ...options, readonly: true });
    const seen: string[][] = [];
    const { run, lines, scheduler } = setup(
      fakeBackends({
        vqa: async ({ history }) => {
          seen.push(history.map((t) => t.question));
          return { answer: 'It is red.' };
        },
      }),
      { memory: store },
    );
    const png = await red();
    const ask = () =>
      run(
        request('ask', { args: { question: 'what colour is it?' }, images: [{ name: 'r.png', data: png }] }),
      );
    const reply = await ask();
    assert.equal(reply.error, undefined, reply.text);
    assert.equal(
      reply.text,
      "It is red.\n(Memory is unavailable right now: I can't remember this conversation.)",
    );
    assert.deepEqual(seen[0], ['earlier?'], 'what could be read was used');
    assert.ok(
      lines.some((l) => /memory store failed/.test(l) && /readonly/i.test(l)),
      'logged with the cause',
    );

    const forget = await run(request('forget'));
    assert.equal(forget.error?.code, 'not_available');
    assert.equal(forget.text, 'Conversation memory is unavailable right now.');
    assert.doesNotMatch(`${reply.text}${forget.text}`, UNSAFE);
    assert.equal((await ask()).error, undefined, 'the next request is served');
    assertAlive();
    await scheduler.stop();
    await store.close();
  });
});
