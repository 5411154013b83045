import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { altTextWanted } from '../../src/core/alttext-channels.js';
import { MemorySettingsStore, type SettingsStore } from '../../src/core/settings.js';
import { SqliteSettingsStore } from '../../src/core/settings-sqlite.js';

async function roundTrip(store: SettingsStore) {
  assert.equal(await store.get('a'), undefined);
  await store.set('a', 'on');
  await store.set('a', 'off');
  assert.equal(await store.get('a'), 'off', 'the last value wins');
  await store.set('a', undefined);
  assert.equal(await store.get('a'), undefined, 'undefined removes');
}

test('both settings stores set, overwrite and remove', async () => {
  await roundTrip(new MemorySettingsStore());
  await roundTrip(new SqliteSettingsStore({ path: ':memory:' }));
});

test('SQLite settings survive a restart, beside conversation memory in the same file', async () => {
  const path = join(await mkdtemp(join(tmpdir(), 'iris-settings-')), 'sub', 'iris.sqlite');
  const first = new SqliteSettingsStore({ path });
  await first.set('alttext:user:discord:1', 'off');
  await first.close();
  const second = new SqliteSettingsStore({ path });
  assert.equal(await second.get('alttext:user:discord:1'), 'off');
  await second.close();
});

test('alt text is wanted where the channel is on and the user has not opted out; a stored choice beats config', async () => {
  const store = new MemorySettingsStore();
  const q = { platform: 'discord', userId: 'u1', conversation: 'discord:c1:thread9', configured: true };
  assert.equal(await altTextWanted(store, q), true);
  assert.equal(await altTextWanted(store, { ...q, configured: false }), false);
  await store.set('alttext:user:discord:u1', 'off');
  assert.equal(await altTextWanted(store, q), false, 'opted out');
  assert.equal(await altTextWanted(store, { ...q, userId: 'u2' }), true, 'only that user');
  await store.set('alttext:channel:discord:c1', 'off');
  assert.equal(await altTextWanted(store, { ...q, userId: 'u2' }), false, 'an admin turned the channel off');
  await store.set('alttext:channel:discord:c1', 'on');
  assert.equal(
    await altTextWanted(store, { ...q, userId: 'u2', configured: false }),
    true,
    'covers its threads',
  );
});

test('a value set with a TTL reads as absent once it is older; others stay (both stores, SQLite across a reopen)', async () => {
  let now = 1_000_000;
  const clock = () => now;
  const path = join(await mkdtemp(join(tmpdir(), 'iris-settings-ttl-')), 'iris.sqlite');
  for (const open of [
    () => new MemorySettingsStore({ now: clock }),
    () => new SqliteSettingsStore({ path, now: clock }),
  ]) {
    now = 1_000_000;
    const store = open();
    await store.set('imagine-prompt:abc', 'long prompt', { ttlSeconds: 60 });
    await store.set('alttext:user:slack:u1', 'off');
    now += 59_000;
    assert.equal(await store.get('imagine-prompt:abc'), 'long prompt', 'still within its TTL');
    now += 1_000;
    assert.equal(await store.get('imagine-prompt:abc'), undefined, 'expired');
    assert.equal(await store.get('alttext:user:slack:u1'), 'off', 'no TTL: kept');
    await store.set('imagine-prompt:abc', 'again', { ttlSeconds: 60 });
    await store.set('imagine-prompt:abc', 'for good');
    now += 3_600_000;
    assert.equal(await store.get('imagine-prompt:abc'), 'for good', 'setting without a TTL clears it');
    await store.close();
  }
});

test('a settings file from before TTLs opens and keeps its values', async () => {
  const path = join(await mkdtemp(join(tmpdir(), 'iris-settings-old-')), 'iris.sqlite');
  const { default: Database } = await import('better-sqlite3');
  const old = new Database(path);
  old.exec('CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  old.prepare('INSERT INTO settings (key, value) VALUES (?, ?)').run('alttext:channel:discord:c1', 'on');
  old.close();
  const store = new SqliteSettingsStore({ path });
  assert.equal(await store.get('alttext:channel:discord:c1'), 'on');
  await store.set('imagine-prompt:x', 'p', { ttlSeconds: 60 });
  assert.equal(await store.get('imagine-prompt:x'), 'p');
  await store.close();
});
