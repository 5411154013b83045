import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { similarCommand } from '../../../src/commands/similar.js';
import { SqliteImageIndex } from '../../../src/core/image-index-sqlite.js';
import { COLOURS, solidPng } from '../../fakes/images.js';
import { type FakeMessage, publicMessage } from '../../fakes/slack/server.js';
import { type Harness, startHarness, testCommands } from './harness.js';

/** The workspace URL the fake's auth.test returns: the base of every permalink. */
const WORKSPACE = 'https://fake.slack.com/';
const THREAD = '1600000000.000100';

let h: Harness;
const index = new SqliteImageIndex({ path: ':memory:', ttlSeconds: 3600, maxPerChannel: 100 });
before(async () => {
  h = await startHarness({
    commands: [...testCommands(), similarCommand],
    imageIndex: index,
    // Image memory is per channel: CTHR's thread replies are remembered because CTHR opted in.
    overrides: { 'imageIndex.channels': ['slack:CGEN', 'slack:COTHER', 'slack:CTHR'] },
  });
});
after(async () => {
  await h.stop();
  await index.close();
});

async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(ok(), `timed out waiting for ${what}`);
}

async function postImage(o: {
  channel: string;
  colour: keyof typeof COLOURS;
  text?: string;
  threadTs?: string;
}) {
  const file = h.fake.addFile({
    name: `${o.colour}.png`,
    bytes: await solidPng(COLOURS[o.colour]),
    mimetype: 'image/png',
    user: 'UBOB',
  });
  return h.fake.addMessage({
    channel: o.channel,
    user: 'UBOB',
    text: o.text ?? '',
    files: [file],
    thread_ts: o.threadTs,
  });
}

/** Deletes the message in the fake and sends Slack's message_deleted event for it. */
async function remove(m: FakeMessage, channel = m.channel, eventId?: string): Promise<void> {
  const at = h.fake.messages.indexOf(m);
  if (at >= 0 && channel === m.channel) h.fake.messages.splice(at, 1);
  const res = await h.event(
    {
      type: 'message',
      subtype: 'message_deleted',
      hidden: true,
      channel,
      ts: h.fake.nextTs(),
      deleted_ts: m.ts,
      event_ts: h.fake.nextTs(),
      previous_message: publicMessage(m),
    },
    { eventId },
  );
  assert.equal(res.status, 200);
}

/** Runs a slash command in CGEN and returns iris's final answer (the message that matches). */
async function slash(command: string, text: string, answer: RegExp): Promise<string> {
  const seen = new Set(h.fake.messages);
  await h.command({ command, text, channel_id: 'CGEN' });
  const reply = await h.fake.waitForMessage(
    (m) => !seen.has(m) && m.user === 'UBOT' && m.channel === 'CGEN' && answer.test(m.text ?? ''),
  );
  return reply.text ?? '';
}

const link = (channel: string, ts: string) => `${WORKSPACE}archives/${channel}/p${ts.replace('.', '')}`;

test('Slack: an image is remembered with its permalink; message_deleted removes exactly that message', async () => {
  const red = await postImage({ channel: 'CGEN', colour: 'red' });
  // /caption uses the latest image in the channel: that message's permalink goes with it.
  await slash('/caption', '', /red square/i);
  assert.equal(await index.count('slack:CGEN'), 1);
  const found = await slash('/similar', '', /similar earlier images/);
  // UALICE ran /caption on UBOB's upload: the image is remembered as UBOB's.
  assert.match(found, new RegExp(`1\\. ${link('CGEN', red.ts).replace(/[.?]/g, '\\$&')} — posted by UBOB,`));
  assert.equal(await index.count('slack:CGEN'), 2, '/similar remembered its query image, same message');
  // By text: the typed text is the query, the channel's latest image is not added to it.
  const byText = await slash('/similar', 'text:red', /earlier images/);
  assert.match(byText, /^Most similar earlier images:\n1\. https:\/\/fake\.slack\.com\/archives\/CGEN\/p/);
  assert.equal(await index.count('slack:CGEN'), 2, 'a text query stores nothing');

  // The same ts in another channel, and a message never indexed: nothing goes.
  await remove(red, 'COTHER');
  const never = h.fake.addMessage({ channel: 'CGEN', user: 'UBOB', text: 'just words' });
  await remove(never);
  await until(() => h.deletions.length === 2, 'two deletions');
  assert.deepEqual(h.deletions.slice(0, 2), [
    { conversation: 'slack:COTHER', link: link('COTHER', red.ts) },
    { conversation: 'slack:CGEN', link: link('CGEN', never.ts) },
  ]);
  assert.equal(await index.count('slack:CGEN'), 2);

  // The real delete, delivered twice with one event_id (a Slack retry): handled once.
  await remove(red, 'CGEN', 'EvDELETE1');
  await remove(red, 'CGEN', 'EvDELETE1');
  await until(() => h.deletions.length === 3, 'the red message deletion');
  assert.equal(await index.count('slack:CGEN'), 0);
  const marker = await slash('/echo', 'after the retry', /^echo: after the retry$/);
  assert.ok(marker);
  assert.equal(h.deletions.length, 3, 'the retried event did not run again');
  assert.ok(h.logs.some((l) => l.includes('EvDELETE1') && l.includes('duplicate event ignored')));
  // With the image gone from the channel, /similar by text finds nothing.
  assert.match(
    await slash('/similar', 'text:red', /earlier images/),
    /^No earlier images in this channel yet/,
  );
});

test('Slack: an image in a thread reply is remembered in its channel with the thread permalink; deleting the reply forgets it', async () => {
  h.fake.addMessage({ channel: 'CTHR', user: 'UBOB', text: 'a thread', ts: THREAD });
  const green = await postImage({
    channel: 'CTHR',
    colour: 'green',
    text: '<@UBOT> what colour is this?',
    threadTs: THREAD,
  });
  await h.event({ ...publicMessage(green), channel_type: 'channel', event_ts: green.ts });
  await h.fake.waitForMessage(
    (m) => m.user === 'UBOT' && m.thread_ts === THREAD && /^green/.test(m.text ?? ''),
  );
  const key = 'slack:CTHR';
  const stored = await index.search(key, Float32Array.from([0, 1, 0, 0.1]), 5);
  assert.deepEqual(
    stored.map((s) => s.image.link),
    [`${link('CTHR', green.ts)}?thread_ts=${THREAD}&cid=CTHR`],
  );
  const before = h.deletions.length;
  await remove(green);
  await until(() => h.deletions.length === before + 1, 'the thread reply deletion');
  assert.deepEqual(h.deletions.at(-1), {
    conversation: `slack:CTHR:${THREAD}`,
    link: `${link('CTHR', green.ts)}?thread_ts=${THREAD}&cid=CTHR`,
  });
  assert.equal(await index.count(key), 0);
});
