import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { COLOURS, solidPng } from '../../fakes/images.js';
import { type FakeMessage, publicMessage } from '../../fakes/slack/server.js';
import { ALT_CHANNEL, type Harness, startHarness } from './harness.js';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.stop());

function messageEvent(m: FakeMessage): Record<string, unknown> {
  return { ...publicMessage(m), channel_type: 'channel', event_ts: m.ts };
}

async function postImage(options: {
  channel: string;
  colour: keyof typeof COLOURS;
  text?: string;
  threadTs?: string;
  user?: string;
}) {
  const file = h.fake.addFile({
    name: `${options.colour}.png`,
    bytes: await solidPng(COLOURS[options.colour]),
    mimetype: 'image/png',
  });
  const message = h.fake.addMessage({
    channel: options.channel,
    user: options.user ?? 'UALICE',
    text: options.text ?? '',
    files: [file],
    thread_ts: options.threadTs,
  });
  return { file, message };
}

function repliesIn(channel: string, threadTs: string): FakeMessage[] {
  return h.fake.messages.filter(
    (m) => m.channel === channel && m.thread_ts === threadTs && m.user === 'UBOT',
  );
}

test('an image posted in an alt-text channel gets a threaded alt-text reply; the file is fetched with the bot token', async () => {
  const { file, message } = await postImage({ channel: ALT_CHANNEL, colour: 'red' });
  const res = await h.event(messageEvent(message));
  assert.equal(res.status, 200);
  const reply = await h.fake.waitForMessage((m) => m.thread_ts === message.ts && m.user === 'UBOT');
  assert.equal(reply.text, 'Alt text: AI-generated: A red square\nCaption: A red square');
  assert.equal(reply.channel, ALT_CHANNEL);
  assert.deepEqual(
    h.fake.downloads.filter((d) => d.fileId === file.id),
    [{ fileId: file.id, authorized: true }],
  );
});

test('an upload of several images gets alt text for every one, past the per-user concurrent-jobs cap', async () => {
  const colours = ['red', 'green', 'blue', 'red', 'green'] as const; // 5 > scheduler.perUserConcurrent (3)
  const files = await Promise.all(
    colours.map(async (colour, i) =>
      h.fake.addFile({
        name: `${colour}-${i}.png`,
        bytes: await solidPng(COLOURS[colour]),
        mimetype: 'image/png',
      }),
    ),
  );
  const message = h.fake.addMessage({ channel: ALT_CHANNEL, user: 'UALICE', text: '', files });
  await h.event(messageEvent(message));
  for (let i = 0; i < 500 && repliesIn(ALT_CHANNEL, message.ts).length < colours.length; i++)
    await new Promise((r) => setTimeout(r, 20));
  const texts = repliesIn(ALT_CHANNEL, message.ts).map((m) => m.text ?? '');
  assert.equal(texts.length, colours.length, texts.join('\n'));
  for (const colour of new Set(colours))
    assert.equal(
      texts.filter((t) => t.includes(`A ${colour} square`)).length,
      colours.filter((c) => c === colour).length,
    );
});

test('the same event delivered three times (Slack retries) and its file_shared event give one reply', async () => {
  const { file, message } = await postImage({ channel: ALT_CHANNEL, colour: 'green' });
  const event = messageEvent(message);
  const eventId = 'EvRETRIED1';
  for (const retryNum of [undefined, 1, 2]) {
    const res = await h.event(event, { eventId, retryNum });
    assert.equal(res.status, 200, 'every delivery is acknowledged');
  }
  await h.event({
    type: 'file_shared',
    file_id: file.id,
    user_id: 'UALICE',
    channel_id: ALT_CHANNEL,
    event_ts: message.ts,
  });
  await h.fake.waitForMessage((m) => m.thread_ts === message.ts && m.user === 'UBOT');
  // Control: a later upload is answered; by then any duplicate would have been too.
  const control = await postImage({ channel: ALT_CHANNEL, colour: 'blue' });
  await h.event(messageEvent(control.message));
  const controlReply = await h.fake.waitForMessage(
    (m) => m.thread_ts === control.message.ts && m.user === 'UBOT',
  );
  assert.equal(controlReply.text, 'Alt text: AI-generated: A blue square\nCaption: A blue square');
  assert.equal(repliesIn(ALT_CHANNEL, message.ts).length, 1);
  assert.equal(h.fake.downloads.filter((d) => d.fileId === file.id).length, 1);
});

test('file_shared alone (no message event) also gets the alt-text reply, found through files.info', async () => {
  const { message, file } = await postImage({ channel: ALT_CHANNEL, colour: 'blue' });
  await h.event({
    type: 'file_shared',
    file_id: file.id,
    user_id: 'UALICE',
    channel_id: ALT_CHANNEL,
    event_ts: message.ts,
  });
  const reply = await h.fake.waitForMessage((m) => m.thread_ts === message.ts && m.user === 'UBOT');
  assert.equal(reply.text, 'Alt text: AI-generated: A blue square\nCaption: A blue square');
});

