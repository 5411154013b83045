import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PERMISSION_NOTE } from '../../../src/bot/discord/responder.js';
import { defineCommand } from '../../../src/contracts/command.js';
import { FakeDiscord } from '../../fakes/discord/server.js';
import { solidPng } from '../../fakes/images.js';
import { SECRETS } from '../../fakes/secrets.js';
import { alice, bob, finalEdit, startDiscord, TEST_COMMANDS } from './harness.js';

const stepsCommand = defineCommand<void>({
  name: 'steps',
  description: 'Reports 20 steps, 15 ms apart (test command).',
  options: [],
  queue: 'gpu',
  async parse() {},
  async run(_input, ctx) {
    for (let step = 1; step <= 20; step++) {
      await ctx.progress({ kind: 'running', step, total: 20 });
      await sleep(15);
    }
    return { text: 'all steps done' };
  },
});

test('progress edits are throttled; a 429 on the edit route is waited out and retried', async () => {
  const h = await startDiscord({
    commands: [...TEST_COMMANDS, stepsCommand],
    overrides: { 'platforms.discord.progressIntervalSeconds': 0.1 },
  });
  try {
    const started = performance.now();
    const steps = h.fake.interaction({ kind: 'command', name: 'steps', user: alice });
    await h.fake.waitFor((r) => r.path.includes(steps.token) && /Working/.test(r.json?.content ?? ''));
    // One GPU slot: a job sent now waits behind /steps and shows its place in the queue.
    const waiting = h.fake.interaction({ kind: 'command', name: 'draw', user: bob });
    await finalEdit(h.fake, steps.token, (j) => j.content === 'all steps done');
    const elapsed = performance.now() - started;
    const queued = await h.fake.waitFor((r) => r.path.includes(waiting.token) && r.method === 'PATCH');
    assert.equal(queued.json.content, '⏳ Queued: next up');
    await finalEdit(h.fake, waiting.token, (j) => /^Drew/.test(j.content ?? ''));
    const progress = h.fake.requests.filter(
      (r) =>
        r.method === 'PATCH' && r.path.includes(steps.token) && /Working… step \d+\/20/.test(r.json?.content),
    );
    assert.ok(progress.length >= 1, 'progress is shown');
    // The throttle's promise, whatever the machine's speed: at most one edit per 100 ms of the job's
    // life (plus the first); unthrottled, all 20 steps would be edits.
    const allowed = 1 + Math.floor(elapsed / 100);
    assert.ok(
      progress.length <= Math.min(allowed, 19),
      `${progress.length} progress edits in ${Math.round(elapsed)} ms (at most ${allowed} at one per 100 ms)`,
    );

    h.fake.failNext({
      method: 'PATCH',
      path: /\/messages\/@original$/,
      status: 429,
      body: { message: 'You are being rate limited.', retry_after: 0.2, global: false },
      headers: {
        'retry-after': '1',
        'x-ratelimit-limit': '5',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset-after': '0.2',
        'x-ratelimit-bucket': 'webhook-bucket',
        'x-ratelimit-scope': 'user',
      },
    });
    const file = h.fake.addAttachment({ filename: 'r.png', data: await solidPng('#ff0000') });
    const tags = h.fake.interaction({
      kind: 'command',
      name: 'tags',
      user: alice,
      options: { image: file, labels: 'red, green' },
    });
    const edit = await finalEdit(h.fake, tags.token, (j) => /^Tags: red/.test(j.content ?? ''));
    const tries = h.fake.requests.filter((r) => r.method === 'PATCH' && r.path.includes(tags.token));
    assert.deepEqual(
      tries.map((r) => r.status),
      [429, 200],
      'the rate-limited edit was retried once',
    );
    assert.ok(edit);
  } finally {
    await h.stop();
  }
});

test('a job that outlives the interaction token finishes as a channel message mentioning the user', async () => {
  const late = await startDiscord({ now: () => Date.now() + 16 * 60_000 });
  try {
    const { token } = late.fake.interaction({
      kind: 'command',
      name: 'draw',
      user: alice,
      options: { prompt: 'late' },
    });
    const post = await late.fake.waitFor(
      (r) =>
        r.method === 'POST' && r.path === `/channels/${late.fake.channel.id}/messages` && r.status === 200,
    );
    assert.equal(post.json.content, `<@${alice.id}> Drew: late`);
    assert.deepEqual(post.json.allowed_mentions, { parse: [], users: [alice.id] });
    assert.equal(post.files[0]?.description, 'A red square: late');
    assert.equal(late.fake.requests.filter((r) => r.method === 'PATCH' && r.path.includes(token)).length, 0);
  } finally {
    await late.stop();
  }
});

