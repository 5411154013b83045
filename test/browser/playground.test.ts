import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { COMMANDS } from '../../src/commands/index.js';
import { startPlayground } from '../bot/playground/harness.js';
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

/** False (the test skipped) where Debian's chromium is not installed; CI must have it. */
function haveChromium(t: TestContext): boolean {
  if (existsSync(CHROMIUM)) return true;
  const why = `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does)`;
  if (process.env.CI === 'true') assert.fail(why);
  t.skip(why);
  return false;
}

test('`npm start` with no token and no models, in headless Chromium: the page says it runs demo models; /tags, /imagine, an upload gets alt text', async (t) => {
  if (!haveChromium(t)) return;
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

/**
 * What a hostile page open in the same browser tries: a no-cors post, a form post (multipart and
 * url-encoded), a fetch with a guessed token header, reading the history and its event stream.
 */
function attackPage(target: string): string {
  return `<!doctype html><html><body><script type="module">
const target = ${JSON.stringify(target)};
const results = {};
const attempt = async (name, fn) => {
  try { results[name] = await fn(); } catch (e) { results[name] = 'blocked: ' + e.name; }
};
const form = () => { const f = new FormData(); f.set('text', '/alttext mode:off scope:channel'); return f; };
await attempt('noCorsPost', async () => (await fetch(target + 'api/messages', { method: 'POST', mode: 'no-cors', body: form() })).type);
await attempt('guessedToken', async () => (await fetch(target + 'api/messages', { method: 'POST', headers: { 'x-iris-token': 'guess' }, body: form() })).status);
await attempt('readHistory', async () => (await fetch(target + 'api/messages')).text());
await attempt('events', () => new Promise((resolve) => {
  const events = new EventSource(target + 'api/events');
  events.onmessage = (e) => { events.close(); resolve('read: ' + e.data); };
  events.onerror = () => { events.close(); resolve('blocked'); };
}));
for (const enctype of ['multipart/form-data', 'application/x-www-form-urlencoded', 'text/plain']) {
  await new Promise((resolve) => {
    const frame = Object.assign(document.createElement('iframe'), { name: 'f' + enctype.length });
    frame.onload = resolve;
    document.body.append(frame);
    const f = Object.assign(document.createElement('form'), { method: 'POST', action: target + 'api/messages', enctype, target: frame.name });
    f.append(Object.assign(document.createElement('input'), { name: 'text', value: '/alttext mode:off scope:channel' }));
    document.body.append(f);
    f.submit();
  });
}
window.results = results;
</script></body></html>`;
}

test('in Chromium a page from another origin cannot post to the playground or read it; the page itself works', async (t) => {
  if (!haveChromium(t)) return;
  const pg = await startPlayground();
  const { port } = new URL(pg.url);
  const attacker = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end(attackPage(pg.url));
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  const attackerPort = (attacker.address() as AddressInfo).port;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // A DNS-rebinding name: it resolves to the playground's own address.
    args: [...ARGS, '--host-resolver-rules=MAP rebind.test 127.0.0.1'],
  });
  try {
    // Another site (localhost ≠ 127.0.0.1) and the same site on another port: both are other origins.
    for (const origin of [`http://localhost:${attackerPort}/`, `http://127.0.0.1:${attackerPort}/`]) {
      const page = await browser.newPage();
      await page.goto(origin);
      const results = (await (
        await page.waitForFunction(() => (globalThis as { results?: unknown }).results)
      ).jsonValue()) as Record<string, unknown>;
      assert.match(String(results.guessedToken), /^blocked/, `${origin}: the preflight fails`);
      assert.match(String(results.readHistory), /^blocked/, `${origin}: the history is not readable`);
      assert.match(String(results.events), /^blocked/, `${origin}: the event stream is not readable`);
      await page.close();
    }
    // After rebinding, the attacker's name is same-origin with the playground for the browser.
    const rebound = await browser.newPage();
    const response = await rebound.goto(`http://rebind.test:${port}/`);
    assert.equal(response?.status(), 403);
    const read = await rebound.evaluate(async () => (await fetch('/api/messages')).status);
    assert.equal(read, 403, 'a rebinding name reads no history');
    await rebound.close();

    const history = (await (await fetch(`${pg.url}api/messages`)).json()) as unknown[];
    assert.deepEqual(history, [], 'no attack reached the channel');
    assert.equal(pg.sse.messages.length, 0);

    // The playground's own page still works.
    const page = await browser.newPage();
    await page.goto(pg.url);
    await page.locator('body[data-connected="true"]').waitFor();
    const tags = await say(page, '/tags labels:red,green,blue', {
      name: 'red.png',
      buffer: await solidPng('#ff0000', 64),
    });
    assert.match(await tags.locator('.text').innerText(), /^Tags: red \d+%/);
    const again = await say(page, '/alttext mode:off');
    assert.match(await again.locator('.text').innerText(), /alt text/i);
  } finally {
    await browser.close();
    attacker.close();
    await pg.stop();
  }
});
