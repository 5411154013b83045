/**
 * Trustworthy output on real backends: the colour world (src/demo/colourworld) behind the real registry
 * and scheduler. /imagine "a red square" draws a mostly red PNG, which the demo's colour classifier flags
 * when red is configured; BLIP-2 and SmolVLM report a confidence for their answers, and /ask turns it into the
 * "may be wrong" hint below config answers.lowConfidence.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type App, createApp } from '../../src/app.js';
import { LOW_CONFIDENCE_HINT } from '../../src/commands/ask.js';
import { loadConfig } from '../../src/config.js';
import type { BotRequest, Reply } from '../../src/contracts/request.js';
import { demoTaskTable, synthAll } from '../../src/demo/colourworld/index.js';
import type { TaskTable } from '../../src/models/table.js';
import { dominant } from '../fakes/colours.js';
import { solidPng } from '../fakes/images.js';
import { RecordingResponder } from '../fakes/responder.js';

let root = '';
const apps: App[] = [];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'iris-trust-'));
  await synthAll(root);
});
after(async () => {
  for (const app of apps) await app.stop();
  await rm(root, { recursive: true, force: true });
});

/** An app on the colour-world models, with the demo's task table (its colour classifier) when asked. */
function newApp(overrides: Record<string, unknown>, table?: TaskTable): App {
  const app = createApp(
    loadConfig({
      env: {},
      overrides: {
        'models.dir': root,
        'memory.store': 'memory',
        'log.level': 'silent',
        'tasks.imagine.size': '128x128',
        ...overrides,
      },
      ...(table && { table }),
    }),
    { ...(table && { table }) },
  );
  apps.push(app);
  return app;
}

let n = 0;
async function send(app: App, command: string, fields: Partial<BotRequest>): Promise<Reply> {
  const res = new RecordingResponder();
  await app.dispatcher.handle(
    {
      id: `cw${++n}`,
      platform: 'test',
      command,
      args: {},
      images: [],
      conversation: `test:cw${n}`,
      user: { id: 'alice' },
      signal: new AbortController().signal,
      ...fields,
    },
    res,
  );
  return res.reply;
}

describe('the colour classifier on real colour-world Stable Diffusion', () => {
  test('"a red square" is withheld with a clear message; "a blue square" is posted', async () => {
    const app = newApp(
      {
        'tasks.safety': { backend: 'colour', model: 'colour-world', options: {} },
        'safety.classes': ['red'],
        'safety.threshold': 0.5,
      },
      demoTaskTable(),
    );
    const red = await send(app, 'imagine', { args: { prompt: 'a red square', seed: 1 } });
    assert.equal(red.images, undefined);
    assert.equal(red.error?.code, 'blocked');
    assert.equal(red.text, 'Image 1 was withheld by the safety check (it may not be suitable to post here).');
    const blue = await send(app, 'imagine', { args: { prompt: 'a blue square', seed: 1 } });
    assert.equal(blue.error, undefined, blue.text);
    assert.equal((await dominant(blue.images?.[0]?.png as Buffer)).colour, 'blue');
    assert.equal(
      blue.images?.[0]?.altText,
      'AI-generated: The image shows a plain blue background with nothing else in it. Prompt: a blue square',
    );
  });

  test('with the default classifier (nsfwjs) the same red square is posted (the colour rule withheld it)', async () => {
    const app = newApp({});
    const red = await send(app, 'imagine', { args: { prompt: 'a red square', seed: 1 } });
    assert.equal(red.error, undefined, red.text);
    assert.equal((await dominant(red.images?.[0]?.png as Buffer)).colour, 'red');
  });
});

for (const backend of ['blip2', 'smolvlm'] as const) {
  const vqa =
    backend === 'blip2'
      ? { backend, model: 'Salesforce/blip2-opt-2.7b', options: { maxNewTokens: 10 } }
      : { backend, model: 'HuggingFaceTB/SmolVLM-256M-Instruct', options: { maxNewTokens: 10 } };
  describe(`${backend}: the answer's confidence and the hint`, () => {
    test('a confident colour-world answer has no hint; a threshold above its confidence adds it', async () => {
      const image = [{ name: 'red.png', data: await solidPng('#ff0000', 64) }];
      const question = { question: 'what colour is it?' };
      const sure = await send(newApp({ 'tasks.vqa': vqa }), 'ask', { args: question, images: image });
      assert.equal(sure.error, undefined, sure.text);
      const { answer, confidence } = sure.data as { answer: string; confidence?: number };
      assert.match(answer, /red/);
      assert.equal(typeof confidence, 'number', 'the backend reports a confidence');
      // Colour-world answers are confident but not certain (BLIP-2 ≈ 0.90, SmolVLM ≈ 0.95 here).
      assert.ok((confidence as number) > 0.3 && (confidence as number) < 1, `confidence ${confidence}`);
      assert.equal(sure.text, answer, 'no hint above the default threshold');

      const strict = newApp({ 'tasks.vqa': vqa, 'answers.lowConfidence': 1 });
      const unsure = await send(strict, 'ask', { args: question, images: image });
      const again = unsure.data as { confidence: number };
      assert.equal(again.confidence, confidence, 'same image, same question, same confidence');
      assert.equal(unsure.text, `${answer}\n${LOW_CONFIDENCE_HINT}`);
    });
  });
}
