import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FairQueue } from '../../src/core/fair-queue.js';

function order(queue: FairQueue<string>): string[] {
  const names: string[] = [];
  queue.forEachFrom(0, (entry, position) => {
    assert.equal(position, names.length + 1);
    names.push(entry.value);
  });
  return names;
}

test('round robin per user: a flood takes turns with everybody else, each user in their own order', () => {
  const queue = new FairQueue<string>(3);
  for (const name of ['a1', 'a2', 'a3', 'a4']) queue.push(name, 'a', 1);
  queue.push('b1', 'b', 1);
  queue.push('b2', 'b', 1);
  queue.push('c1', 'c', 1);
  assert.deepEqual(order(queue), ['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4']);
  assert.equal(queue.size, 7);
});

test('priority levels come first; round robin within each', () => {
  const queue = new FairQueue<string>(3);
  queue.push('batch-a', 'a', 2);
  queue.push('normal-a', 'a', 1);
  queue.push('ask-b', 'b', 0);
  const { entry, index } = queue.push('ask-a', 'a', 0);
  assert.equal(index, 1);
  assert.equal(queue.position(entry), 2);
  assert.deepEqual(order(queue), ['ask-b', 'ask-a', 'normal-a', 'batch-a']);
});

test('a newcomer joins the round being served, behind the jobs already in it', () => {
  const queue = new FairQueue<string>(1);
  for (const name of ['a1', 'a2', 'a3']) queue.push(name, 'a', 0);
  assert.equal(queue.take(() => true)?.entry.value, 'a1'); // round 1 served
  const b = queue.push('b1', 'b', 0);
  assert.equal(b.index, 1, 'after a2 (round 2), before a3 (round 3)');
  assert.deepEqual(order(queue), ['a2', 'b1', 'a3']);
});

test('take skips users the caller says are busy; they keep their place', () => {
  const queue = new FairQueue<string>(1);
  queue.push('a1', 'a', 0);
  queue.push('b1', 'b', 0);
  queue.push('a2', 'a', 0);
  const taken = queue.take((e) => e.user !== 'a');
  assert.deepEqual([taken?.entry.value, taken?.index], ['b1', 1]);
  assert.deepEqual(order(queue), ['a1', 'a2']);
  assert.equal(
    queue.take(() => false),
    undefined,
  );
});

test('remove: the place it had, later entries move up, a second remove is a no-op', () => {
  const queue = new FairQueue<string>(2);
  const entries = ['x', 'y', 'z'].map((name, i) => queue.push(name, `u${i}`, 0).entry);
  const late = queue.push('late', 'u9', 1).entry;
  assert.equal(queue.remove(entries[1] as (typeof entries)[number]), 1);
  assert.equal(queue.remove(entries[1] as (typeof entries)[number]), undefined);
  assert.equal(queue.position(entries[1] as (typeof entries)[number]), undefined);
  assert.equal(queue.position(late), 3);
  assert.deepEqual(order(queue), ['x', 'z', 'late']);
  const seen: string[] = [];
  queue.forEachFrom(1, (entry, position) => seen.push(`${entry.value}@${position}`));
  assert.deepEqual(seen, ['z@2', 'late@3']);
});
