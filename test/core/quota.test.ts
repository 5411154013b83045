import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeWindow, Quotas, SlidingWindow } from '../../src/core/quota.js';
import { UserError } from '../../src/errors.js';

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
  const quotas = new Quotas({ jobs: 1, windowSeconds: 3600 }, { jobs: 2, windowSeconds: 90 });
  quotas.record('u', 'c', 0);
  const user = quotas.check('u', 'c', 60_000);
  assert.ok(user instanceof UserError);
  assert.equal(user.code, 'quota');
  assert.equal(user.message, "You've reached your limit of 1 jobs per hour — try again in 59 min.");
  quotas.record('v', 'c', 1_000);
  const channel = quotas.check('w', 'c', 2_000);
  assert.equal(
    channel?.message,
    'This channel has reached its limit of 2 jobs per 90 s — try again in 2 min.',
  );
  assert.equal(quotas.check('w', undefined, 2_000), undefined, 'no channel, no channel quota');
  assert.equal(quotas.check('w', 'c', 91_000), undefined);
});

test('describeWindow', () => {
  assert.deepEqual([60, 3600, 86400, 600, 45].map(describeWindow), [
    'minute',
    'hour',
    'day',
    '10 min',
    '45 s',
  ]);
});