test('missing permissions: an ephemeral note for interactions, a log line for messages, and the next job runs', async () => {
  const h = await startDiscord();
  try {
    const isFinal = (r: { json?: { content?: string } }) => !r.json?.content?.startsWith('⚙️');
    h.fake.failNext({
      method: 'PATCH',
      path: /\/messages\/@original$/,
      status: 403,
      body: { message: 'Missing Permissions', code: 50013 },
      when: isFinal,
    });
    const { token } = h.fake.interaction({ kind: 'command', name: 'draw', user: alice });
    const note = await h.fake.waitFor((r) => r.method === 'POST' && r.path.endsWith(`/${token}`));
    assert.equal(note.json.content, PERMISSION_NOTE);
    assert.equal(note.json.flags, 64);

    // Discord saying the token is gone (401 Invalid Webhook Token) also ends in a channel message.
    h.fake.failNext({
      method: 'PATCH',
      path: /\/messages\/@original$/,
      status: 401,
      body: { message: 'Invalid Webhook Token', code: 50027 },
      when: isFinal,
    });
    h.fake.interaction({ kind: 'command', name: 'draw', user: alice, options: { prompt: 'gone' } });
    const late = await h.fake.waitFor(
      (r) => r.path === `/channels/${h.fake.channel.id}/messages` && r.status === 200,
    );
    assert.equal(late.json.content, `<@${alice.id}> Drew: gone`);

    const denied = h.fake.channels[1]?.id as string;
    h.fake.denyChannel(denied);
    h.fake.message({
      channelId: denied,
      author: alice,
      content: `<@${h.fake.bot.id}> hello?`,
      mentions: [h.fake.bot],
    });
    await h.fake.waitFor((r) => r.path === `/channels/${denied}/messages` && r.status === 403);
    const next = h.fake.interaction({ kind: 'command', name: 'draw', user: alice, channelId: denied });
    await finalEdit(h.fake, next.token, (j) => /^Drew/.test(j.content ?? ''));
    assert.ok(h.lines.some((l) => /missing permission to reply in the channel/.test(l)));
    assert.ok(!h.lines.join('').includes(SECRETS.discordToken), 'the token never reaches the log');
  } finally {
    await h.stop();
  }
});

test('a reply image larger than the upload limit is sent as a smaller WebP or JPEG', async () => {
  const h = await startDiscord();
  try {
    const limit = 12_000;
    const { token } = h.fake.interaction({
      kind: 'command',
      name: 'draw',
      user: alice,
      attachmentSizeLimit: limit,
      options: { size: 200 },
    });
    const edit = await finalEdit(h.fake, token, (j) => /^Drew/.test(j.content ?? ''));
    const file = edit.files[0];
    assert.ok(file, 'an image was attached');
    assert.match(file.filename, /^square\.(webp|jpg)$/);
    assert.ok(file.data.length <= limit, `${file.data.length} bytes ≤ ${limit}`);
    assert.equal(file.description, 'A red square: a red square');
  } finally {
    await h.stop();
  }
});

test('DM policy, per-server deny lists and the message context menus', async () => {
  const fake = await new FakeDiscord().start();
  const h = await startDiscord({
    fake,
    overrides: {
      'platforms.discord.dms': 'deny',
      'platforms.discord.guilds': { [fake.guildId]: { deny: ['draw'] } },
    },
  });
  try {
    const dm = fake.interaction({ kind: 'command', name: 'help', user: alice, dm: true });
    const dmReply = await fake.waitFor((r) => r.path === `/interactions/${dm.id}/${dm.token}/callback`);
    assert.equal(dmReply.json.data.content, "iris doesn't answer in direct messages here.");
    const off = fake.interaction({ kind: 'command', name: 'draw', user: alice });
    const offReply = await fake.waitFor((r) => r.path === `/interactions/${off.id}/${off.token}/callback`);
    assert.equal(offReply.json.data.content, '/draw is turned off on this server.');
    assert.equal(offReply.json.data.flags, 64);

    const target = fake.message({
      channelId: fake.channel.id,
      author: alice,
      attachments: [fake.addAttachment({ filename: 'x.png', data: await solidPng('#ff0000', 48) })],
    });
    const menu = fake.interaction({ kind: 'menu', name: 'Alt text', user: alice, target });
    const deferred = await fake.waitFor((r) => r.path === `/interactions/${menu.id}/${menu.token}/callback`);
    assert.equal(deferred.json.data.flags, 64, '"Alt text" answers privately');
    const alt = await finalEdit(fake, menu.token, (j) => /48x48/.test(j.content ?? ''));
    assert.match(alt.json.content, /^AI-generated: A 48x48 picture$/, 'only the alt text, ready to paste');
    const describe = fake.interaction({ kind: 'menu', name: 'Describe image', user: alice, target });
    const shown = await fake.waitFor(
      (r) => r.path === `/interactions/${describe.id}/${describe.token}/callback`,
    );
    assert.equal(shown.json.data.flags ?? 0, 0, '"Describe image" answers in the channel');
    const described = await finalEdit(fake, describe.token, (j) => /48x48/.test(j.content ?? ''));
    assert.match(described.json.content, /^Alt text: .*\nCaption: A 48x48 picture/);
    const empty = fake.message({ channelId: fake.channel.id, author: alice, content: 'no picture' });
    const none = fake.interaction({ kind: 'menu', name: 'Describe image', user: alice, target: empty });
    const noneReply = await fake.waitFor((r) => r.path === `/interactions/${none.id}/${none.token}/callback`);
    assert.equal(noneReply.json.data.content, 'That message has no image.');
  } finally {
    await h.stop();
    await fake.stop();
  }
});
