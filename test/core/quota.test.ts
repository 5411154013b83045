import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  describeWindow,
  MemoryQuotaStore,
  quotaRefusal,
  quotaWindows,
  SlidingWindow,
} from '../../src/core/quota.js';
import { UserError } from '../../src/errors.js';
import { quotaStoreCases } from './quota-cases.js';

test('a sliding window allows `limit` hits in any window and says when the next one fits', () => {
  const w = new SlidingWindow(3, 10);
  for (const t of [0, 2_000, 4_000]) {
    assert.equal(w.retryAfter('k', t), 0);
    w.record('k', t);
  }
  assert.equal(w.retryAfter('k', 5_000), 5_000); // the hit at 0 leaves at 10 s
  assert.equal(w.retryAfter('other', 5_000), 0, 'keys are independent');
  assert.equal(w.retryAfter('k', 10_000), 0);
  w.record('k', 10_000);
  assert.equal(w.retryAfter('k', 10_500), 1_500); // now the hit at 2 s is the oldest that counts
});

test('a limit of 0 is unlimited', () => {
  const w = new SlidingWindow(0, 60);
  for (let i = 0; i < 1000; i++) w.record('k', 0);
  assert.equal(w.retryAfter('k', 0), 0);
});

test('quota refusals name the limit, the window and the minutes to wait', () => {
  const config = { perUser: { jobs: 1, windowSeconds: 3600 }, perChannel: { jobs: 2, windowSeconds: 90 } };
  const store = new MemoryQuotaStore();
  const take = (user: string, channel: string | undefined, now: number) => {
    const full = store.take(quotaWindows(config, user, channel), now);
    return full && quotaRefusal(full);
  };
  assert.equal(take('u', 'c', 0), undefined);
  const user = take('u', 'c', 60_000);
  assert.ok(user instanceof UserError);
  assert.equal(user.code, 'quota');
  assert.equal(user.message, "You've reached your limit of 1 jobs per hour — try again in 59 min.");
  assert.equal(take('v', 'c', 1_000), undefined);
  const channel = take('w', 'c', 2_000);
  assert.equal(
    channel?.message,
    'This channel has reached its limit of 2 jobs per 90 s — try again in 2 min.',
  );
  assert.equal(take('w', undefined, 2_000), undefined, 'no channel, no channel quota');
  assert.equal(take('x', 'c', 91_000), undefined);
});

test('unlimited windows are left out', () => {
  const config = { perUser: { jobs: 0, windowSeconds: 60 }, perChannel: { jobs: 5, windowSeconds: 60 } };
  assert.deepEqual(quotaWindows(config, 'u', 'c'), [
    { kind: 'channel', key: 'c', limit: 5, windowMs: 60_000 },
  ]);
  assert.deepEqual(quotaWindows(config, 'u', undefined), []);
});

quotaStoreCases('memory', () => new MemoryQuotaStore());

test('describeWindow', () => {
  assert.deepEqual([60, 3600, 86400, 600, 45].map(describeWindow), [
    'minute',
    'hour',
    'day',
    '10 min',
    '45 s',
  ]);
});
