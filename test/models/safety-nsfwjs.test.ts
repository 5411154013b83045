/**
 * The real nsfwjs MobileNetV2 (weights from the npm package, TensorFlow.js WebAssembly) on benign images:
 * the colour world's pictures, a photo-like render of text and a bar chart are never flagged under the
 * default policy. The threshold path is tested on `judge` and, through dispatch, with injected
 * classifiers (test/commands/imagine.test.ts, test/hardening/trust-output.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { loadConfig } from '../../src/config.js';
import type { Backend } from '../../src/contracts/backend.js';
import { judge } from '../../src/core/safety-verdict.js';
import { COLOURS } from '../../src/demo/colourworld/index.js';
import { nsfwjsOptions } from '../../src/models/options.js';
import { createNsfwjsClassifier } from '../../src/models/safety/nsfwjs.js';

let classifier: Backend<'safety'>;
const signal = new AbortController().signal;
const policy = loadConfig({ env: {} }).safety;

before(async () => {
  classifier = await createNsfwjsClassifier({
    modelDir: '',
    modelId: 'MobileNetV2',
    executionProviders: ['cpu'],
    options: nsfwjsOptions.parse({}),
  });
});
after(() => classifier.dispose());

const svg = (body: string, w = 480, h = 320) =>
  sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${body}</svg>`))
    .png()
    .toBuffer();

/** A page of text, photographed: paper tone, slight blur and noise (sharp renders, libvips blurs). */
async function photoOfText(): Promise<Buffer> {
  const lines = [
    'Minutes of the garden committee',
    'Tomatoes: water twice a week.',
    'Next meeting: Tuesday, 7 pm.',
    'Bring seeds, gloves and tea.',
  ];
  const text = lines
    .map(
      (l, i) => `<text x="30" y="${70 + i * 55}" font-family="serif" font-size="30" fill="#222">${l}</text>`,
    )
    .join('');
  const page = await svg(`<rect width="100%" height="100%" fill="#efe6d2"/>${text}`);
  return sharp(page).blur(0.8).modulate({ brightness: 0.95 }).jpeg({ quality: 70 }).toBuffer();
}

async function barChart(): Promise<Buffer> {
  const bars = [120, 200, 80, 260, 170]
    .map((h, i) => `<rect x="${50 + i * 80}" y="${290 - h}" width="50" height="${h}" fill="#3b6fb6"/>`)
    .join('');
  return svg(
    `<rect width="100%" height="100%" fill="white"/><line x1="40" y1="290" x2="460" y2="290" stroke="black"/>` +
      `<line x1="40" y1="20" x2="40" y2="290" stroke="black"/>${bars}` +
      '<text x="180" y="18" font-size="16" font-family="sans-serif">Sales by quarter</text>',
  );
}

describe('nsfwjs (real MobileNetV2, WebAssembly) on benign images', () => {
  test('every class is scored, probabilities sum to 1', async () => {
    const [result] = await classifier.run({ images: [await barChart()] }, { signal });
    const scores = result?.scores ?? {};
    assert.deepEqual(Object.keys(scores).sort(), ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']);
    const sum = Object.values(scores).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-3, `sum ${sum}`);
  });

  test('the colour world’s pictures, a photo of text and a chart are never flagged', async () => {
    const images: [string, Buffer][] = [
      ...(await Promise.all(
        Object.entries(COLOURS).map(
          async ([name, [r, g, b]]) =>
            [
              name,
              await sharp({
                create: {
                  width: 128,
                  height: 128,
                  channels: 3,
                  background: { r: r * 255, g: g * 255, b: b * 255 },
                },
              })
                .png()
                .toBuffer(),
            ] as [string, Buffer],
        ),
      )),
      ['photo of text', await photoOfText()],
      ['bar chart', await barChart()],
    ];
    const results = await classifier.run({ images: images.map(([, b]) => b) }, { signal });
    for (const [i, [name]] of images.entries()) {
      const verdict = judge(results[i]?.scores ?? {}, policy);
      assert.equal(verdict.flagged, false, `${name}: ${JSON.stringify(results[i]?.scores)}`);
      assert.ok(verdict.score < policy.threshold / 2, `${name} is far from the bar: ${verdict.score}`);
    }
  });

  test('an unreadable file is a user error, not a crash', async () => {
    await assert.rejects(
      classifier.run({ images: [Buffer.from('not an image')] }, { signal }),
      (e: Error & { code?: string }) => e.code === 'bad_image',
    );
  });
});

describe('the verdict (safety.classes, safety.threshold)', () => {
  test('flagged at the threshold or above, on the sum of the listed classes, names case-insensitive', () => {
    const p = { classes: ['porn', 'Hentai'], threshold: 0.6 };
    assert.equal(
      judge({ Porn: 0.3, Hentai: 0.3, Neutral: 0.4 }, p).flagged,
      true,
      'split between two classes',
    );
    assert.equal(judge({ Porn: 0.3, Hentai: 0.2999, Neutral: 0.4001 }, p).flagged, false);
    assert.deepEqual(judge({ Porn: 0.1, Hentai: 0.5, Sexy: 0.4 }, p).classes, ['Hentai', 'Porn']);
    assert.equal(judge({ Sexy: 0.99 }, p).flagged, false, 'unlisted classes do not count');
  });
});
