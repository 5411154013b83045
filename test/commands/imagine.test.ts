import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import sharp from 'sharp';
import { type App, createApp, mediaSettings } from '../../src/app.js';
import { verifyPng } from '../../src/cli/verify.js';
import { imagineCommand } from '../../src/commands/imagine.js';
import { decodeImagineButton } from '../../src/commands/imagine-buttons.js';
import { loadConfig } from '../../src/config.js';
import type { BackendProvider } from '../../src/contracts/backend.js';
import type { BotRequest, Reply } from '../../src/contracts/request.js';
import { Dispatcher } from '../../src/core/dispatch.js';
import { readPngText } from '../../src/core/provenance/png-text.js';
import { synthAll } from '../../src/demo/colourworld/index.js';
import { scriptedSafety } from '../fakes/backends.js';
import { dominant } from '../fakes/colours.js';
import { capturingLogger } from '../fakes/log.js';
import { RecordingResponder } from '../fakes/responder.js';

let root = '';
let app: App;

/** An iris process; `memory` names its SQLite file (same name: the memory survives a restart). */
function newApp(memory = 'memory.sqlite'): App {
  return createApp(
    loadConfig({
      env: {},
      overrides: {
        'models.dir': root,
        'memory.path': join(root, memory),
        'log.level': 'silent',
        'tasks.imagine.blocklist': ['dragon', 'blood bath'],
        'tasks.imagine.size': '128x128',
        'tasks.imagine.previewEvery': 2,
      },
    }),
  );
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'iris-imagine-'));
  await synthAll(root);
  app = newApp();
});
after(async () => {
  await app.stop();
  await rm(root, { recursive: true, force: true });
});

let n = 0;
function request(args: Record<string, unknown>, fields: Partial<BotRequest> = {}): BotRequest {
  return {
    id: `img${++n}`,
    platform: 'test',
    command: 'imagine',
    args,
    images: [],
    conversation: 'test:chan',
    user: { id: 'alice' },
    signal: new AbortController().signal,
    ...fields,
  };
}

async function imagine(
  args: Record<string, unknown>,
  on: App = app,
): Promise<{ reply: Reply; res: RecordingResponder }> {
  const res = new RecordingResponder();
  await on.dispatcher.handle(request(args), res);
  return { reply: res.reply, res };
}

type Data = {
  prompt: string;
  negative: string | null;
  model: string;
  images: { seed: number; width: number; height: number }[];
  notes: string[];
};

