import assert from 'node:assert/strict';
import { test } from 'node:test';
import { similarCommand } from '../../../src/commands/similar.js';
import { SqliteImageIndex } from '../../../src/core/image-index-sqlite.js';
import { fakeBackends } from '../../fakes/backends.js';
import { FakeDiscord, type RecordedRequest } from '../../fakes/discord/server.js';
import { colourEmbed } from '../../fakes/embed.js';
import { solidPng } from '../../fakes/images.js';
import { alice, bob, finalEdit, type Harness, startDiscord, TEST_COMMANDS } from './harness.js';

/** Polls until `ok()` holds (events arrive over the gateway and are handled asynchronously). */
async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(ok(), `timed out waiting for ${what}`);
}

const replyTo = (channelId: string, messageId: string) => (r: RecordedRequest) =>
  r.method === 'POST' &&
  r.path === `/channels/${channelId}/messages` &&
  r.status === 200 &&
  r.json?.message_reference?.message_id === messageId;

async function similar(h: Harness, channelId: string, text: string): Promise<string> {
  const { token } = h.fake.interaction({
    kind: 'command',
    name: 'similar',
    user: alice,
    channelId,
    options: { text },
  });
  const done = await finalEdit(h.fake, token, (j) =>
    /similar|No earlier|Image memory/i.test(j.content ?? ''),
  );
  return done.json.content as string;
}

test('Discord: images are remembered with their message link; deleting the message forgets them', async () => {
  const fake = await new FakeDiscord().start();
  const [g, a] = [fake.channels[0]?.id as string, fake.channels[1]?.id as string];
  const index = new SqliteImageIndex({ path: ':memory:', ttlSeconds: 3600, maxPerChannel: 100 });
  const h = await startDiscord({
    fake,
    commands: [...TEST_COMMANDS, similarCommand],
    registry: fakeBackends({
      caption: async ({ image }) => ({ caption: `a ${image.width}px picture` }),
      embed: colourEmbed,
    }),
    imageIndex: index,
    overrides: {
      'platforms.discord.messageContent': true,
      'platforms.discord.altTextChannels': [g],
      'imageIndex.channels': [`discord:${g}`, `discord:${a}`],
    },
  });
  const link = (channel: string, id: unknown) =>
    `https://discord.com/channels/${fake.guildId}/${channel}/${id}`;
  try {
    // A mention with an image (→ /caption) and a plain upload (→ automatic alt text): both are remembered.
    const red = h.fake.message({
      channelId: g,
      author: bob,
      content: `<@${fake.bot.id}>`,
      mentions: [fake.bot],
      attachments: [fake.addAttachment({ filename: 'red.png', data: await solidPng('#ff0000', 24) })],
    });
    await fake.waitFor(replyTo(g, red.id as string));
    const green = h.fake.message({
      channelId: g,
      author: bob,
      attachments: [fake.addAttachment({ filename: 'green.png', data: await solidPng('#00ff00', 24) })],
    });
    await fake.waitFor(replyTo(g, green.id as string));
    assert.equal(await index.count(`discord:${g}`), 2);

    const found = await similar(h, g, 'red');
    assert.match(found, /^Most similar earlier images:/);
    const first = found.split('\n')[1] ?? '';
    assert.ok(first.startsWith(`1. ${link(g, red.id)} — posted by ${bob.id}`), found);
    assert.ok(found.includes(link(g, green.id)), found);

    // Another channel's delete of the same id, and a message never indexed: nothing goes.
    fake.deleteMessages(a, [red.id as string]);
    await until(() => h.deletions.length === 1, 'the first deletion');
    assert.deepEqual(h.deletions[0], { conversation: `discord:${a}`, link: link(a, red.id) });
    const unseen = fake.ids.next();
    fake.deleteMessages(g, [unseen]);
    await until(() => h.deletions.length === 2, 'the second deletion');
    assert.deepEqual(h.deletions[1], { conversation: `discord:${g}`, link: link(g, unseen) });
    assert.equal(await index.count(`discord:${g}`), 2, 'nothing was removed');

    fake.deleteMessages(g, [red.id as string]);
    await until(() => h.deletions.length === 3, 'the red message deletion');
    assert.equal(await index.count(`discord:${g}`), 1);
    const after = await similar(h, g, 'red');
    assert.ok(!after.includes(link(g, red.id)), after);
    assert.ok(after.includes(link(g, green.id)), after);

    // A moderator's bulk delete (MESSAGE_DELETE_BULK) works the same way.
    fake.deleteMessages(g, [green.id as string, fake.ids.next()]);
    await until(() => h.deletions.length === 5, 'the bulk deletion');
    assert.equal(await index.count(`discord:${g}`), 0);
    assert.match(await similar(h, g, 'green'), /^No earlier images in this channel yet/);
    assert.ok(!h.lines.some((l) => /"level":(40|50)/.test(l)), 'no warnings or errors were logged');
  } finally {
    await h.stop();
    await fake.stop();
    await index.close();
  }
});

test('Discord: a question replying to an image stores the image under the replied-to message, whose deletion removes it', async () => {
  const fake = await new FakeDiscord().start();
  const g = fake.channels[0]?.id as string;
  const index = new SqliteImageIndex({ path: ':memory:', ttlSeconds: 3600, maxPerChannel: 100 });
  const h = await startDiscord({
    fake,
    registry: fakeBackends({
      vqa: async ({ images }) => ({ answer: `${images.length} image(s)` }),
      embed: colourEmbed,
    }),
    imageIndex: index,
    overrides: { 'platforms.discord.messageContent': true, 'imageIndex.channels': [`discord:${g}`] },
  });
  const link = (id: unknown) => `https://discord.com/channels/${fake.guildId}/${g}/${id}`;
  try {
    const blue = fake.message({
      channelId: g,
      author: bob,
      attachments: [
        fake.addAttachment({
          filename: 'blue.png',
          data: await solidPng('#0000ff', 24),
          description: 'a blue square', // described: no automatic alt text, so only the question indexes it
        }),
      ],
    });
    const question = fake.message({ channelId: g, author: alice, content: 'what is it?', referenced: blue });
    await fake.waitFor(replyTo(g, question.id as string));
    const stored = await index.search(`discord:${g}`, Float32Array.from([0, 0, 1, 0.1]), 5);
    assert.deepEqual(
      stored.map((s) => [s.image.link, s.image.author]),
      [[link(blue.id), bob.id]],
      'stored under the image’s message and its poster (bob), not the asker (alice)',
    );
    fake.deleteMessages(g, [question.id as string]);
    await until(() => h.deletions.length === 1, 'the question deletion');
    assert.equal(await index.count(`discord:${g}`), 1, 'deleting the question leaves the image');
    fake.deleteMessages(g, [blue.id as string]);
    await until(() => h.deletions.length === 2, 'the image deletion');
    assert.equal(await index.count(`discord:${g}`), 0);
  } finally {
    await h.stop();
    await fake.stop();
    await index.close();
  }
});
