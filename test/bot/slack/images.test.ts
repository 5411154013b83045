import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { COLOURS, solidPng } from '../../fakes/images.js';
import { publicMessage } from '../../fakes/slack/server.js';
import { blockActionPayload, messageShortcutPayload } from '../../fakes/slack/sign.js';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.stop());

async function postImage(channel: string, colour: keyof typeof COLOURS, user = 'UALICE') {
  const file = h.fake.addFile({
    name: `${colour}.png`,
    bytes: await solidPng(COLOURS[colour]),
    mimetype: 'image/png',
  });
  return { file, message: h.fake.addMessage({ channel, user, text: '', files: [file] }) };
}

interface Block {
  type: string;
  text?: { text: string };
  elements?: { action_id: string; value: string; text: { text: string } }[];
}

test('an image result is uploaded with files.uploadV2, alt text on the image, text and buttons with it', async () => {
  await h.command({ command: '/draw', text: 'a red square', channel_id: 'CART' });
  const posted = await h.fake.waitForMessage((m) => m.channel === 'CART' && Boolean(m.files?.length));
  const [file] = posted.files ?? [];
  assert.equal(file?.alt_txt, 'AI-generated: a red square (seed 42)');
  assert.equal(file?.name, 'red-42.png');
  assert.equal(file?.bytes.subarray(1, 4).toString('latin1'), 'PNG', 'the uploaded bytes are the PNG');
  const blocks = posted.blocks as Block[];
  assert.equal(blocks[0]?.text?.text, 'a red square, seed 42');
  const button = blocks[1]?.elements?.[0];
  assert.equal(button?.value, 'draw:reroll:42');
  assert.equal(button?.text.text, 'Reroll');
  // The three-step upload, in order, and the progress message removed.
  const methods = h.fake.calls.map((c) => c.method).filter((m) => m.startsWith('files.'));
  assert.deepEqual(methods.slice(-2), ['files.getUploadURLExternal', 'files.completeUploadExternal']);
  const progress = h.fake.callsTo('chat.postMessage').find((c) => c.args.channel === 'CART');
  if (progress) assert.ok(h.fake.callsTo('chat.delete').some((c) => c.args.channel === 'CART'));
});

test('a button press routes to the command named by its id, with the id as `button`, even from an old message', async () => {
  // An id the running adapter never sent: buttons must work after a restart, so nothing may be remembered.
  await h.interactive(
    blockActionPayload({
      user: 'UBOB',
      channel: 'CART',
      messageTs: '1600000000.000100',
      actionId: 'iris-button-0',
      value: 'draw:reroll:99',
    }),
  );
  const posted = await h.fake.waitForMessage(
    (m) => m.channel === 'CART' && m.files?.[0]?.name === 'red-100.png',
  );
  assert.equal(posted.files?.[0]?.alt_txt, 'AI-generated: a red square (seed 100)');
});

test('a command that takes an image uses the latest image in the channel and says which', async () => {
  await postImage('CPICS', 'green', 'UCAROL');
  await postImage('CPICS', 'blue', 'UDAVE');
  h.fake.addMessage({ channel: 'CPICS', user: 'UERIN', text: 'just text' });
  await h.command({ command: '/look', text: '', channel_id: 'CPICS' });
  const answer = await h.fake.waitForMessage((m) => m.channel === 'CPICS' && /saw /.test(m.text ?? ''));
  assert.equal(
    answer.text,
    '_Using the latest image: `blue.png` posted by <@UDAVE>._\nsaw blue.png 32x32 png',
  );
});

test('an optional image that is not "the image we are talking about" is not filled from the channel (/imagine)', async () => {
  await postImage('CPAINT', 'green', 'UCAROL');
  await h.command({ command: '/paint', text: 'a red square', channel_id: 'CPAINT' });
  const painted = await h.fake.waitForMessage((m) => m.channel === 'CPAINT' && /^painted/.test(m.text ?? ''));
  assert.equal(painted.text, 'painted a red square from 0 image(s)', 'no variation of a stranger’s upload');
  // /ask's image means "the image we are talking about": it is filled from the channel.
  await h.command({ command: '/ask', text: 'what colour is it?', channel_id: 'CPAINT' });
  const answer = await h.fake.waitForMessage((m) => m.channel === 'CPAINT' && /earlier:/.test(m.text ?? ''));
  assert.match(answer.text ?? '', /green; earlier: nothing/);
});

test('with no image in the channel, the command says how to give it one', async () => {
  await h.command({ command: '/look', text: '', channel_id: 'CEMPTY' });
  const refusal = await h.fake.waitForCall('chat.postEphemeral', (c) => c.args.channel === 'CEMPTY');
  assert.equal(
    refusal.args.text,
    '/look uses the latest image in this channel, and there is none in the recent messages. Upload one, then run /look again.',
  );
});

test('the "Describe image" message shortcut captions that message\'s image in its thread', async () => {
  const { message } = await postImage('CPICS', 'red');
  await h.interactive(
    messageShortcutPayload({
      callbackId: 'iris_describe',
      user: 'UBOB',
      channel: 'CPICS',
      message: publicMessage(message),
    }),
  );
  const reply = await h.fake.waitForMessage((m) => m.thread_ts === message.ts && m.user === 'UBOT');
  assert.equal(reply.text, 'Alt text: AI-generated: A red square\nCaption: A red square');
});

test('a shortcut on a message without an image explains, to the user only', async () => {
  const message = h.fake.addMessage({ channel: 'CPICS', user: 'UALICE', text: 'no picture here' });
  await h.interactive(
    messageShortcutPayload({
      callbackId: 'iris_alt_text',
      user: 'UBOB',
      channel: 'CPICS',
      message: publicMessage(message),
    }),
  );
  const refusal = await h.fake.waitForCall('chat.postEphemeral', (c) => c.args.thread_ts === message.ts);
  assert.equal(refusal.args.user, 'UBOB');
  assert.equal(refusal.args.text, 'That message has no image for "Alt text".');
});
