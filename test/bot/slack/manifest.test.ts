import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { BOT_EVENTS, BOT_SCOPES, slackManifest, usageHint } from '../../../src/bot/slack/manifest.js';
import { COMMANDS } from '../../../src/commands/index.js';
import { loadConfig } from '../../../src/config.js';
import { startHarness, testCommands } from './harness.js';

interface Manifest {
  features: {
    slash_commands: { command: string; url?: string; usage_hint?: string; description: string }[];
    shortcuts: { callback_id: string; type: string; name: string }[];
  };
  oauth_config: { scopes: { bot: string[] } };
  settings: {
    socket_mode_enabled: boolean;
    event_subscriptions: { request_url?: string; bot_events: string[] };
    interactivity: { request_url?: string };
  };
}

test('the manifest lists one slash command per command (names from config), the shortcuts, scopes and events', () => {
  const config = loadConfig({ env: {} });
  const socket = slackManifest({
    commands: COMMANDS,
    slashConfig: config.platforms.slack.commands,
  }) as unknown as Manifest;
  const names = socket.features.slash_commands.map((c) => c.command);
  assert.deepEqual(names, [...COMMANDS.map((c) => `/${c.name}`), '/iris']);
  assert.ok(socket.settings.socket_mode_enabled);
  assert.equal(socket.features.slash_commands[0]?.url, undefined);
  assert.deepEqual(
    socket.features.shortcuts.map((s) => [s.callback_id, s.type, s.name]),
    [
      ['iris_describe', 'message', 'Describe image'],
      ['iris_alt_text', 'message', 'Alt text'],
    ],
  );
  for (const scope of ['commands', 'chat:write', 'files:read', 'files:write', 'channels:history']) {
    assert.ok(socket.oauth_config.scopes.bot.includes(scope), scope);
  }
  assert.deepEqual(socket.settings.event_subscriptions.bot_events, [...BOT_EVENTS]);

  const http = slackManifest({
    commands: COMMANDS,
    slashConfig: { prefix: 'iris-', rename: { tags: 'label' }, umbrella: '' },
    url: 'https://bot.example.com/',
  }) as unknown as Manifest;
  const httpNames = http.features.slash_commands.map((c) => c.command);
  assert.ok(httpNames.includes('/label') && httpNames.includes('/iris-help'));
  assert.ok(!httpNames.includes('/iris'), 'no umbrella when it is ""');
  assert.equal(http.settings.socket_mode_enabled, false);
  assert.equal(http.settings.event_subscriptions.request_url, 'https://bot.example.com/slack/events');
  assert.equal(http.settings.interactivity.request_url, 'https://bot.example.com/slack/events');
  assert.ok(http.features.slash_commands.every((c) => c.url === 'https://bot.example.com/slack/events'));
  assert.equal(BOT_SCOPES.length, new Set(BOT_SCOPES).size);
});

test('usage hints show the free-text option, the name:value ones and that an image is taken from the channel', () => {
  const [echo, look] = testCommands();
  assert.ok(echo && look);
  assert.equal(usageHint(echo), '<text>');
  assert.equal(usageHint(look), '(uses the latest image here)');
});

test('`iris slack manifest` prints the JSON; a bad --url exits 2 with one line', async () => {
  const run = promisify(execFile);
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', 'src/cli/index.ts', 'slack', 'manifest', '--url', 'https://x.example'],
    {
      env: { ...process.env, SLACK_BOT_TOKEN: '' },
    },
  );
  const manifest = JSON.parse(stdout) as Manifest;
  assert.equal(manifest.settings.event_subscriptions.request_url, 'https://x.example/slack/events');
  const bad = await run(process.execPath, [
    '--import',
    'tsx',
    'src/cli/index.ts',
    'slack',
    'manifest',
    '--url',
    'nope',
  ]).then(
    () => assert.fail('should exit 2'),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: --url must be an http\(s\) URL/);
});

test('renamed slash commands are the ones the adapter answers', async () => {
  const h = await startHarness({ overrides: { 'platforms.slack.commands.prefix': 'x-' } });
  try {
    await h.command({ command: '/x-echo', text: 'renamed' });
    await h.fake.waitForMessage((m) => m.text === 'echo: renamed');
  } finally {
    await h.stop();
  }
});

test('slash commands take the channel’s latest image only for required images and "the image we are talking about"', async () => {
  const { COMMANDS } = await import('../../../src/commands/index.js');
  const { imagesWanted } = await import('../../../src/core/context-images.js');
  const wanted = Object.fromEntries(COMMANDS.map((c) => [c.name, imagesWanted(c)]));
  assert.deepEqual(
    {
      imagine: wanted.imagine,
      ask: wanted.ask,
      similar: wanted.similar,
      compare: wanted.compare,
      help: wanted.help,
    },
    { imagine: 0, ask: 1, similar: 1, compare: 2, help: 0 },
  );
  for (const name of ['tags', 'caption', 'read', 'find']) assert.equal(wanted[name], 1, name);
});
