/**
 * Bad input end to end through the real adapters: the playground over HTTP (colour-world models), and
 * Discord (discord.js) and Slack (Bolt) against their local fakes. Each case: the user sees the specific
 * message, nothing is downloaded that need not be, the next request is served, no temp file is left.
 */
import './tmp-env.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { COMMANDS } from '../../src/commands/index.js';
import { startDiscord } from '../bot/discord/harness.js';
import { startPlayground } from '../bot/playground/harness.js';
import { startHarness as startSlack } from '../bot/slack/harness.js';
import { pngDeclaring, solidPng } from '../fakes/images.js';
import type { FakeMessage } from '../fakes/slack/server.js';
import { publicMessage } from '../fakes/slack/server.js';
import { assertAlive, colourWorldApp, red, tempEntries, UNSAFE } from './helpers.js';

const MB = 1024 * 1024;

describe('playground over HTTP (colour-world models)', () => {
  let world: Awaited<ReturnType<typeof colourWorldApp>>;
  let pg: Awaited<ReturnType<typeof startPlayground>>;
  before(async () => {
    world = await colourWorldApp();
    pg = await startPlayground({
      commands: [...COMMANDS],
      registry: world.app.registry,
      overrides: { 'tasks.imagine.size': '128x128', 'tasks.imagine.previewEvery': 0 },
    });
  });
  after(async () => {
    await pg.stop();
    await world.stop();
  });

  const served = async () => {
    const sent = await pg.send('/tags labels:red,green,blue', {
      files: [{ name: 'ok.png', bytes: await red() }],
    });
    assert.equal(sent.status, 202);
    assert.match((await pg.answerTo(sent.body.id)).text, /^Tags: red \d+%/);
  };

  it('a decompression-bomb upload is answered with the pixel limit; the next upload is served', async () => {
    const before = await tempEntries();
    const sent = await pg.send('/tags labels:red,green', {
      files: [{ name: 'bomb.png', bytes: await pngDeclaring(100_000, 100_000) }],
    });
    assert.equal(sent.status, 202);
    const answer = await pg.answerTo(sent.body.id);
    assert.equal(
      answer.text,
      'bomb.png is 100000×100000 pixels (10000 megapixels); the limit is 40 megapixels.',
    );
    assert.equal(answer.error?.code, 'image_too_large');
    assert.deepEqual(await tempEntries(), before);
    await served();
    assertAlive();
  });

  it('a 10,000-character message and 50 images are refused by HTTP with a reason; a long prompt by the command', async () => {
    const long = await pg.send(`/imagine ${'a red square '.repeat(800)}`);
    assert.deepEqual(long, {
      status: 400,
      body: { error: 'That message is too long (at most 4000 characters).' },
    });
    const bytes = await solidPng('#ff0000', 8);
    const fifty = await pg.send('/tags', {
      files: Array.from({ length: 50 }, (_, i) => ({ name: `p${i}.png`, bytes })),
    });
    assert.deepEqual(fifty, {
      status: 400,
      body: { error: 'Attach at most 4 images to one message (got 50).' },
    });
    const prompt = await pg.send(`/imagine ${'a'.repeat(3000)}`);
    assert.equal(prompt.status, 202);
    assert.equal(
      (await pg.answerTo(prompt.body.id)).text,
      '`prompt` is too long (3000 characters; at most 1000).',
    );
    await served();
  });

  it('RTL overrides and control characters in a prompt never reach the reply or the alt text', async () => {
    const sent = await pg.send('/imagine \u202Ea red\u0007 square\u2066 seed:5');
    const answer = await pg.answerTo(sent.body.id);
    assert.equal(answer.error, undefined, answer.text);
    assert.match(answer.text, /^"a red square" — seed 5/);
    assert.equal(
      answer.images[0]?.alt,
      'AI-generated: The image shows a plain red background with nothing else in it. Prompt: a red square',
    );
    assert.doesNotMatch(`${answer.text}${answer.images.map((i) => i.alt).join('')}`, UNSAFE);
    await served();
  });
});

