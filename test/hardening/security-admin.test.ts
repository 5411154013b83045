/**
 * Admin-only commands are checked against the platform's own permissions, through the real
 * client libraries and the fake platforms. The admin-only action today is `/alttext scope:channel`
 * (automatic alt text for everyone's uploads in a channel); `/alttext` for oneself is open to all.
 * - Discord: the member's permissions in the interaction (Manage Server, or Administrator, which implies
 *   every permission), or platforms.discord.admins.
 * - Slack: users.info is_admin or is_owner.
 * A refusal is a clear message and changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PermissionFlagsBits } from 'discord.js';
import { alice, bob, type Harness as DiscordHarness, startDiscord } from '../bot/discord/harness.js';
import { type Harness as SlackHarness, startHarness } from '../bot/slack/harness.js';
import { PERMISSIONS } from '../fakes/discord/payloads.js';
import { COLOURS, solidPng } from '../fakes/images.js';
import { publicMessage } from '../fakes/slack/server.js';

const REFUSAL = 'Only server admins can turn alt text on or off for a channel.';
const carol = { id: '100000000000000003', username: 'carol' };
const dave = { id: '100000000000000004', username: 'dave' };

/** Member permissions plus one more flag, as Discord sends them (a decimal string). */
const memberWith = (flag: bigint) => String(BigInt(PERMISSIONS.member) | flag);

describe('Discord: member permissions from the interaction', () => {
  let h: DiscordHarness;
  before(async () => {
    h = await startDiscord({ overrides: { 'platforms.discord.admins': [dave.id] } });
  });
  after(() => h.stop());

  const channelKey = () => `alttext:channel:discord:${h.fake.channels[0]?.id}`;

  async function alttext(
    user: typeof alice,
    fields: { permissions?: string; mode: 'on' | 'off'; scope?: string },
  ) {
    const { token } = h.fake.interaction({
      kind: 'command',
      name: 'alttext',
      user,
      ...(fields.permissions && { permissions: fields.permissions }),
      options: { mode: fields.mode, ...(fields.scope && { scope: fields.scope }) },
    });
    const reply = await h.fake.waitFor(
      (r) => r.path.includes(token) && r.status === 200 && typeof r.json?.content === 'string',
    );
    return reply.json.content as string;
  }

  test('a plain member is refused for the channel, with a clear message, and nothing changes', async () => {
    assert.equal(await alttext(bob, { mode: 'on', scope: 'channel' }), REFUSAL);
    assert.equal(await h.settings.get(channelKey()), undefined);
  });

  test('the same member may still switch alt text for their own uploads', async () => {
    assert.match(await alttext(bob, { mode: 'off' }), /no longer add alt text to your uploads/);
    assert.equal(await h.settings.get(`alttext:user:discord:${bob.id}`), 'off');
  });

  test('Manage Server is enough', async () => {
    const content = await alttext(alice, {
      mode: 'on',
      scope: 'channel',
      permissions: memberWith(PermissionFlagsBits.ManageGuild),
    });
    assert.match(content, /on in this channel/);
    assert.equal(await h.settings.get(channelKey()), 'on');
  });

  test('Administrator alone (which implies every permission) is enough', async () => {
    const content = await alttext(carol, {
      mode: 'off',
      scope: 'channel',
      permissions: memberWith(PermissionFlagsBits.Administrator),
    });
    assert.match(content, /off in this channel/);
    assert.equal(await h.settings.get(channelKey()), 'off');
  });

  test('other permissions (Manage Messages, Manage Channels) are not', async () => {
    const content = await alttext(bob, {
      mode: 'on',
      scope: 'channel',
      permissions: memberWith(PermissionFlagsBits.ManageMessages | PermissionFlagsBits.ManageChannels),
    });
    assert.equal(content, REFUSAL);
    assert.equal(await h.settings.get(channelKey()), 'off');
  });

  test('a user listed in platforms.discord.admins is an admin without the permission', async () => {
    assert.match(await alttext(dave, { mode: 'on', scope: 'channel' }), /on in this channel/);
    assert.equal(await h.settings.get(channelKey()), 'on');
  });
});

describe('Slack: users.info is_admin / is_owner', () => {
  let h: SlackHarness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.stop());

  async function alttext(user: string, channel: string, text: string) {
    await h.command({ command: '/alttext', text, user_id: user, channel_id: channel });
    const reply = await h.fake.waitForCall(
      'chat.postEphemeral',
      (c) => c.args.user === user && c.args.channel === channel,
    );
    return String(reply.args.text);
  }

  async function postImage(channel: string) {
    const file = h.fake.addFile({
      name: 'red.png',
      bytes: await solidPng(COLOURS.red),
      mimetype: 'image/png',
    });
    const message = h.fake.addMessage({ channel, user: 'UPOSTER', text: '', files: [file] });
    await h.event({ ...publicMessage(message), channel_type: 'channel', event_ts: message.ts });
    return message;
  }

  test('a member is refused; an admin and an owner succeed, and the setting takes effect', async () => {
    assert.equal(await alttext('UMEMBER', 'CREFUSED', 'mode:on scope:channel'), REFUSAL);

    h.fake.admins.add('UADMIN');
    assert.match(await alttext('UADMIN', 'CADMIN', 'mode:on scope:channel'), /on in this channel/);
    h.fake.owners.add('UOWNER');
    assert.match(await alttext('UOWNER', 'COWNER', 'mode:on scope:channel'), /on in this channel/);

    const refusedImage = await postImage('CREFUSED');
    for (const channel of ['CADMIN', 'COWNER']) {
      const message = await postImage(channel);
      const reply = await h.fake.waitForMessage((m) => m.thread_ts === message.ts && m.user === 'UBOT');
      assert.match(reply.text ?? '', /^Alt text: AI-generated: /);
    }
    assert.equal(
      h.fake.messages.filter((m) => m.thread_ts === refusedImage.ts && m.user === 'UBOT').length,
      0,
      'the refused switch changed nothing: no alt text in that channel',
    );
  });
});
