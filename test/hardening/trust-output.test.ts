/**
 * Trustworthy output, through the dispatch funnel with fake backends: one alt-text policy
 * on every image reply (label, platform caps, language from config), the /imagine safety hook from
 * config (a flagged image is not posted; the user is told), the "may be wrong" hint on low-confidence
 * answers (/ask, /compare), /privacy and what /forget deletes.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { LOW_CONFIDENCE_HINT } from '../../src/commands/ask.js';
import { imagineAltText } from '../../src/commands/imagine-params.js';
import { COMMANDS } from '../../src/commands/index.js';
import { loadConfig } from '../../src/config.js';
import type { TaskIO } from '../../src/contracts/backend.js';
import type { BotRequest, Reply } from '../../src/contracts/request.js';
import { altTextLimit, buildAltText } from '../../src/core/alttext.js';
import { SqliteImageIndex } from '../../src/core/image-index-sqlite.js';
import { MemoryMapStore } from '../../src/core/memory.js';
import { MemorySettingsStore } from '../../src/core/settings.js';
import { colourShares } from '../../src/demo/colourworld/index.js';
import { fakeBackends, neutralSafety } from '../fakes/backends.js';
import { dominant } from '../fakes/colours.js';
import { testDispatcher } from '../fakes/dispatcher.js';
import { solidPng } from '../fakes/images.js';
import { RecordingResponder } from '../fakes/responder.js';

type Runners = Parameters<typeof fakeBackends>[0];

/** An imagine backend that paints image i in the i-th colour word of the prompt. */
const painter: Runners['imagine'] = async (input) => {
  const words = input.prompt.split(/\W+/).filter((w) => ['red', 'blue', 'green'].includes(w));
  const images = await Promise.all(
    Array.from({ length: input.count }, async (_, i) => ({
      png: await solidPng(words[i % Math.max(1, words.length)] ?? 'white', 64),
      width: 64,
      height: 64,
      seed: input.seed + i,
    })),
  );
  return { images, scheduler: 'euler', steps: input.steps };
};

function setup(o: { runners: Runners; overrides?: Record<string, unknown> }) {
  const config = loadConfig({ env: {}, overrides: { 'memory.store': 'memory', ...o.overrides } });
  const backends = fakeBackends(o.runners);
  const memory = new MemoryMapStore(config.memory);
  const settings = new MemorySettingsStore();
  const imageIndex = new SqliteImageIndex({
    path: ':memory:',
    ttlSeconds: config.imageIndex.ttlSeconds,
    maxPerChannel: config.imageIndex.maxPerChannel,
  });
  const { dispatcher, scheduler } = testDispatcher({
    config,
    registry: backends,
    deps: { memory, settings, imageIndex },
  });
  let n = 0;
  const send = async (fields: Partial<BotRequest> & { command: string }): Promise<Reply> => {
    const res = new RecordingResponder();
    await dispatcher.handle(
      {
        id: `t${++n}`,
        platform: 'discord',
        args: {},
        images: [],
        conversation: 'discord:100',
        user: { id: 'alice' },
        signal: new AbortController().signal,
        ...fields,
      },
      res,
    );
    return res.reply;
  };
  return {
    config,
    backends,
    memory,
    settings,
    imageIndex,
    send,
    stop: async () => {
      await scheduler.stop();
      await imageIndex.close();
    },
  };
}

