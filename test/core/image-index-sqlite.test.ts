import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteImageIndex } from '../../src/core/image-index-sqlite.js';
import { baseOptions, image, imageIndexCases, unit } from './image-index-cases.js';

for (const c of imageIndexCases) {
  test(c.name, () => c.run((options) => new SqliteImageIndex({ ...options, path: ':memory:' })));
}

test('entries persist in the file and share it with other processes (reopen)', async () => {
  const path = join(await mkdtemp(join(tmpdir(), 'iris-index-')), 'sub', 'iris.sqlite');
  const first = new SqliteImageIndex({ ...baseOptions, path });
  await first.add('c', image('kept', unit(0, 1)));
  await first.close();
  const second = new SqliteImageIndex({ ...baseOptions, path });
  assert.deepEqual(
    (await second.search('c', unit(0, 1), 1)).map((h) => h.image.name),
    ['kept'],
  );
  await second.close();
});
