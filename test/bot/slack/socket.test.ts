import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { APP_ID, TEAM_ID } from '../../fakes/slack/sign.js';
import { type Harness, startHarness } from './harness.js';

let h: Harness;
before(async () => {
  h = await startHarness({ socketMode: true });
});
after(() => h.stop());

test('Socket Mode: connects with the app token, acks a slash command envelope, then answers it', async () => {
  assert.equal(h.adapter.port, 0, 'no HTTP receiver in Socket Mode');
  const open = h.fake.callsTo('apps.connections.open');
  assert.equal(open.length, 1);
  assert.equal(open[0]?.token, h.fake.tokens.app, 'apps.connections.open uses the app-level token');
  await h.fake.socket.connected;
  const ack = await h.fake.socket.deliver('slash_commands', {
    token: 'legacy',
    team_id: TEAM_ID,
    api_app_id: APP_ID,
    command: '/echo',
    text: 'over the socket',
    user_id: 'UALICE',
    channel_id: 'CSOCK',
    response_url: 'http://127.0.0.1:9/unused',
    trigger_id: 't1',
  });
  assert.deepEqual(ack, {}, 'acked with an empty payload');
  const answer = await h.fake.waitForMessage((m) => m.text === 'echo: over the socket');
  assert.equal(answer.channel, 'CSOCK');
});

test('Socket Mode: events are acked and deduplicated by event_id too', async () => {
  const event = {
    type: 'message',
    channel: 'CSOCK',
    user: 'UALICE',
    text: 'ignored: no image, no mention',
    ts: '1700000999.000100',
    channel_type: 'channel',
  };
  const envelope = {
    team_id: TEAM_ID,
    api_app_id: APP_ID,
    event,
    type: 'event_callback',
    event_id: 'EvSOCK1',
    event_time: 1,
  };
  await h.fake.socket.deliver('events_api', envelope);
  await h.fake.socket.deliver('events_api', envelope);
  // The ack comes before the middleware runs: wait for the duplicate's log line.
  for (let i = 0; i < 100 && !h.logs.some((l) => l.includes('EvSOCK1')); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const duplicates = h.logs.filter((l) => l.includes('duplicate event ignored') && l.includes('EvSOCK1'));
  assert.equal(duplicates.length, 1);
});