test('no alt text outside enabled channels, and none for bot messages', async () => {
  const elsewhere = await postImage({ channel: 'COTHER', colour: 'red' });
  await h.event(messageEvent(elsewhere.message));
  const fromBot = await postImage({ channel: ALT_CHANNEL, colour: 'red', user: 'UOTHERBOT' });
  await h.event({ ...messageEvent(fromBot.message), bot_id: 'BOTHER', subtype: 'bot_message' });
  const control = await postImage({ channel: ALT_CHANNEL, colour: 'green' });
  await h.event(messageEvent(control.message));
  await h.fake.waitForMessage((m) => m.thread_ts === control.message.ts && m.user === 'UBOT');
  assert.equal(repliesIn('COTHER', elsewhere.message.ts).length, 0);
  assert.equal(repliesIn(ALT_CHANNEL, fromBot.message.ts).length, 0);
  assert.equal(h.fake.downloads.filter((d) => d.fileId === fromBot.file.id).length, 0);
});

test('a question in a thread under an image is answered in the thread; a follow-up remembers the first', async () => {
  const { message } = await postImage({ channel: 'CGEN', colour: 'green' });
  await h.event(messageEvent(message)); // not an alt-text channel: nothing happens for the upload itself
  const q1 = h.fake.addMessage({
    channel: 'CGEN',
    user: 'UBOB',
    text: 'what colour is it?',
    thread_ts: message.ts,
  });
  await h.event(messageEvent(q1));
  const a1 = await h.fake.waitForMessage((m) => m.thread_ts === message.ts && m.user === 'UBOT');
  assert.equal(a1.text, 'green; earlier: nothing');
  // No question mark, no mention: still a question, because iris already answers in this thread.
  const q2 = h.fake.addMessage({
    channel: 'CGEN',
    user: 'UBOB',
    text: 'and the shape',
    thread_ts: message.ts,
  });
  await h.event(messageEvent(q2));
  const a2 = await h.fake.waitForMessage(
    (m) => m.thread_ts === message.ts && m.user === 'UBOT' && m.ts !== a1.ts,
  );
  assert.equal(a2.text, 'green; earlier: what colour is it?');
});

test('chat in a thread iris is not part of, with no question, is left alone', async () => {
  const { message } = await postImage({ channel: 'CGEN', colour: 'red' });
  const chat = h.fake.addMessage({ channel: 'CGEN', user: 'UBOB', text: 'nice one', thread_ts: message.ts });
  await h.event(messageEvent(chat));
  const control = h.fake.addMessage({
    channel: 'CGEN',
    user: 'UBOB',
    text: 'is it red?',
    thread_ts: message.ts,
  });
  await h.event(messageEvent(control));
  const answer = await h.fake.waitForMessage((m) => m.thread_ts === message.ts && m.user === 'UBOT');
  assert.equal(answer.text, 'red; earlier: nothing', 'only the question was asked');
  assert.equal(repliesIn('CGEN', message.ts).length, 1);
});

test('mentioning iris with an image starts a thread conversation about it', async () => {
  const { message } = await postImage({ channel: 'CGEN', colour: 'blue', text: '<@UBOT> what is this' });
  await h.event(messageEvent(message));
  const answer = await h.fake.waitForMessage((m) => m.thread_ts === message.ts && m.user === 'UBOT');
  assert.equal(answer.text, 'blue; earlier: nothing');
  const ask = h.fake.callsTo('chat.postMessage').find((c) => c.args.thread_ts === message.ts);
  assert.equal(ask?.args.channel, 'CGEN');
});

test("a file whose link serves Slack's sign-in page is refused as not an image, in a message to the asker only", async () => {
  const { message, file } = await postImage({ channel: 'CGEN', colour: 'red', text: '<@UBOT> describe' });
  file.signInPageOnly = true;
  await h.event(messageEvent(message));
  const refusal = await h.fake.waitForCall('chat.postEphemeral', (c) => c.args.thread_ts === message.ts);
  assert.equal(refusal.args.user, 'UALICE');
  assert.match(String(refusal.args.text), /red\.png is not an image \(expected PNG, JPEG, WebP or GIF\)/);
  assert.equal(repliesIn('CGEN', message.ts).length, 0);
});

test('/alttext mode:off opts a user out of auto alt text; mode:on opts back in', async () => {
  await h.command({ command: '/alttext', text: 'mode:off', user_id: 'UQUIET', channel_id: ALT_CHANNEL });
  const confirm = await h.fake.waitForCall('chat.postEphemeral', (c) => c.args.user === 'UQUIET');
  assert.match(String(confirm.args.text), /no longer add alt text to your uploads/);
  const quiet = await postImage({ channel: ALT_CHANNEL, colour: 'red', user: 'UQUIET' });
  await h.event(messageEvent(quiet.message));
  const control = await postImage({ channel: ALT_CHANNEL, colour: 'green' });
  await h.event(messageEvent(control.message));
  await h.fake.waitForMessage((m) => m.thread_ts === control.message.ts && m.user === 'UBOT');
  assert.equal(repliesIn(ALT_CHANNEL, quiet.message.ts).length, 0);
  assert.equal(h.fake.downloads.filter((d) => d.fileId === quiet.file.id).length, 0, 'not even downloaded');

  await h.command({ command: '/alttext', text: 'on', user_id: 'UQUIET', channel_id: ALT_CHANNEL });
  await h.fake.waitForCall(
    'chat.postEphemeral',
    (c) => c.args.user === 'UQUIET' && /will add alt text/.test(String(c.args.text)),
  );
  const back = await postImage({ channel: ALT_CHANNEL, colour: 'blue', user: 'UQUIET' });
  await h.event(messageEvent(back.message));
  const reply = await h.fake.waitForMessage((m) => m.thread_ts === back.message.ts && m.user === 'UBOT');
  assert.equal(reply.text, 'Alt text: AI-generated: A blue square\nCaption: A blue square');
});

