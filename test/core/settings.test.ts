import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { altTextWanted } from '../../src/core/alttext-settings.js';
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
