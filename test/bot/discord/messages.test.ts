import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeDiscord, type RecordedRequest } from '../../fakes/discord/server.js';
import { solidPng } from '../../fakes/images.js';
import { alice, bob, finalEdit, type Harness, startDiscord } from './harness.js';

const posted = (channelId: string) => (r: RecordedRequest) =>
  r.method === 'POST' && r.path === `/channels/${channelId}/messages` && r.status === 200;

const replyTo = (channelId: string, messageId: string) => (r: RecordedRequest) =>
  posted(channelId)(r) && r.json?.message_reference?.message_id === messageId;

/** The bot's message stored by the fake for a channel post. */
function botMessage(h: Harness, content: RegExp): Record<string, unknown> {
  const found = [...h.fake.messages.values()].find(
    (m) => (m.author as { id: string }).id === h.fake.bot.id && content.test(m.content as string),
  );
  assert.ok(found, `no bot message matching ${content}`);
  return found;
}

test('a question replying to an image is an ask in the channel; a reply to the answer continues it', async () => {
  const h = await startDiscord({ overrides: { 'platforms.discord.messageContent': true } });
  try {
    const channel = h.fake.channel.id;
    const image = h.fake.message({
      channelId: channel,
      author: bob,
      attachments: [h.fake.addAttachment({ filename: 'cat.png', data: await solidPng('#ff0000', 40) })],
      // bob described his upload himself, so no alt text is due even where it is on
    });
    const question = h.fake.message({
      channelId: channel,
      author: alice,
      content: 'what colour is it?',
      referenced: image,
    });
    const first = await h.fake.waitFor(replyTo(channel, question.id as string));
    assert.equal(first.json.content, '40x40; earlier: none', 'the real /ask ran on the replied-to image');
    const answer = botMessage(h, /^40x40; earlier: none/);
    const followUp = h.fake.message({
      channelId: channel,
      author: alice,
      content: 'and its shape?',
      referenced: answer,
    });
    const second = await h.fake.waitFor(replyTo(channel, followUp.id as string));
    assert.equal(
      second.json.content,
      '40x40; earlier: what colour is it?',
      'the follow-up has no image of its own: the conversation remembers the first turn and its image',
    );
    // Memory is per channel: the same question in another channel starts over.
    const other = h.fake.channels[1]?.id as string;
    const elsewhere = h.fake.message({
      channelId: other,
      author: alice,
      content: `<@${h.fake.bot.id}> and here?`,
      mentions: [h.fake.bot],
    });
    const third = await h.fake.waitFor(replyTo(other, elsewhere.id as string));
    assert.match(third.json.content, /This conversation has no image yet/);
  } finally {
    await h.stop();
  }
});

test('without the MESSAGE_CONTENT intent only mentions are answered', async () => {
  const h = await startDiscord({ overrides: { 'platforms.discord.messageContent': false } });
  try {
    assert.equal((h.fake.gateway.identifies[0]?.intents ?? 0) & (1 << 15), 0, 'the intent is not requested');
    const channel = h.fake.channel.id;
    const image = h.fake.message({
      channelId: channel,
      author: bob,
      attachments: [h.fake.addAttachment({ filename: 'a.png', data: await solidPng('#00ff00', 24) })],
    });
    const unheard = h.fake.message({
      channelId: channel,
      author: alice,
      content: 'what is it?',
      referenced: image,
    });
    const mention = h.fake.message({
      channelId: channel,
      author: alice,
      content: `<@${h.fake.bot.id}> what is this?`,
      mentions: [h.fake.bot],
      attachments: [h.fake.addAttachment({ filename: 'b.png', data: await solidPng('#00ff00', 24) })],
    });
    const answered = await h.fake.waitFor(replyTo(channel, mention.id as string));
    assert.equal(answered.json.content, '24x24; earlier: none');
    assert.equal(
      h.fake.requests.filter(replyTo(channel, unheard.id as string)).length,
      0,
      'a reply without a mention carries no text without the intent, so iris stays quiet',
    );
  } finally {
    await h.stop();
  }
});

