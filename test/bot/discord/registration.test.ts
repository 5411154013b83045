import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commandPayloads } from '../../../src/bot/discord/registration.js';
import { COMMANDS } from '../../../src/commands/index.js';
import { FakeDiscord } from '../../fakes/discord/server.js';
import { drawCommand, startDiscord, TEST_COMMANDS } from './harness.js';

test('slash commands are generated from the command schema, with the message menus for caption', async () => {
  const h = await startDiscord();
  try {
    const put = await h.fake.waitFor(
      (r) => r.method === 'PUT' && r.path === `/applications/${h.fake.appId}/commands`,
    );
    const byName = new Map(put.json.map((c: { name: string }) => [c.name, c]));
    const tags = byName.get('tags') as {
      type: number;
      options: Record<string, unknown>[];
      contexts: number[];
    };
    assert.equal(tags.type, 1);
    assert.deepEqual(tags.contexts, [0, 1], 'servers and DMs with the bot');
    assert.deepEqual(
      tags.options.map((o) => [o.name, o.type, o.required ?? false]),
      [
        ['image', 11, true],
        ['labels', 3, false],
        ['top', 4, false],
      ],
    );
    assert.equal(tags.options[2]?.min_value, 1);
    assert.equal(tags.options[2]?.max_value, 50);
    assert.equal(typeof tags.options[1]?.max_length, 'number');
    const alttext = byName.get('alttext') as { options: { name: string; choices?: unknown }[] };
    assert.deepEqual(alttext.options[0]?.choices, [
      { name: 'on', value: 'on' },
      { name: 'off', value: 'off' },
    ]);
    const draw = byName.get('draw') as { options: { name: string }[] };
    assert.deepEqual(
      draw.options.map((o) => o.name),
      ['prompt', 'size'],
      'hidden options (set by buttons) are not offered',
    );
    const menus = put.json.filter((c: { type: number }) => c.type === 3).map((c: { name: string }) => c.name);
    assert.deepEqual(menus, ['Describe image', 'Alt text']);
    assert.equal(put.json.length, TEST_COMMANDS.length + 2);

    // A restart with the same commands compares and leaves them alone.
    await h.restart();
    await h.fake.waitFor(
      (r) => r.method === 'GET' && r.path.endsWith('/commands') && h.fake.gateway.identifies.length === 2,
    );
    const puts = () => h.fake.requests.filter((r) => r.method === 'PUT').length;
    assert.equal(puts(), 1, 'no second registration when nothing changed');
    assert.match(h.adapter.describe(), /commands up to date/);
  } finally {
    await h.stop();
  }
});

test('changed commands are registered again; per-guild registration when guilds are configured', async () => {
  const fake = await new FakeDiscord().start();
  try {
    const first = await startDiscord({ fake, commands: [drawCommand] });
    await first.stop();
    assert.equal(fake.requests.filter((r) => r.method === 'PUT').length, 1);
    const second = await startDiscord({ fake, commands: [drawCommand, ...COMMANDS] });
    await second.stop();
    assert.equal(fake.requests.filter((r) => r.method === 'PUT').length, 2, 'new commands → registered');
    const guild = await startDiscord({
      fake,
      commands: [drawCommand],
      overrides: { 'platforms.discord.commandGuilds': [fake.guildId], 'platforms.discord.dms': 'deny' },
    });
    await guild.stop();
    const put = fake.requests.filter((r) => r.method === 'PUT').at(-1);
    assert.equal(put?.path, `/applications/${fake.appId}/guilds/${fake.guildId}/commands`);
    assert.equal(put?.json[0].contexts, undefined, 'guild commands carry no contexts');
    assert.deepEqual(
      fake.commands.get(fake.guildId)?.map((c) => (c as { name: string }).name),
      ['draw'],
    );
  } finally {
    await fake.stop();
  }
});

test('without a caption command the message menus are not registered; with dms: deny commands are guild-only', () => {
  const payloads = commandPayloads([drawCommand], { global: true, dms: false });
  assert.deepEqual(
    payloads.map((p) => [p.name, p.type, p.contexts]),
    [['draw', 1, [0]]],
  );
});

test('asking for MESSAGE_CONTENT when the portal switch is off stops start-up with a message naming the switch', async () => {
  const fake = await new FakeDiscord({ messageContentEnabled: false }).start();
  try {
    await assert.rejects(
      startDiscord({ fake, overrides: { 'platforms.discord.messageContent': true } }),
      (e: Error) => e.name === 'ConfigError' && /Message Content Intent/.test(e.message),
    );
    const ok = await startDiscord({ fake, overrides: { 'platforms.discord.messageContent': false } });
    assert.match(ok.adapter.describe(), /mentions only/);
    await ok.stop();
  } finally {
    await fake.stop();
  }
});