describe('one alt-text policy on every image reply', () => {
  test('every command file that writes alt text builds it with src/core/alttext.ts', async () => {
    const dir = join(import.meta.dirname, '../../src/commands');
    const offenders: string[] = [];
    const writers: string[] = [];
    for (const file of await readdir(dir)) {
      const text = await readFile(join(dir, file), 'utf8');
      if (!/\baltText\b/.test(text)) continue;
      writers.push(file);
      const usesPolicy = /from '\.\.\/core\/alttext\.js'/.test(text) || /\bimagineAltText\(/.test(text);
      if (!usesPolicy) offenders.push(file);
    }
    assert.deepEqual(
      writers.sort(),
      ['caption.ts', 'find.ts', 'imagine.ts'],
      'the commands whose replies carry alt text',
    );
    assert.deepEqual(offenders, []);
  });

  for (const platform of ['discord', 'slack', 'playground']) {
    test(`${platform}: /imagine, /caption and /find replies follow the policy (label, cap, never empty)`, async () => {
      const long = `a red square ${'with many small details '.repeat(80)}`;
      const h = setup({
        runners: {
          imagine: painter,
          safety: neutralSafety,
          caption: async () => ({ caption: long }),
          // Many boxes: a description longer than any cap.
          find: async ({ object }) => ({
            boxes: Array.from({ length: 60 }, (_, i) => ({
              label: `${object} ${i}`,
              box: { x1: 0, y1: 0, x2: 8, y2: 8 },
            })),
          }),
        },
        overrides: { 'altText.maxLength': 1024 },
      });
      try {
        const policy = h.config.altText;
        const limit = altTextLimit(policy, platform);
        const images: string[] = [];
        const drawn = await h.send({
          command: 'imagine',
          platform,
          args: { prompt: long.slice(0, 200), count: 2 },
        });
        assert.equal(drawn.error, undefined, drawn.text);
        for (const [i, image] of (drawn.images ?? []).entries()) {
          images.push(image.altText);
          assert.equal(
            image.altText,
            imagineAltText(
              { prompt: long.slice(0, 200).trim(), caption: long },
              { policy, platform, index: i, count: 2 },
            ),
          );
        }
        const described = await h.send({
          command: 'caption',
          platform,
          images: [{ name: 'r.png', data: await solidPng('#ff0000') }],
        });
        const alt = (described.data as { altText: string }).altText;
        images.push(alt);
        assert.equal(alt, buildAltText({ caption: long }, { policy, platform }));
        const found = await h.send({
          command: 'find',
          platform,
          args: { object: 'red square' },
          images: [{ name: 'r.png', data: await solidPng('#ff0000') }],
        });
        assert.equal(found.error, undefined, found.text);
        assert.equal(found.images?.length, 1);
        images.push(found.images?.[0]?.altText as string);
        assert.equal(images.length, 4);
        for (const text of images) {
          assert.ok(text.startsWith('AI-generated: '), text);
          assert.ok(text.length <= limit, `${text.length} ≤ ${limit}`);
          assert.ok(text.length > 'AI-generated: '.length);
        }
      } finally {
        await h.stop();
      }
    });
  }

  test('altText.language reaches the captioner and the policy (Turkish capitals)', async () => {
    const seen: TaskIO['caption']['in'][] = [];
    const h = setup({
      runners: {
        caption: async (input) => {
          seen.push(input);
          return { caption: 'istanbul at night' };
        },
      },
      overrides: { 'altText.language': 'tr', 'altText.label': 'YZ:' },
    });
    try {
      const reply = await h.send({
        command: 'caption',
        images: [{ name: 'r.png', data: await solidPng('#ff0000') }],
      });
      assert.equal((reply.data as { altText: string }).altText, 'YZ: İstanbul at night');
      assert.deepEqual(
        seen.map((s) => s.language),
        ['tr', 'tr'],
      );
    } finally {
      await h.stop();
    }
    assert.throws(
      () => loadConfig({ env: {}, overrides: { 'altText.language': 'not a language' } }),
      /language tag/,
    );
  });
});

describe('image safety check before posting (config safety)', () => {
  /** The colour world's classifier as the injected backend: a mostly red image scores red ≈ 1. */
  const colours: Runners['safety'] = async ({ images }) =>
    Promise.all(images.map(async (png) => ({ scores: await colourShares(png) })));
  const redIsUnsafe = { 'safety.classes': ['red'], 'safety.threshold': 0.5 };

  test('a flagged image is not posted and the user is told; the others are', async () => {
    const h = setup({ runners: { imagine: painter, safety: colours }, overrides: redIsUnsafe });
    try {
      const only = await h.send({ command: 'imagine', args: { prompt: 'a red square' } });
      assert.equal(only.images, undefined);
      assert.equal(only.error?.code, 'blocked');
      assert.equal(
        only.text,
        'Image 1 was withheld by the safety check (it may not be suitable to post here).',
      );

      const pair = await h.send({ command: 'imagine', args: { prompt: 'red then blue', count: 2 } });
      assert.equal(pair.error, undefined, pair.text);
      assert.equal(pair.images?.length, 1);
      assert.equal((await dominant(pair.images?.[0]?.png as Buffer)).colour, 'blue');
      assert.match(pair.text ?? '', /Image 1 was withheld by the safety check/);

      const fine = await h.send({ command: 'imagine', args: { prompt: 'a blue square' } });
      assert.equal(fine.images?.length, 1);
      assert.doesNotMatch(fine.text ?? '', /withheld/);
    } finally {
      await h.stop();
    }
  });

  test('blocklist mode refuses listed prompt words and checks no image; off checks nothing', async () => {
    for (const [mode, refused] of [
      ['blocklist', true],
      ['off', false],
    ] as const) {
      const h = setup({
        runners: { imagine: painter },
        overrides: { ...redIsUnsafe, 'tasks.imagine.blocklist': ['red'], 'safety.imagine.mode': mode },
      });
      try {
        const reply = await h.send({ command: 'imagine', args: { prompt: 'a red square' } });
        if (refused) {
          assert.equal(reply.error?.code, 'blocked');
          assert.match(reply.text ?? '', /The prompt contains "red", which is not allowed here/);
          assert.equal(h.backends.calls.length, 0, 'refused before any model ran');
        } else {
          assert.equal(reply.error, undefined, reply.text);
          assert.equal(reply.images?.length, 1, 'off: the red image is posted');
        }
        assert.ok(!h.backends.calls.some((c) => c.task === 'safety'), `${mode}: no image was scored`);
      } finally {
        await h.stop();
      }
    }
    assert.equal(loadConfig({ env: {} }).safety.imagine.mode, 'classifier', 'the classifier is the default');
  });

  test('a classifier that fails means nothing is posted unchecked', async () => {
    const h = setup({
      runners: {
        imagine: painter,
        safety: async () => {
          throw new Error('classifier crashed');
        },
      },
    });
    try {
      const reply = await h.send({ command: 'imagine', args: { prompt: 'a blue square' } });
      assert.equal(reply.images, undefined, 'nothing is posted unchecked');
      assert.equal(reply.error?.internal, true);
    } finally {
      await h.stop();
    }
  });
});

describe('uploads (config safety.uploads)', () => {
  const unsafe: Runners['safety'] = async ({ images }) =>
    images.map(() => ({ scores: { Porn: 0.95, Neutral: 0.05 } }));
  const captioner: Runners['caption'] = async () => ({ caption: 'a red square' });

  test('flag: a flagged upload gets a note on the reply; the request is still served', async () => {
    const h = setup({
      runners: { caption: captioner, safety: unsafe },
      overrides: { 'safety.uploads': 'flag' },
    });
    try {
      const reply = await h.send({
        command: 'caption',
        images: [{ name: 'r.png', data: await solidPng('#ff0000') }],
      });
      assert.equal(reply.error, undefined, reply.text);
      assert.match(reply.text ?? '', /A red square/);
      assert.match(
        reply.text ?? '',
        /\nNote: the safety check flagged this image \(r\.png\) as possibly sensitive\.$/,
      );
    } finally {
      await h.stop();
    }
  });

  test('off (default): uploads are not scored', async () => {
    const h = setup({ runners: { caption: captioner, safety: unsafe } });
    try {
      const reply = await h.send({
        command: 'caption',
        images: [{ name: 'r.png', data: await solidPng('#ff0000') }],
      });
      assert.doesNotMatch(reply.text ?? '', /safety check/);
      assert.ok(!h.backends.calls.some((c) => c.task === 'safety'));
      assert.equal(loadConfig({ env: {} }).safety.uploads, 'off');
    } finally {
      await h.stop();
    }
  });
});

describe('"may be wrong" hint on low-confidence answers', () => {
  const image = async (c = '#ff0000') => [{ name: 'r.png', data: await solidPng(c) }];

  test('/ask: below answers.lowConfidence the hint is added; above, or unknown, it is not', async () => {
    const confidences = [0.1, 0.9, undefined, 0.29999, 0.3];
    const h = setup({
      runners: {
        vqa: async () => {
          const confidence = confidences.shift();
          return { answer: 'red', ...(confidence !== undefined && { confidence }) };
        },
      },
    });
    try {
      const texts: string[] = [];
      for (let i = 0; i < 5; i++) {
        const reply = await h.send({ command: 'ask', args: { question: 'colour?' }, images: await image() });
        texts.push(reply.text ?? '');
      }
      assert.deepEqual(texts, [
        `red\n${LOW_CONFIDENCE_HINT}`,
        'red',
        'red',
        `red\n${LOW_CONFIDENCE_HINT}`,
        'red',
      ]);
    } finally {
      await h.stop();
    }
  });

  test('the threshold comes from config', async () => {
    const h = setup({
      runners: { vqa: async () => ({ answer: 'red', confidence: 0.9 }) },
      overrides: { 'answers.lowConfidence': 0.95 },
    });
    try {
      const reply = await h.send({ command: 'ask', args: { question: 'colour?' }, images: await image() });
      assert.equal(reply.text, `red\n${LOW_CONFIDENCE_HINT}`);
      assert.equal((reply.data as { confidence: number }).confidence, 0.9);
    } finally {
      await h.stop();
    }
  });

  test('/compare: per-image answers take the least sure one; one-shot answers take the backend’s', async () => {
    const scores = [0.9, 0.1, 0.8, 0.7];
    const h = setup({
      runners: { vqa: async () => ({ answer: 'a square', confidence: scores.shift() as number }) },
    });
    try {
      const images = [...(await image('#ff0000')), { name: 'b.png', data: await solidPng('#0000ff') }];
      const unsure = await h.send({ command: 'compare', args: {}, images });
      assert.ok(unsure.text?.endsWith(`\n${LOW_CONFIDENCE_HINT}`), unsure.text);
      assert.equal((unsure.data as { confidence: number }).confidence, 0.1);
      const sure = await h.send({ command: 'compare', args: {}, images });
      assert.ok(!sure.text?.includes(LOW_CONFIDENCE_HINT), sure.text);
    } finally {
      await h.stop();
    }
  });
});

describe('/privacy and /forget', () => {
  test('/privacy lists what is stored, for how long (from config), and that /forget deletes it', async () => {
    const h = setup({
      runners: {},
      overrides: {
        'memory.ttlSeconds': 3600,
        'memory.maxTurns': 12,
        'imageIndex.ttlSeconds': 2592000,
        'imageIndex.channels': ['discord:100'],
      },
    });
    try {
      const on = await h.send({ command: 'privacy' });
      assert.equal(on.ephemeral, true);
      const text = on.text ?? '';
      assert.match(text, /last 12 questions and answers of this conversation .* for 1 hour/);
      assert.match(text, /Image memory \(\/similar\) is on here: .* for 30 days/);
      assert.match(text, /Your settings/);
      assert.match(text, /logs/i);
      assert.match(text, /\/forget deletes this conversation’s memory, its image memory and your settings/);
      const off = await h.send({ command: 'privacy', conversation: 'discord:200' });
      assert.match(off.text ?? '', /Image memory \(\/similar\) is off here: nothing is indexed/);
      assert.ok(
        COMMANDS.some((c) => c.name === 'privacy'),
        'registered',
      );
    } finally {
      await h.stop();
    }
  });

  test('/forget deletes this conversation’s memory and image memory and the caller’s settings only', async () => {
    const h = setup({ runners: {} });
    try {
      const turn = { question: 'q', answer: 'a', at: Date.now() };
      const vector = new Float32Array([1, 0]);
      const entry = { link: 'l', author: 'alice', name: 'x.png', at: Date.now(), hash: 'h', vector };
      for (const key of ['discord:100', 'discord:200', 'slack:100']) {
        await h.memory.append(key, turn);
        await h.imageIndex.add(key, entry);
      }
      await h.settings.set('alttext:user:discord:alice', 'off');
      await h.settings.set('alttext:user:discord:bob', 'off');
      await h.settings.set('alttext:user:slack:alice', 'off');
      await h.settings.set('alttext:channel:discord:100', 'on');

      const reply = await h.send({ command: 'forget' });
      assert.match(reply.text ?? '', /forgot this conversation, its image memory and your settings/);

      assert.deepEqual(await h.memory.recent('discord:100', 10), []);
      assert.equal(await h.imageIndex.count('discord:100'), 0);
      assert.equal(await h.settings.get('alttext:user:discord:alice'), undefined);
      // Everything else stays: other conversations, the same channel id on another platform, other users.
      assert.equal((await h.memory.recent('discord:200', 10)).length, 1);
      assert.equal((await h.memory.recent('slack:100', 10)).length, 1);
      assert.equal(await h.imageIndex.count('discord:200'), 1);
      assert.equal(await h.imageIndex.count('slack:100'), 1);
      assert.equal(await h.settings.get('alttext:user:discord:bob'), 'off');
      assert.equal(await h.settings.get('alttext:user:slack:alice'), 'off');
      assert.equal(
        await h.settings.get('alttext:channel:discord:100'),
        'on',
        'an admin’s channel choice stays',
      );
    } finally {
      await h.stop();
    }
  });
});