test('automatic alt text: on in enabled channels, silent elsewhere, for opted-out users and for bots', async () => {
  const fake = await new FakeDiscord().start();
  const [g, a] = [fake.channels[0]?.id as string, fake.channels[1]?.id as string];
  const h2 = await startDiscord({
    fake,
    overrides: { 'platforms.discord.messageContent': true, 'platforms.discord.altTextChannels': [a] },
  });
  try {
    const upload = async (channelId: string, author: typeof alice & { bot?: boolean }, files = 1) =>
      h2.fake.message({
        channelId,
        author,
        attachments: await Promise.all(
          Array.from({ length: files }, async (_, i) =>
            h2.fake.addAttachment({ filename: `p${i}.png`, data: await solidPng('#0000ff', 16 + i * 8) }),
          ),
        ),
      });
    const quiet = await upload(g, bob);
    const fromBot = await upload(a, { id: '100000000000000009', username: 'otherbot', bot: true });
    const described = h2.fake.message({
      channelId: a,
      author: bob,
      attachments: [
        h2.fake.addAttachment({
          filename: 'd.png',
          data: await solidPng('#0000ff'),
          description: 'my own words',
        }),
      ],
    });
    const two = await upload(a, bob, 2);
    const reply = await h2.fake.waitFor(replyTo(a, two.id as string));
    assert.equal(
      reply.json.content,
      'Alt text, image 1: AI-generated: A 16x16 picture\nAlt text, image 2: AI-generated: A 24x24 picture',
      'one reply for the message, the policy-made alt text of each image',
    );
    assert.deepEqual(reply.json.allowed_mentions, { replied_user: false });

    // alice opts out; her uploads are left alone, bob's still described.
    const { token } = h2.fake.interaction({
      kind: 'command',
      name: 'alttext',
      user: alice,
      options: { mode: 'off' },
    });
    await finalEdit(h2.fake, token, (j) => /no longer/.test(j.content ?? ''));
    const hers = await upload(a, alice);
    const his = await upload(a, bob);
    await h2.fake.waitFor(replyTo(a, his.id as string));

    // An admin turns it on for the general channel.
    const denied = h2.fake.interaction({
      kind: 'command',
      name: 'alttext',
      user: bob,
      channelId: g,
      options: { mode: 'on', scope: 'channel' },
    });
    const refusal = await h2.fake.waitFor(
      (r) => r.path.includes(denied.token) && r.status === 200 && Boolean(r.json?.content),
    );
    assert.match(refusal.json.content, /Only server admins/);
    const admin = h2.fake.interaction({
      kind: 'command',
      name: 'alttext',
      user: alice,
      admin: true,
      channelId: g,
      options: { mode: 'on', scope: 'channel' },
    });
    await finalEdit(h2.fake, admin.token, (j) => /on in this channel/.test(j.content ?? ''));
    const now = await upload(g, bob);
    await h2.fake.waitFor(replyTo(g, now.id as string));

    for (const silent of [quiet, fromBot, described, hers]) {
      assert.equal(
        h2.fake.requests.filter(replyTo(silent.channel_id as string, silent.id as string)).length,
        0,
      );
    }
  } finally {
    await h2.stop();
    await fake.stop();
  }
});

test('/ask without an image continues the conversation; words to iris that are not a question get a pointer to /help', async () => {
  const h = await startDiscord({ overrides: { 'platforms.discord.messageContent': true } });
  try {
    const channel = h.fake.channel.id;
    const cat = h.fake.addAttachment({ filename: 'cat.png', data: await solidPng('#ff0000', 40) });
    const first = h.fake.interaction({
      kind: 'command',
      name: 'ask',
      user: alice,
      options: { question: 'what colour is the cat?', image: cat },
    });
    await finalEdit(h.fake, first.token, (j) => j.content === '40x40; earlier: none');
    const again = h.fake.interaction({
      kind: 'command',
      name: 'ask',
      user: alice,
      options: { question: 'what did I ask before?' },
    });
    await finalEdit(h.fake, again.token, (j) => j.content === '40x40; earlier: what colour is the cat?');
    const plain = h.fake.message({
      channelId: channel,
      author: alice,
      content: `<@${h.fake.bot.id}> and its size?`,
      mentions: [h.fake.bot],
    });
    const answer = await h.fake.waitFor(replyTo(channel, plain.id as string));
    assert.equal(answer.json.content, '40x40; earlier: what colour is the cat? | what did I ask before?');

    const hello = h.fake.message({
      channelId: channel,
      author: alice,
      content: `<@${h.fake.bot.id}> hello there`,
      mentions: [h.fake.bot],
    });
    const pointer = await h.fake.waitFor(replyTo(channel, hello.id as string));
    assert.equal(
      pointer.json.content,
      'I answer questions about images: reply to an image with your question, or use `/ask`. `/help` lists everything I can do.',
      'not an answer about the earlier image',
    );
  } finally {
    await h.stop();
  }
});

test("an admin's /alttext on in a channel where automatic alt text is off says how to turn it on there", async () => {
  const h = await startDiscord({ overrides: { 'platforms.discord.messageContent': true } });
  try {
    const admin = h.fake.interaction({
      kind: 'command',
      name: 'alttext',
      user: alice,
      admin: true,
      options: { mode: 'on' },
    });
    await finalEdit(h.fake, admin.token, (j) =>
      /It is off in this channel: `\/alttext mode:on scope:channel` turns it on/.test(j.content ?? ''),
    );
    const member = h.fake.interaction({
      kind: 'command',
      name: 'alttext',
      user: bob,
      options: { mode: 'on' },
    });
    await finalEdit(h.fake, member.token, (j) =>
      /a server admin can turn it on with `\/alttext mode:on scope:channel`/.test(j.content ?? ''),
    );
  } finally {
    await h.stop();
  }
});