describe('Discord through discord.js and the fake', () => {
  let h: Awaited<ReturnType<typeof startDiscord>>;
  const alice = { id: '100000000000000001', username: 'alice' };
  before(async () => {
    h = await startDiscord();
  });
  after(() => h.stop());

  const served = async () => {
    const file = h.fake.addAttachment({ filename: 'ok.png', data: await red() });
    const { token } = h.fake.interaction({
      kind: 'command',
      name: 'tags',
      user: alice,
      options: { image: file, labels: 'red, green' },
    });
    await h.fake.waitFor(
      (r) => r.path.includes(token) && /^Tags: red/.test(r.json?.content ?? '') && r.status === 200,
    );
  };

  it('a 100 MB attachment announced by size is refused, ephemerally, before any download', async () => {
    const hits = h.fake.cdnHits.length;
    const file = h.fake.addAttachment({ filename: 'huge.png', data: await red(), announcedSize: 100 * MB });
    const { token } = h.fake.interaction({
      kind: 'command',
      name: 'tags',
      user: alice,
      options: { image: file },
    });
    const reply = await h.fake.waitFor(
      (r) => r.path.includes(token) && /huge\.png/.test(r.json?.content ?? '') && r.status === 200,
    );
    assert.equal(reply.json.content, 'huge.png is 100 MB; the limit is 20 MB.');
    assert.equal(reply.json.flags, 64);
    assert.equal(h.fake.cdnHits.length, hits, 'nothing was downloaded');
    await served();
  });

  it('a decompression bomb attachment is refused from its header', async () => {
    const file = h.fake.addAttachment({ filename: 'bomb.png', data: await pngDeclaring(100_000, 100_000) });
    const { token } = h.fake.interaction({
      kind: 'command',
      name: 'tags',
      user: alice,
      options: { image: file },
    });
    const reply = await h.fake.waitFor(
      (r) => r.path.includes(token) && /bomb\.png/.test(r.json?.content ?? '') && r.status === 200,
    );
    assert.equal(
      reply.json.content,
      'bomb.png is 100000×100000 pixels (10000 megapixels); the limit is 40 megapixels.',
    );
    await served();
  });

  it('a question mentioning iris with 50 images is refused without downloading any of them', async () => {
    const hits = h.fake.cdnHits.length;
    const bytes = await solidPng('#ff0000', 8);
    const attachments = Array.from({ length: 50 }, (_, i) =>
      h.fake.addAttachment({ filename: `p${i}.png`, data: bytes }),
    );
    const question = h.fake.message({
      channelId: h.fake.channel.id,
      author: alice,
      content: `<@${h.fake.bot.id}> what colour?`,
      mentions: [h.fake.bot],
      attachments,
    });
    const reply = await h.fake.waitFor(
      (r) =>
        r.method === 'POST' &&
        r.path === `/channels/${h.fake.channel.id}/messages` &&
        r.json?.message_reference?.message_id === question.id,
    );
    assert.equal(
      reply.json.content,
      '/ask takes one image (got 50): ask about one at a time, or use /compare for 2 to 4.',
    );
    assert.equal(h.fake.cdnHits.length, hits, 'nothing was downloaded');
    await served();
    assertAlive();
  });
});

describe('Slack through Bolt and the fake', () => {
  let h: Awaited<ReturnType<typeof startSlack>>;
  before(async () => {
    h = await startSlack();
  });
  after(() => h.stop());

  const event = (m: FakeMessage) => h.event({ ...publicMessage(m), channel_type: 'channel', event_ts: m.ts });

  it('a mention with 50 images asks about the first only: one download, one answer', async () => {
    const files = await Promise.all(
      Array.from({ length: 50 }, async (_, i) =>
        h.fake.addFile({
          name: `p${i}.png`,
          bytes: await solidPng(i === 0 ? '#ff0000' : '#0000ff', 8),
          mimetype: 'image/png',
        }),
      ),
    );
    const message = h.fake.addMessage({
      channel: 'CGEN',
      user: 'UALICE',
      text: '<@UBOT> what colour?',
      files,
    });
    await event(message);
    const answer = await h.fake.waitForMessage((m) => m.thread_ts === message.ts && m.user === 'UBOT');
    assert.equal(answer.text, 'red; earlier: nothing');
    assert.deepEqual(
      h.fake.downloads.map((d) => d.fileId),
      [files[0]?.id],
      'only the image asked about was downloaded',
    );
  });

  it('a file announced at 100 MB is refused before download, to the asker only; the next question is answered', async () => {
    const before = h.fake.downloads.length;
    const file = h.fake.addFile({ name: 'huge.png', bytes: await red(), mimetype: 'image/png' });
    file.size = 100 * MB;
    const message = h.fake.addMessage({
      channel: 'CGEN',
      user: 'UALICE',
      text: '<@UBOT> what is it?',
      files: [file],
    });
    await event(message);
    const refusal = await h.fake.waitForCall('chat.postEphemeral', (c) => c.args.thread_ts === message.ts);
    assert.equal(refusal.args.user, 'UALICE');
    assert.match(String(refusal.args.text), /huge\.png is 100 MB; the limit is 20 MB\./);
    assert.equal(h.fake.downloads.length, before, 'nothing was downloaded');

    const ok = h.fake.addFile({ name: 'ok.png', bytes: await red(), mimetype: 'image/png' });
    const next = h.fake.addMessage({
      channel: 'CGEN',
      user: 'UALICE',
      text: '<@UBOT> and this?',
      files: [ok],
    });
    await event(next);
    const answer = await h.fake.waitForMessage((m) => m.thread_ts === next.ts && m.user === 'UBOT');
    assert.equal(answer.text, 'red; earlier: nothing');
    assertAlive();
  });
});
