/**
 * Text iris posts comes from users and models: `@everyone`, role and user mentions in it must never ping.
 * Mentions go in through /tags labels, an /imagine prompt, and a Groq answer (the real groq backend
 * against the fake OpenAI-compatible server), as a slash command, a chat question and a late channel
 * post; every payload the fake Discord receives is checked.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createModelRegistry } from '../../../src/app.js';
import { askCommand } from '../../../src/commands/ask.js';
import { imagineCommand } from '../../../src/commands/imagine.js';
import { tagsCommand } from '../../../src/commands/tags.js';
import { loadConfig } from '../../../src/config.js';
import type { BackendProvider, TaskName } from '../../../src/contracts/backend.js';
import { queueOf } from '../../../src/models/tasks.js';
import { fakeBackends, neutralSafety } from '../../fakes/backends.js';
import type { RecordedRequest } from '../../fakes/discord/server.js';
import { solidPng } from '../../fakes/images.js';
import { completion, startFakeOpenAI } from '../../fakes/openai.js';
import { SECRETS } from '../../fakes/secrets.js';
import { alice, bob, fakeModels, finalEdit, startDiscord } from './harness.js';

const ROLE = '200000000000000009';
const PINGS = `@everyone @here <@&${ROLE}> <@${bob.id}> <@!${bob.id}>`;
const LABELS = `red, @everyone, @here, <@&${ROLE}>, <@${bob.id}>`;
const KEY = SECRETS.groqKey;
const VQA = { 'tasks.vqa.backend': 'groq', 'tasks.vqa.model': 'fake-vision', 'tasks.vqa.options': {} };

let openai: Awaited<ReturnType<typeof startFakeOpenAI>>;
let registry: BackendProvider;

before(async () => {
  openai = await startFakeOpenAI({ apiKey: KEY, respond: () => completion(`It is red. ${PINGS}`) });
  const groq = createModelRegistry(
    loadConfig({ env: { GROQ_API_KEY: KEY, GROQ_BASE_URL: openai.url }, overrides: VQA }),
  );
  const painter = fakeBackends({
    safety: neutralSafety,
    imagine: async (input) => ({
      images: [{ png: await solidPng('#ff0000', 16), width: input.width, height: input.height, seed: 1 }],
      scheduler: 'euler',
      steps: input.steps,
    }),
  });
  // Questions go to the real groq backend; tagging and drawing to fakes.
  const pick = (task: TaskName): BackendProvider =>
    task === 'vqa' ? groq : task === 'imagine' || task === 'safety' ? painter : fakeModels;
  registry = { get: (task, o) => pick(task).get(task, o), status: () => [], queueOf };
});
after(() => openai.close());

/** What Discord reads a message's mention policy from, for every request that posts or edits text. */
function mentionPolicies(requests: readonly RecordedRequest[]) {
  return requests
    .filter((r) => r.method === 'POST' || r.method === 'PATCH')
    .map((r) => ({ r, body: /\/callback$/.test(r.path) ? r.json?.data : r.json }))
    .filter(({ body }) => typeof body?.content === 'string' && body.content !== '')
    .map(({ r, body }) => ({
      where: `${r.method} ${r.path}`,
      content: body.content as string,
      allowed: body.allowed_mentions as
        | { parse?: string[]; roles?: string[]; users?: string[]; replied_user?: boolean }
        | undefined,
    }));
}

/** Nothing parsed from the text; at most the requester named explicitly. */
function assertNoPings(requests: readonly RecordedRequest[], requester: string, expectPings: number) {
  const policies = mentionPolicies(requests);
  const carrying = policies.filter((p) => p.content.includes('@everyone'));
  assert.ok(carrying.length >= expectPings, `the mentions reached ${carrying.length} payloads`);
  for (const p of policies) {
    assert.ok(p.allowed, `${p.where} has no allowed_mentions: "${p.content.slice(0, 80)}"`);
    assert.deepEqual(p.allowed.parse ?? [], [], `${p.where} parses mentions from its text`);
    assert.deepEqual(p.allowed.roles ?? [], [], `${p.where} allows role pings`);
    for (const user of p.allowed.users ?? []) assert.equal(user, requester, `${p.where} pings ${user}`);
  }
}

test('slash commands: /tags labels, an /imagine prompt and a Groq answer reach Discord without pinging', async () => {
  const h = await startDiscord({
    commands: [tagsCommand, imagineCommand, askCommand],
    registry,
    overrides: VQA,
  });
  try {
    const image = () => solidPng('#ff0000');
    const tags = h.fake.interaction({
      kind: 'command',
      name: 'tags',
      user: alice,
      options: {
        image: h.fake.addAttachment({ filename: 'a.png', data: await image() }),
        labels: LABELS,
      },
    });
    const tagged = await finalEdit(h.fake, tags.token, (j) => /^Tags:/.test(j.content ?? ''));
    assert.match(tagged.json.content, /@everyone/, 'the label is shown as typed');

    const drawn = h.fake.interaction({
      kind: 'command',
      name: 'imagine',
      user: alice,
      options: { prompt: `a red square ${PINGS}` },
    });
    await finalEdit(h.fake, drawn.token, (j) => /seed/.test(j.content ?? ''));

    const asked = h.fake.interaction({
      kind: 'command',
      name: 'ask',
      user: alice,
      options: {
        image: h.fake.addAttachment({ filename: 'b.png', data: await image() }),
        question: 'colour?',
      },
    });
    const answer = await finalEdit(h.fake, asked.token, (j) => /It is red/.test(j.content ?? ''));
    assert.match(answer.json.content, /<@&/, "the model's text is shown as written");
    assertNoPings(h.fake.requests, alice.id, 3);
  } finally {
    await h.stop();
  }
});

test('a chat question answered by Groq pings only the asker (the reply); a late answer names only the requester', async () => {
  const h = await startDiscord({
    commands: [askCommand, tagsCommand],
    registry,
    overrides: { ...VQA, 'platforms.discord.messageContent': true },
  });
  try {
    const channel = h.fake.channel.id;
    const picture = h.fake.message({
      channelId: channel,
      author: bob,
      attachments: [h.fake.addAttachment({ filename: 'c.png', data: await solidPng('#ff0000') })],
    });
    const question = h.fake.message({
      channelId: channel,
      author: alice,
      content: 'colour?',
      referenced: picture,
    });
    const reply = await h.fake.waitFor(
      (r) => r.method === 'POST' && r.json?.message_reference?.message_id === question.id && r.status === 200,
    );
    assert.match(reply.json.content, /It is red/);
    assert.equal(reply.json.allowed_mentions?.replied_user, true, 'the reply itself may ping the asker');
    assertNoPings(h.fake.requests, alice.id, 1);
  } finally {
    await h.stop();
  }

  const late = await startDiscord({ commands: [tagsCommand], registry, now: () => Date.now() + 16 * 60_000 });
  try {
    late.fake.interaction({
      kind: 'command',
      name: 'tags',
      user: alice,
      options: {
        image: late.fake.addAttachment({ filename: 'd.png', data: await solidPng('#ff0000') }),
        labels: LABELS,
      },
    });
    const post = await late.fake.waitFor(
      (r) =>
        r.method === 'POST' && r.path === `/channels/${late.fake.channel.id}/messages` && r.status === 200,
    );
    assert.match(post.json.content, new RegExp(`^<@${alice.id}> Tags:`));
    assert.deepEqual(post.json.allowed_mentions, { parse: [], users: [alice.id] });
    assertNoPings(late.fake.requests, alice.id, 1);
  } finally {
    await late.stop();
  }
});
