import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, configuredPlatforms, loadConfig } from '../src/config.js';

function yamlFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'iris-config-')), 'local.yaml');
  writeFileSync(file, text);
  return file;
}

test('defaults load from config/default.yaml and validate', () => {
  const config = loadConfig({ env: {} });
  assert.equal(config.tasks.tag.backend, 'clip');
  assert.equal(config.scheduler.queues.gpu?.maxConcurrent, 1);
  assert.deepEqual(configuredPlatforms(config), { discord: false, slack: false, playground: true });
});

test('a local file, then env vars, then overrides win, in that order', () => {
  const file = yamlFile('scheduler:\n  highWater: 7\nmodels:\n  dir: /from-file\n');
  const config = loadConfig({
    file,
    env: {
      IRIS_MODELS_DIR: '/from-env',
      DISCORD_TOKEN: 'tok',
      IRIS_ALLOW_HOSTS: 'a.test, b.test:8080',
      IRIS_PORT: '9000',
    },
    overrides: { 'scheduler.perUser.jobs': 0 },
  });
  assert.equal(config.scheduler.highWater, 7);
  assert.equal(config.scheduler.perUser.windowSeconds, 3600, 'deep merge keeps sibling defaults');
  assert.equal(config.models.dir, '/from-env');
  assert.deepEqual(config.media.allowHosts, ['a.test', 'b.test:8080']);
  assert.equal(config.platforms.playground.port, 9000);
  assert.equal(config.scheduler.perUser.jobs, 0);
  assert.deepEqual(configuredPlatforms(config), { discord: true, slack: false, playground: false });
});

test('an invalid file names the key, the value and what was expected', () => {
  const file = yamlFile(
    'scheduler:\n  highWater: lots\n  queues:\n    gpu: { maxConcurrent: 0 }\ntasks:\n  tag:\n    topk: 3\n',
  );
  assert.throws(
    () => loadConfig({ file, env: {} }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /scheduler\.highWater: .*expected number.* — got "lots"/);
      assert.match(e.message, /scheduler\.queues\.gpu\.maxConcurrent: .*>=1.* — got 0/);
      assert.match(e.message, /tasks\.tag: unknown key topk/);
      return true;
    },
  );
});

test('a bad env value is reported without echoing secrets', () => {
  assert.throws(
    () => loadConfig({ env: { SLACK_PORT: 'eighty' } }),
    /platforms\.slack\.port: .* — got "eighty"/,
  );
  assert.throws(
    () => loadConfig({ env: {}, overrides: { 'platforms.discord.token': 12345678 } }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /token: .*got \(hidden\)/.test(e.message) &&
      !e.message.includes('12345678'),
  );
});

test('broken YAML and a missing file are config errors, not crashes', () => {
  assert.throws(() => loadConfig({ file: yamlFile('a: [1, 2\n'), env: {} }), ConfigError);
  assert.throws(() => loadConfig({ file: '/nonexistent/iris.yaml', env: {} }), /does not exist/);
});
