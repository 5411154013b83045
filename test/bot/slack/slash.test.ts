import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { slackSignature } from '../../fakes/slack/sign.js';
import { type Harness, SECRET, startHarness } from './harness.js';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.stop());

test('a signed slash command is acked at once, then answered by editing its progress message', async () => {
  const res = await h.command({ command: '/echo', text: 'hello there' });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), '', 'the ack carries no body: the answer comes as a message');
  const answer = await h.fake.waitForMessage((m) => m.text === 'echo: hello there');
  assert.equal(answer.channel, 'CGEN');
  assert.equal(answer.user, 'UBOT');
  // Progress went into the same message: posted once, then updated; the final text replaced it.
  const posted = h.fake
    .callsTo('chat.postMessage')
    .filter((c) => String(c.args.text).includes('/echo hello there'));
  assert.equal(posted.length, 1);
  assert.equal(posted[0]?.args.channel, 'CGEN');
  assert.match(String(posted[0]?.args.text), /<@UALICE> `\/echo hello there`/);
  const updates = h.fake.callsTo('chat.update').filter((c) => c.args.ts === answer.ts);
  assert.ok(updates.length >= 1);
  assert.equal(updates.at(-1)?.args.text, 'echo: hello there');
});

/** A command we know is answered, sent after a refused one: once it is answered, the refused one had its chance. */
async function marker(text: string) {
  await h.command({ command: '/echo', text });
  await h.fake.waitForMessage((m) => m.text === `echo: ${text}`);
}

test('a bad signature gets 401 and nothing runs', async () => {
  const before = h.fake.calls.length;
  const res = await h.command({ command: '/echo', text: 'forged' }, { signature: `v0=${'0'.repeat(64)}` });
  assert.equal(res.status, 401);
  const wrongSecret = await h.command({ command: '/echo', text: 'forged2' }, { secret: 'not-the-secret' });
  assert.equal(wrongSecret.status, 401);
  await marker('control one');
  const texts = h.fake.calls.slice(before).map((c) => String(c.args.text ?? ''));
  assert.ok(!texts.some((t) => t.includes('forged')), 'no API call mentions the forged commands');
});

test('a timestamp older than 5 minutes gets 401 even with a valid signature, and nothing runs', async () => {
  const before = h.fake.calls.length;
  const stale = Math.floor(Date.now() / 1000) - 6 * 60;
  const res = await h.command({ command: '/echo', text: 'replayed' }, { timestamp: stale });
  assert.equal(res.status, 401);
  // Control: the same signing code with a fresh timestamp is accepted.
  assert.match(slackSignature(SECRET, stale, 'x'), /^v0=[0-9a-f]{64}$/);
  await marker('control two');
  const texts = h.fake.calls.slice(before).map((c) => String(c.args.text ?? ''));
  assert.ok(!texts.some((t) => t.includes('replayed')));
});

test('url_verification is answered with the challenge', async () => {
  const { postSigned } = await import('../../fakes/slack/sign.js');
  const body = JSON.stringify({ token: 't', challenge: 'c-123', type: 'url_verification' });
  const res = await postSigned(h.eventsUrl, body, { secret: SECRET, contentType: 'application/json' });
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { challenge?: string }).challenge, 'c-123');
});

test('a 429 from chat.update is retried after Retry-After, and the answer still lands', async () => {
  h.fake.failNext('chat.update', { status: 429, retryAfter: 1 });
  await h.command({ command: '/echo', text: 'rate limited' });
  const answer = await h.fake.waitForMessage((m) => m.text === 'echo: rate limited');
  const updates = h.fake.callsTo('chat.update').filter((c) => c.args.ts === answer.ts);
  assert.ok(updates.length >= 2, 'the rate-limited update was sent again');
});

test('the umbrella command runs a command named in its first word; an unknown one lists the commands', async () => {
  await h.command({ command: '/iris', text: 'echo via umbrella' });
  await h.fake.waitForMessage((m) => m.text === 'echo: via umbrella');
  await h.command({ command: '/iris', text: 'dance' });
  const refusal = await h.fake.waitForCall('chat.postEphemeral', (c) =>
    String(c.args.text).includes('dance'),
  );
  assert.equal(refusal.args.user, 'UALICE');
  assert.match(
    String(refusal.args.text),
    /no command "dance"\. Commands: echo, look, caption, ask, draw, alttext, help or paint/,
  );
});

test('bad options get a short ephemeral message naming the valid ones', async () => {
  await h.command({ command: '/echo', text: 'text:hi what is this' });
  const refusal = await h.fake.waitForCall('chat.postEphemeral', (c) =>
    String(c.args.text).includes('what is this'),
  );
  assert.match(String(refusal.args.text), /\/echo does not take "what is this"\. Options: text:…/);
});
