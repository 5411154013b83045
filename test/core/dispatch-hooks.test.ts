import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { mediaSettings } from '../../src/app.js';
import { COMMANDS } from '../../src/commands/index.js';
import { loadConfig } from '../../src/config.js';
import { Dispatcher } from '../../src/core/dispatch.js';
import type { ImageIndex, IndexedImage } from '../../src/core/image-index.js';
import { SqliteImageIndex } from '../../src/core/image-index-sqlite.js';
import { createLogger } from '../../src/core/log.js';
import { Scheduler } from '../../src/core/scheduler.js';
import { fakeBackends } from '../fakes/backends.js';

function setup(imageIndex?: ImageIndex) {
  const config = loadConfig({ env: {}, overrides: { 'memory.store': 'memory' } });
  const lines: string[] = [];
  const log = createLogger({
    level: 'info',
    secrets: [],
    destination: new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
  const dispatcher = new Dispatcher({
    commands: COMMANDS,
    executor: new Scheduler(config.scheduler),
    registry: fakeBackends({}),
    config,
    log,
    media: mediaSettings(config),
    ...(imageIndex && { imageIndex }),
  });
  return { dispatcher, lines };
}

function image(link: string, name: string): IndexedImage {
  return { link, name, author: 'alice', at: Date.now(), hash: name, vector: Float32Array.from([1, 0]) };
}

test('messageDeleted removes that link from that conversation only; an empty link removes nothing', async () => {
  const index = new SqliteImageIndex({ path: ':memory:', ttlSeconds: 3600, maxPerChannel: 100 });
  const { dispatcher, lines } = setup(index);
  await index.add('x:1', image('https://chat/1/a', 'a.png'));
  await index.add('x:1', image('https://chat/1/a', 'a2.png'));
  await index.add('x:1', image('https://chat/1/b', 'b.png'));
  await index.add('x:1', image('', 'cli.png'));
  await index.add('x:2', image('https://chat/1/a', 'same-link-elsewhere.png'));

  await dispatcher.hooks.messageDeleted({ conversation: 'x:1', link: 'https://chat/1/a' });
  const left = (await index.search('x:1', Float32Array.from([1, 0]), 10)).map((h) => h.image.name).sort();
  assert.deepEqual(left, ['b.png', 'cli.png'], 'both images of the deleted message went');
  assert.equal(await index.count('x:2'), 1, 'another conversation keeps its entry');
  assert.ok(lines.some((l) => l.includes('deleted message left image memory') && l.includes('"removed":2')));

  await dispatcher.hooks.messageDeleted({ conversation: 'x:1', link: '' });
  await dispatcher.hooks.messageDeleted({ conversation: 'x:1', link: 'https://chat/never' });
  assert.equal(
    await index.count('x:1'),
    2,
    "links never stored and '' (requests without a link) match nothing",
  );
  await index.close();
});

test('messageDeleted never throws: no index is a no-op, a failing index is logged', async () => {
  await setup().dispatcher.hooks.messageDeleted({ conversation: 'x:1', link: 'https://chat/1' });
  const broken = new SqliteImageIndex({ path: ':memory:', ttlSeconds: 3600, maxPerChannel: 100 });
  const { dispatcher, lines } = setup(broken);
  await broken.close(); // every statement now fails
  await dispatcher.hooks.messageDeleted({ conversation: 'x:1', link: 'https://chat/1' });
  assert.ok(lines.some((l) => l.includes('could not remove a deleted message from image memory')));
});
