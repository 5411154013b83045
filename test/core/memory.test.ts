import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryMapStore } from '../../src/core/memory.js';

const turn = (question: string, at: number) => ({ question, answer: `a:${question}`, at });

test('turns are kept per conversation and never seen from another', async () => {
  const store = new MemoryMapStore({ ttlSeconds: 60, maxTurns: 10, now: () => 1000 });
  await store.append('discord:1', turn('q1', 1000));
  await store.append('slack:1', turn('other', 1000));
  await store.append('discord:1', turn('q2', 1000));
  assert.deepEqual(
    (await store.recent('discord:1', 5)).map((t) => t.question),
    ['q1', 'q2'],
  );
  assert.deepEqual(
    (await store.recent('slack:1', 5)).map((t) => t.question),
    ['other'],
  );
  await store.clear('discord:1');
  assert.deepEqual(await store.recent('discord:1', 5), []);
  assert.equal((await store.recent('slack:1', 5)).length, 1);
});

test('recent returns the newest n oldest-first; maxTurns and ttl drop old turns', async () => {
  let now = 0;
  const store = new MemoryMapStore({ ttlSeconds: 10, maxTurns: 3, now: () => now });
  for (let i = 1; i <= 5; i++) await store.append('k', turn(`q${i}`, i * 1000));
  now = 5000;
  assert.deepEqual(
    (await store.recent('k', 2)).map((t) => t.question),
    ['q4', 'q5'],
  );
  assert.deepEqual(
    (await store.recent('k', 10)).map((t) => t.question),
    ['q3', 'q4', 'q5'],
  );
  now = 14_500; // q3 (3 s) and q4 (4 s) are older than 10 s now
  assert.deepEqual(
    (await store.recent('k', 10)).map((t) => t.question),
    ['q5'],
  );
  assert.deepEqual(await store.recent('k', 0), []);
});
