import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Check, type DoctorDeps, formatChecks, runChecks } from '../../src/cli/doctor.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { synthClip } from '../../src/demo/colourworld/index.js';
import { runIris } from '../fakes/cli.js';
import { SECRETS } from '../fakes/secrets.js';

const healthy: DoctorDeps = {
  nodeVersion: '20.19.0',
  providers: async () => [
    { name: 'cpu', installed: true },
    { name: 'cuda', installed: false },
  ],
  sharpVersion: async () => '0.35.5',
};

describe('iris doctor', () => {
  let models: string;
  before(async () => {
    models = await mkdtemp(join(tmpdir(), 'iris-doctor-'));
    await synthClip(join(models, 'Xenova/clip-vit-base-patch32'), { variant: 'colour' });
  });
  after(() => rm(models, { recursive: true, force: true }));

  const config =
    (overrides: Record<string, unknown> = {}, env: Record<string, string> = {}) =>
    () =>
      loadConfig({ env, overrides: { 'models.dir': models, ...overrides } });
  const byName = (checks: Check[], name: string) => checks.find((c) => c.name === name);

  it('a healthy setup: no fails; the tag model is ready, missing ones say which command fetches them', async () => {
    const checks = await runChecks(config(), healthy);
    assert.equal(checks.filter((c) => c.state === 'fail').length, 0, formatChecks(checks).join('\n'));
    assert.equal(byName(checks, 'model tag')?.state, 'ok');
    assert.match(byName(checks, 'model caption')?.detail ?? '', /run `iris models pull caption`/);
    assert.match(byName(checks, 'onnxruntime')?.detail ?? '', /providers available: cpu$/);
    const table = formatChecks(checks);
    assert.match(table[0] as string, /^check\s+state\s+detail$/);
  });

  it('fails on old Node, a configured CUDA that is not installed, sharp that does not load', async () => {
    const checks = await runChecks(config({ 'models.executionProviders': ['cuda'] }), {
      ...healthy,
      nodeVersion: '18.20.0',
      sharpVersion: async () => {
        throw new Error('Could not load the "sharp" module');
      },
    });
    assert.equal(byName(checks, 'node')?.state, 'fail');
    assert.equal(byName(checks, 'onnxruntime')?.state, 'fail');
    assert.match(byName(checks, 'onnxruntime')?.detail ?? '', /missing: cuda .*cuda12/);
    assert.equal(byName(checks, 'sharp')?.state, 'fail');
  });

  it('an invalid config is a fail naming the key', async () => {
    const checks = await runChecks(() => {
      throw new ConfigError('invalid config:\n  platforms.playground.port: too big — got 99999');
    }, healthy);
    assert.equal(byName(checks, 'config')?.state, 'fail');
    assert.match(byName(checks, 'config')?.detail ?? '', /platforms\.playground\.port/);
  });

  it('a backend option its schema refuses is a fail naming the key; the real command exits 2', async () => {
    const checks = await runChecks(config({ 'tasks.read.options': { psm: 99, dpii: 300 } }), healthy);
    assert.equal(byName(checks, 'config')?.state, 'fail');
    const detail = byName(checks, 'config')?.detail ?? '';
    assert.match(detail, /tasks\.read\.options\.psm: expected a whole number from 0 to 13 — got 99/);
    assert.match(detail, /tasks\.read\.options: unknown key dpii/);

    const file = join(models, 'bad-options.yaml');
    await writeFile(file, 'tasks:\n  tag:\n    options: { dtype: q3 }\n');
    const res = await runIris(['doctor'], {
      env: { ...process.env, IRIS_CONFIG: file, IRIS_MODELS_DIR: models },
    });
    assert.equal(res.code, 2, res.stderr);
    assert.match(
      res.stdout,
      /config\s+FAIL\s+invalid config .*tasks\.tag\.options\.dtype: expected one of fp32, .* — got "q3"/,
    );
  });

  it('tokens are judged by format only and never printed', async () => {
    const secret = SECRETS.slackUserToken;
    const discord = SECRETS.discordShapedToken;
    const checks = await runChecks(config({}, { SLACK_BOT_TOKEN: secret, DISCORD_TOKEN: discord }), healthy);
    assert.equal(byName(checks, 'SLACK_BOT_TOKEN')?.state, 'fail');
    assert.match(byName(checks, 'SLACK_BOT_TOKEN')?.detail ?? '', /xoxb-/);
    assert.equal(byName(checks, 'DISCORD_TOKEN')?.state, 'ok');
    assert.equal(byName(checks, 'slack')?.state, 'fail', 'a bot token without a signing secret or app token');
    const printed = formatChecks(checks).join('\n');
    assert.ok(!printed.includes(secret) && !printed.includes(discord));
  });

  it("a key for another OpenAI-compatible service (GROQ_BASE_URL) is not held to Groq's gsk_ format", async () => {
    const key = SECRETS.encodableKey;
    const elsewhere = await runChecks(
      config({}, { GROQ_API_KEY: key, GROQ_BASE_URL: 'https://llm.example.org/openai' }),
      healthy,
    );
    assert.equal(byName(elsewhere, 'GROQ_API_KEY')?.state, 'ok', formatChecks(elsewhere).join('\n'));
    assert.match(byName(elsewhere, 'GROQ_API_KEY')?.detail ?? '', /format not checked \(GROQ_BASE_URL/);
    const groq = await runChecks(config({}, { GROQ_API_KEY: key }), healthy);
    assert.equal(byName(groq, 'GROQ_API_KEY')?.state, 'fail', 'Groq itself still wants gsk_');
    assert.match(byName(groq, 'GROQ_API_KEY')?.detail ?? '', /starts with gsk_/);
    for (const checks of [elsewhere, groq]) assert.ok(!formatChecks(checks).join('\n').includes(key));
  });

  it('the real command: exit code 2 when something blocks start', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const result = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'src/cli/index.ts', 'doctor'],
      {
        env: { ...process.env, IRIS_CONFIG: '', IRIS_MODELS_DIR: models, SLACK_BOT_TOKEN: 'nope' },
      },
    ).catch((e: { code: number; stdout: string }) => e);
    assert.equal((result as { code?: number }).code, 2);
    assert.match((result as { stdout: string }).stdout, /SLACK_BOT_TOKEN\s+FAIL/);
    assert.match((result as { stdout: string }).stdout, /problem\(s\) block start/);
    assert.ok(!(result as { stdout: string }).stdout.includes('nope'));
  });
});
