/** The quota rules every QuotaStore must keep, run against the in-process store and the Redis one. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type QuotaStore, quotaWindows } from '../../src/core/quota.js';

const MINUTE = 60_000;

export function quotaStoreCases(name: string, make: () => QuotaStore | Promise<QuotaStore>): void {
  test(`${name} quota store: a sliding window, and refused jobs do not use it`, async () => {
    const store = await make();
    const windows = quotaWindows(
      { perUser: { jobs: 2, windowSeconds: 3600 }, perChannel: { jobs: 0, windowSeconds: 3600 } },
      'u',
      'c',
    );
    const take = (now: number) => store.take(windows, now);
    assert.equal(await take(0), undefined);
    assert.equal(await take(30 * MINUTE), undefined);
    for (let i = 0; i < 5; i++) {
      const full = await take(40 * MINUTE);
      assert.equal(full?.window.kind, 'user');
      assert.equal(full?.retryAfterMs, 20 * MINUTE);
    }
    assert.equal(await take(61 * MINUTE), undefined, 'the first job left the window; refusals did not count');
    // A fixed hourly window would have reset at 60 min and allowed this one.
    assert.equal((await take(70 * MINUTE))?.retryAfterMs, 20 * MINUTE);
    assert.equal(await take(90 * MINUTE + 1), undefined);
  });

  test(`${name} quota store: a take counts in every window or in none`, async () => {
    const store = await make();
    const config = { perUser: { jobs: 2, windowSeconds: 600 }, perChannel: { jobs: 1, windowSeconds: 600 } };
    assert.equal(await store.take(quotaWindows(config, 'a', 'ch1'), 1000), undefined);
    const full = await store.take(quotaWindows(config, 'b', 'ch1'), 2000);
    assert.equal(full?.window.kind, 'channel');
    assert.equal(full?.retryAfterMs, 599_000);
    // b's refused job in ch1 did not count against b: two more fit elsewhere.
    assert.equal(await store.take(quotaWindows(config, 'b', 'ch2'), 3000), undefined);
    assert.equal(await store.take(quotaWindows(config, 'b', 'ch3'), 4000), undefined);
    assert.equal((await store.take(quotaWindows(config, 'b', 'ch4'), 5000))?.window.kind, 'user');
    assert.equal(await store.take(quotaWindows(config, 'c', 'ch1'), 601_001), undefined);
  });
}