test('a workspace admin turns auto alt text on for a channel; a non-admin may not', async () => {
  await h.command({
    command: '/alttext',
    text: 'mode:on scope:channel',
    user_id: 'UNOBODY',
    channel_id: 'CNEW',
  });
  const refused = await h.fake.waitForCall('chat.postEphemeral', (c) => c.args.user === 'UNOBODY');
  assert.match(String(refused.args.text), /Only server admins/);
  h.fake.admins.add('UBOSS');
  await h.command({
    command: '/alttext',
    text: 'mode:on scope:channel',
    user_id: 'UBOSS',
    channel_id: 'CNEW',
  });
  await h.fake.waitForCall('chat.postEphemeral', (c) => c.args.user === 'UBOSS');
  const { message } = await postImage({ channel: 'CNEW', colour: 'green' });
  await h.event(messageEvent(message));
  const reply = await h.fake.waitForMessage((m) => m.thread_ts === message.ts && m.user === 'UBOT');
  assert.equal(reply.text, 'Alt text: AI-generated: A green square\nCaption: A green square');
});

test('/ask without an image continues the conversation; a question to iris uses the channel image; other words get a pointer to /help', async () => {
  const channel = 'CASK';
  await postImage({ channel, colour: 'red' });
  await h.command({ command: '/ask', text: 'what colour is it?', channel_id: channel });
  await h.fake.waitForMessage(
    (m) => m.channel === channel && m.user === 'UBOT' && /red; earlier: nothing/.test(m.text ?? ''),
  );
  await h.command({ command: '/ask', text: 'what did I ask before?', channel_id: channel });
  await h.fake.waitForMessage(
    (m) =>
      m.channel === channel && m.user === 'UBOT' && /red; earlier: what colour is it\?$/.test(m.text ?? ''),
  );

  // A question to iris with no image of its own is about the channel's image, like /ask; it starts a
  // thread, and a follow-up there (iris answers in it) continues that conversation.
  const question = h.fake.addMessage({ channel, user: 'UBOB', text: '<@UBOT> what colour is it?' });
  await h.event(messageEvent(question));
  const first = await h.fake.waitForMessage((m) => m.thread_ts === question.ts && m.user === 'UBOT');
  assert.equal(first.text, 'red; earlier: nothing');
  const followUp = h.fake.addMessage({ channel, user: 'UBOB', text: 'and before?', thread_ts: question.ts });
  await h.event(messageEvent(followUp));
  const second = await h.fake.waitForMessage(
    (m) => m.thread_ts === question.ts && m.user === 'UBOT' && m.ts !== first.ts,
  );
  assert.equal(second.text, 'red; earlier: what colour is it?');

  const hello = h.fake.addMessage({ channel, user: 'UBOB', text: '<@UBOT> hello there' });
  await h.event(messageEvent(hello));
  const pointer = await h.fake.waitForCall('chat.postEphemeral', (c) => c.args.user === 'UBOB');
  assert.equal(
    pointer.args.text,
    'I answer questions about images: reply to an image with your question, or use `/ask`. `/help` lists everything I can do.',
    'not an answer about the image',
  );
  assert.equal(pointer.args.channel, channel);
  assert.equal(repliesIn(channel, hello.ts).length, 0, 'no thread is started for it');
});

test("an admin's /alttext on in a channel where automatic alt text is off says how to turn it on there", async () => {
  h.fake.admins.add('UCHIEF');
  await h.command({ command: '/alttext', text: 'mode:on', user_id: 'UCHIEF', channel_id: 'COFF' });
  const hint = await h.fake.waitForCall('chat.postEphemeral', (c) => c.args.user === 'UCHIEF');
  assert.equal(
    hint.args.text,
    'iris will add alt text to your uploads in channels where it is on. It is off in this channel: `/alttext mode:on scope:channel` turns it on for every upload here.',
  );
  await h.command({ command: '/alttext', text: 'mode:on', user_id: 'UCHIEF', channel_id: ALT_CHANNEL });
  const none = await h.fake.waitForCall(
    'chat.postEphemeral',
    (c) => c.args.user === 'UCHIEF' && c.args.channel === ALT_CHANNEL,
  );
  assert.equal(none.args.text, 'iris will add alt text to your uploads in channels where it is on.');
});
