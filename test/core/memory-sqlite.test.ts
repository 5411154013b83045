import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SqliteMemoryStore } from '../../src/core/memory-sqlite.js';

const turn = (question: string, at: number, extra: object = {}) => ({
  question,
  answer: `a:${question}`,
  at,
  ...extra,
});

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'iris-sqlite-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('turns are kept per conversation and never seen from another; clear forgets one conversation', async () => {
  const store = new SqliteMemoryStore({ path: ':memory:', ttlSeconds: 60, maxTurns: 10, now: () => 1000 });
  await store.append('discord:1', turn('q1', 1000));
  await store.append('discord:10', turn('prefix-lookalike', 1000));
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
  assert.equal((await store.recent('discord:10', 5)).length, 1);
  await store.close();
});

test('turns survive closing and reopening the database file (folder created on demand)', async () => {
  const path = join(dir, 'nested', 'deeper', 'iris.sqlite');
  const first = new SqliteMemoryStore({ path, ttlSeconds: 3600, maxTurns: 5 });
  const now = Date.now();
  await first.append(
    'cli:k',
    turn('what colour is it?', now, { imageKey: 'abc', imageUrl: 'file:///x.png', userId: 'u1' }),
  );
  await first.close();
  assert.ok(existsSync(path));
  const second = new SqliteMemoryStore({ path, ttlSeconds: 3600, maxTurns: 5 });
  const turns = await second.recent('cli:k', 5);
  assert.deepEqual(turns, [
    {
      question: 'what colour is it?',
      answer: 'a:what colour is it?',
      at: now,
      imageKey: 'abc',
      imageUrl: 'file:///x.png',
      userId: 'u1',
    },
  ]);
  await second.close();
});

test('recent returns the newest n oldest-first; maxTurns and ttl drop old turns', async () => {
  let now = 0;
  const store = new SqliteMemoryStore({ path: ':memory:', ttlSeconds: 10, maxTurns: 3, now: () => now });
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
  // an append deletes expired rows of every conversation, not only its own
  await store.append('other', turn('fresh', 14_500));
  now = 0;
  assert.deepEqual(
    (await store.recent('k', 10)).map((t) => t.question),
    ['q5'],
  );
  await store.close();
});
