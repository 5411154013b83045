import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { COMMANDS } from '../../src/commands/index.js';
import { localEnv, startIris, waitForOutput } from '../cli/start-harness.js';
import { solidPng } from '../fakes/images.js';

const CHROMIUM = '/usr/bin/chromium';
/** Git-ignored: screenshots for a person to look at after a run. */
const OUTPUT_DIR = join(process.cwd(), 'test-output');
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Sends what a person types (and attaches) and returns iris's finished answer: its text and image. */
async function say(page: Page, text: string, file?: { name: string; buffer: Buffer }) {
  const before = await page.locator('article.iris').count();
  if (file)
    await page.setInputFiles('#files', { name: file.name, mimeType: 'image/png', buffer: file.buffer });
  await page.fill('#text', text);
  await page.click('#send');
  const answer = page.locator('article.iris').nth(before);
  await answer.and(page.locator('[data-pending="false"]')).waitFor({ timeout: 45_000 });
  return answer;
}

test('`npm start` with no token and no models, in headless Chromium: the page says it runs demo models; /tags, /imagine, an upload gets alt text', async (t) => {
  if (!existsSync(CHROMIUM)) {
    const why = `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does)`;
    if (process.env.CI === 'true') assert.fail(why);
    t.skip(why);
    return;
  }
  const { env, cleanup } = await localEnv();
  // A fresh clone: an empty models folder and no platform token; `npm start` passes no flag.
  const models = await mkdtemp(join(tmpdir(), 'iris-fresh-models-'));
  const iris = startIris([], { ...env, IRIS_MODELS_DIR: models });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  try {
    const block = await waitForOutput(iris, /iris is ready/);
    const url = /playground: open (http:\S+) in a browser/.exec(block)?.[1] as string;
    const page = await browser.newPage();
    await page.goto(url);
    await page.locator('body[data-connected="true"]').waitFor();

    const banner = page.locator('#banner');
    assert.ok(await banner.isVisible(), 'the demo banner is shown');
    const said = await banner.innerText();
    assert.match(said, /Demo models/);
    assert.match(said, /red, green, blue, yellow, cyan, magenta, black, white/);
    assert.equal(await banner.locator('code').innerText(), 'npx iris models pull');

    // No labels: the demo's default label set (its colours) ranks red first.
    const tags = await say(page, '/tags', { name: 'red.png', buffer: await solidPng('#ff0000', 64) });
    assert.match(await tags.locator('.text').innerText(), /^Tags: red \d+%, \w+ \d/);

    if (COMMANDS.some((c) => c.name === 'imagine')) {
      const drawn = await say(page, '/imagine a red square');
      const img = drawn.locator('img').first();
      const alt = await img.getAttribute('alt');
      assert.ok(alt && alt.trim().length > 0, 'the generated image has alt text');
      const src = await img.evaluate((el) => (el as unknown as { src: string }).src);
      const png = Buffer.from(await (await fetch(src)).arrayBuffer());
      const [r, g, b] = (await sharp(png).stats()).channels.map((c) => c.mean);
      assert.ok((r ?? 0) > 150 && (g ?? 255) < 100 && (b ?? 255) < 100, `mostly red: ${r}, ${g}, ${b}`);
    } else {
      t.diagnostic('/imagine is not in this build: its part of the test did not run');
    }

    const alt = await say(page, '', { name: 'green.png', buffer: await solidPng('#00ff00', 64) });
    const altText = await alt.locator('.text').innerText();
    assert.match(altText, /^Alt text: \S/);

    await mkdir(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUTPUT_DIR, 'playground.png'), fullPage: true });
  } finally {
    await browser.close();
    iris.kill('SIGTERM');
    await once(iris, 'exit');
    await rm(models, { recursive: true, force: true });
    await cleanup();
  }
});