describe('/imagine through the dispatch funnel (colour world, real registry and scheduler)', () => {
  it('"a red square" → a mostly red PNG with alt text, parameters, metadata and buttons', async () => {
    const { reply, res } = await imagine({ prompt: 'a red square', seed: 7 });
    assert.equal(reply.error, undefined, reply.text);
    assert.equal(reply.images?.length, 1);
    const image = reply.images?.[0];
    assert.ok(image);
    // What the picture shows (the colour-world Florence-2 caption names its colour), then the prompt.
    assert.equal(
      image.altText,
      'AI-generated: The image shows a plain red background with nothing else in it. Prompt: a red square',
    );
    assert.equal(image.name, 'iris-7.png');
    assert.equal((await dominant(image.png)).colour, 'red');
    assert.equal(reply.text, '"a red square" — seed 7, 1 step, Euler, turbo, 128x128');
    assert.match(readPngText(image.png).parameters ?? '', /Seed: 7, Size: 128x128, Model: turbo/);
    assert.deepEqual(
      reply.buttons?.map((b) => b.label),
      ['Reroll', 'Vary'],
    );
    assert.ok(reply.buttons?.every((b) => b.id.length <= 100));
    const steps = res.events.flatMap((e) =>
      e.type === 'progress' && e.p.kind === 'running' ? [e.p.step] : [],
    );
    assert.deepEqual(steps, [1]);
  });

  it('inline --ar/--seed/--no and the model option are honoured', async () => {
    const { reply } = await imagine({
      prompt: 'a blue square --ar 2:1 --seed 9 --no red',
      model: 'v1-5',
      steps: 4,
    });
    assert.equal(reply.error, undefined, reply.text);
    const data = reply.data as Data;
    assert.equal(data.prompt, 'a blue square');
    assert.equal(data.negative, 'red');
    assert.equal(data.model, 'v1-5');
    assert.deepEqual(data.images[0], {
      seed: 9,
      width: 192,
      height: 64,
      name: 'iris-9.png',
      altText:
        'AI-generated: The image shows a plain blue background with nothing else in it. Prompt: a blue square',
    });
    const png = reply.images?.[0]?.png as Buffer;
    const meta = await sharp(png).metadata();
    assert.deepEqual([meta.width, meta.height], [192, 64]);
    assert.equal((await dominant(png)).colour, 'blue');
    assert.match(reply.text ?? '', /guidance 7\.5, v1-5, 192x64/);
  });

  it('progress previews come every previewEvery steps', async () => {
    const { res } = await imagine({ prompt: 'a green square', model: 'v1-5', steps: 5, scheduler: 'ddim' });
    const running = res.events.flatMap((e) => (e.type === 'progress' && e.p.kind === 'running' ? [e.p] : []));
    assert.deepEqual(
      running.map((p) => p.step),
      [1, 2, 3, 4, 5],
    );
    assert.deepEqual(
      running.filter((p) => p.preview).map((p) => p.step),
      [2, 4],
    );
  });

  const refusals: [string, Record<string, unknown>, string, RegExp][] = [
    [
      'a 4096×4096 request',
      { prompt: 'a red square', size: '4096x4096' },
      'bad_option',
      /4096x4096 is too large: at most 1024 pixels a side/,
    ],
    [
      'steps 1000',
      { prompt: 'a red square', steps: 1000 },
      'bad_option',
      /steps must be from 1 to 4 for turbo \(got 1000\)/,
    ],
    [
      'steps 1000 on v1-5',
      { prompt: 'a red square', steps: 1000, model: 'v1-5' },
      'bad_option',
      /from 1 to 100 for v1-5/,
    ],
    ['an empty prompt', { prompt: '   ' }, 'bad_option', /needs a prompt/],
    ['a prompt of parameters only', { prompt: '--seed 3 --ar 1:1' }, 'bad_option', /needs a prompt/],
    [
      'a blocked word',
      { prompt: 'A red DRAGON, at night' },
      'blocked',
      /contains "dragon", which is not allowed here/,
    ],
    ['a blocked phrase', { prompt: 'a blood-bath' }, 'blocked', /"blood bath"/],
    [
      'an unknown model',
      { prompt: 'a cat', model: 'sdxl' },
      'bad_option',
      /Unknown model sdxl\. Models: turbo or v1-5/,
    ],
    ['an unknown inline parameter', { prompt: 'a cat --chaos 5' }, 'bad_option', /Unknown parameter --chaos/],
    ['size not a multiple of 64', { prompt: 'a cat', size: '500x300' }, 'bad_option', /multiples of 64/],
  ];
  for (const [what, args, code, message] of refusals) {
    it(`${what} gets a clear message before anything is queued`, async () => {
      const before = await app.executor.stats();
      const { reply } = await imagine(args);
      assert.equal(reply.error?.code, code);
      assert.match(reply.text ?? '', message);
      const after = await app.executor.stats();
      assert.equal(after.done + after.failed, before.done + before.failed, 'nothing ran');
    });
  }

  it('a blocked prompt never loads the model', async () => {
    const fresh = newApp();
    try {
      const { reply } = await imagine({ prompt: 'a dragon' }, fresh);
      assert.equal(reply.error?.code, 'blocked');
      assert.equal(fresh.registry.status().find((s) => s.task === 'imagine')?.state, 'ready');
    } finally {
      await fresh.stop();
    }
  });

  it('cancel mid-run stops within one step and frees the GPU slot', async () => {
    const abort = new AbortController();
    const res = new RecordingResponder().onProgress((p) => {
      if (p.kind === 'running' && p.step === 3) abort.abort();
    });
    await app.dispatcher.handle(
      request(
        { prompt: 'a red square', model: 'v1-5', steps: 60, scheduler: 'ddim' },
        { signal: abort.signal },
      ),
      res,
    );
    assert.equal(res.reply.error?.code, 'cancelled');
    const steps = res.events.flatMap((e) =>
      e.type === 'progress' && e.p.kind === 'running' ? [e.p.step] : [],
    );
    assert.deepEqual(steps, [1, 2, 3]);
    assert.equal((await app.executor.stats()).queues.gpu?.running, 0);
    const { reply } = await imagine({ prompt: 'a blue square', seed: 1 });
    assert.equal(reply.error, undefined, 'the next job gets the slot');
  });

  it('Reroll: the button id alone reproduces the request with a new seed', async () => {
    const first = await imagine({
      prompt: 'a green square',
      seed: 5,
      negative: 'red',
      model: 'v1-5',
      steps: 3,
      count: 2,
    });
    const reroll = first.reply.buttons?.find((b) => b.label === 'Reroll');
    assert.ok(reroll);
    // Pressed as every adapter delivers it: { button: id }.
    const { reply } = await imagine({ button: reroll.id });
    const data = reply.data as Data;
    assert.equal(data.prompt, 'a green square');
    assert.equal(data.negative, 'red');
    assert.equal(data.images.length, 2);
    assert.notEqual(data.images[0]?.seed, 5);
    assert.equal((await dominant(reply.images?.[1]?.png as Buffer)).colour, 'green');
  });

  it('Vary works after a restart: the source image is recreated from its seed', async () => {
    const first = await imagine({ prompt: 'a red square', seed: 11, count: 2 });
    const vary2 = first.reply.buttons?.find((b) => b.label === 'Vary 2');
    assert.ok(vary2);
    const restarted = newApp();
    try {
      const { reply } = await imagine({ button: vary2.id }, restarted);
      assert.equal(reply.error, undefined, reply.text);
      assert.match(reply.text ?? '', /variation \(strength 0\.6\)/);
      assert.equal(reply.images?.length, 1);
      assert.equal((await dominant(reply.images?.[0]?.png as Buffer)).colour, 'red');
    } finally {
      await restarted.stop();
    }
  });

  it('a long prompt is kept in the settings store for its buttons (across a restart); when it is lost the cut prompt is used', async () => {
    const prompt = `a blue square ${'with very fine detail '.repeat(8)}`.trim();
    const first = await imagine({ prompt, seed: 3 });
    const reroll = first.reply.buttons?.[0];
    assert.ok(reroll && reroll.id.length <= 100);
    const hash = String(decodeImagineButton(reroll.id).args.prompt_hash);
    const kept = await app.settings.get(`imagine-prompt:${hash}`);
    assert.deepEqual(JSON.parse(kept ?? '{}'), { prompt, negative: '' }, 'kept as a setting');
    assert.deepEqual(
      await app.memory.recent(`imagine-prompt:${hash}`, 1),
      [],
      'not a conversation turn in memory',
    );
    const again = await imagine(decodeImagineButton(reroll.id).args);
    assert.equal((again.reply.data as Data).prompt, prompt);
    const restarted = newApp();
    const lost = newApp('other.sqlite');
    try {
      const after = await imagine(decodeImagineButton(reroll.id).args, restarted);
      assert.equal((after.reply.data as Data).prompt, prompt, 'the SQLite settings survive the restart');
      const cut = await imagine(decodeImagineButton(reroll.id).args, lost);
      const data = cut.reply.data as Data;
      assert.ok(prompt.startsWith(data.prompt) && data.prompt.length < prompt.length);
      assert.match(cut.reply.text ?? '', /has expired; used its first words/);
    } finally {
      await restarted.stop();
      await lost.stop();
    }
  });

  it('the alt text describes the picture, not only the prompt: "a red square" drawn blue says blue', async () => {
    // --no red at guidance pushes nothing here; a prompt naming blue draws blue whatever the words say
    const { reply } = await imagine({ prompt: 'a lighthouse at dusk, blue', seed: 4 });
    assert.equal(reply.error, undefined, reply.text);
    const alt = reply.images?.[0]?.altText ?? '';
    assert.equal((await dominant(reply.images?.[0]?.png as Buffer)).colour, 'blue');
    assert.match(
      alt,
      /^AI-generated: The image shows a plain blue background.*\. Prompt: a lighthouse at dusk, blue$/,
    );
  });

  it('without a caption model the alt text is the prompt alone, and the log says why', async () => {
    const { log, lines } = capturingLogger();
    const config = loadConfig({
      env: {},
      overrides: {
        'models.dir': root,
        'memory.store': 'memory',
        'tasks.imagine.size': '128x128',
        'tasks.caption.model': 'nowhere/no-such-model',
      },
    });
    const bare = createApp(config, { log });
    try {
      const { reply } = await imagine({ prompt: 'a green square', seed: 1 }, bare);
      assert.equal(reply.error, undefined, reply.text);
      assert.equal(reply.images?.[0]?.altText, 'AI-generated: A green square');
      assert.ok(
        lines.some((l) => /caption backend unavailable; alt text is the prompt alone/.test(l)),
        lines.join(''),
      );
    } finally {
      await bare.stop();
    }
  });

  it('every generated PNG carries provenance XMP (IPTC trainedAlgorithmicMedia, iris, model id, seed)', async () => {
    const { reply } = await imagine({ prompt: 'a red <square> & "more"', seed: 11 });
    assert.equal(reply.error, undefined, reply.text);
    const png = reply.images?.[0]?.png as Buffer;
    const xmp = readPngText(png)['XML:com.adobe.xmp'] ?? '';
    // Parsed as XML, the way exiftool-style readers see it
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' }).parse(xmp);
    const description = doc['x:xmpmeta']['rdf:RDF']['rdf:Description'];
    assert.equal(
      description['@Iptc4xmpExt:DigitalSourceType'],
      'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia',
    );
    assert.equal(description['@xmlns:Iptc4xmpExt'], 'http://iptc.org/std/Iptc4xmpExt/2008-02-29/');
    assert.equal(description['@xmp:CreatorTool'], 'iris');
    assert.equal(description['@Iptc4xmpExt:AISystemUsed'], 'onnxruntime/sd-turbo');
    assert.equal(description['@iris:Seed'], '11');
    assert.deepEqual(verifyPng('x.png', png), {
      file: 'x.png',
      iris: true,
      aiGenerated: true,
      digitalSourceType: 'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia',
      generator: 'iris',
      model: 'onnxruntime/sd-turbo',
      seed: 11,
      prompt: 'a red <square> & "more"',
      parameters: readPngText(png).parameters,
    });
    // sharp (libvips) finds the packet where image tools look for it
    const meta = await sharp(png).metadata();
    assert.match(meta.xmp?.toString('utf8') ?? '', /trainedAlgorithmicMedia/);
  });

  it('the default blocklist refuses "a naked person" before anything is queued or loaded', async () => {
    const fresh = createApp(
      loadConfig({ env: {}, overrides: { 'models.dir': root, 'memory.store': 'memory' } }),
    );
    try {
      const before = await fresh.executor.stats();
      const res = new RecordingResponder();
      await fresh.dispatcher.handle(request({ prompt: 'A NAKED person, photo' }), res);
      assert.equal(res.reply.error?.code, 'blocked');
      assert.equal(
        res.reply.text,
        'The prompt contains "naked", which is not allowed here. Change the prompt and try again.',
      );
      assert.deepEqual(await fresh.executor.stats(), before, 'nothing was queued');
      assert.ok(fresh.registry.status().every((m) => m.state !== 'loaded' && m.state !== 'loading'));
      const ok = await imagine({ prompt: 'a nakedness-free red square', seed: 1 }, fresh);
      assert.equal(ok.reply.error, undefined, 'whole words only');
    } finally {
      await fresh.stop();
    }
  });

  it('flagged images are withheld, or posted behind a spoiler (Discord) or blurred, per safety.imagine.action', async () => {
    // The classifier is injected through the registry: the second image of each request scores Porn 0.9.
    const classifier = scriptedSafety((n) =>
      n % 2 === 1 ? { Porn: 0.9, Neutral: 0.1 } : { Porn: 0.1, Neutral: 0.9 },
    );
    const registry: BackendProvider = {
      get: async (task, select) =>
        task === 'safety'
          ? ({ task, id: 'fake', model: 'fake', run: classifier, dispose: async () => {} } as never)
          : app.registry.get(task, select),
      status: () => app.registry.status(),
      queueOf: app.registry.queueOf,
    };
    const run = async (action: 'block' | 'spoiler', platform: string) => {
      const config = loadConfig({
        env: {},
        overrides: { 'models.dir': root, 'tasks.imagine.size': '128x128', 'safety.imagine.action': action },
      });
      const dispatcher = new Dispatcher({
        commands: [imagineCommand],
        executor: app.executor,
        registry,
        config,
        log: app.log,
        media: mediaSettings(config),
      });
      const res = new RecordingResponder();
      await dispatcher.handle(request({ prompt: 'a red square', seed: 20, count: 2 }, { platform }), res);
      return res.reply;
    };
    const blocked = await run('block', 'discord');
    assert.equal(blocked.images?.length, 1);
    assert.match(blocked.text ?? '', /Image 2 was withheld by the safety check/);

    const spoiler = await run('spoiler', 'discord');
    assert.deepEqual(
      spoiler.images?.map((i) => i.spoiler),
      [undefined, true],
    );
    assert.match(spoiler.text ?? '', /Image 2 is behind a spoiler/);
    assert.equal(
      spoiler.images?.[1]?.altText,
      'AI-generated: A picture hidden because the safety check flagged it as possibly sensitive. Prompt: a red square (image 2 of 2)',
      'the alt text does not describe what the spoiler hides',
    );

    const blurredReply = await run('spoiler', 'slack');
    assert.equal(blurredReply.images?.length, 2);
    assert.equal(blurredReply.images?.[1]?.spoiler, undefined);
    assert.match(blurredReply.text ?? '', /Image 2 is blurred/);
    const [sharpStats, blurStats] = await Promise.all(
      (blurredReply.images ?? []).map(async (i) => (await sharp(i.png).stats()).sharpness),
    );
    assert.ok((blurStats as number) <= (sharpStats as number), 'the flagged one is blurred');
  });
});
