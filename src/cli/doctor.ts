/**
 * `iris doctor`: what would stop iris from starting, or stop a command from working, in one table.
 * A check is ok, warn (iris starts; something will not work) or fail (iris cannot start as configured);
 * any fail makes the exit code 2. Secrets are judged by their format only and never printed.
 */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { modelRows } from '../models/hub/manager.js';

export type CheckState = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  state: CheckState;
  detail: string;
}

export interface DoctorDeps {
  nodeVersion?: string;
  /** onnxruntime-node's providers: name, and whether its binaries are installed. */
  providers?: () => Promise<{ name: string; installed: boolean }[]>;
  sharpVersion?: () => Promise<string>;
  /** Resolves when a Redis at the URL answers PING. */
  pingRedis?: (url: string) => Promise<void>;
}

/** Where Groq's own keys (gsk_…) are used; another OpenAI-compatible service has its own key format. */
const GROQ_HOST = 'api.groq.com';

/**
 * Token shapes (format only; a well-formed token may still be revoked). `skipWhy` says why a token's format
 * is not checked where the config sends it to another service than the one the shape belongs to.
 */
const TOKEN_FORMATS: {
  path: string;
  label: string;
  pattern: RegExp;
  hint: string;
  skipWhy?: (config: Config) => string | undefined;
}[] = [
  {
    path: 'platforms.discord.token',
    label: 'DISCORD_TOKEN',
    pattern: /^[\w-]{20,}\.[\w-]{4,}\.[\w-]{20,}$/,
    hint: 'a Discord bot token has three dot-separated parts (Developer Portal → Bot → Reset Token)',
  },
  {
    path: 'platforms.slack.botToken',
    label: 'SLACK_BOT_TOKEN',
    pattern: /^xoxb-[\w-]+$/,
    hint: 'starts with xoxb-',
  },
  {
    path: 'platforms.slack.signingSecret',
    label: 'SLACK_SIGNING_SECRET',
    pattern: /^[0-9a-f]{32}$/,
    hint: '32 hex characters (Basic Information → Signing Secret)',
  },
  {
    path: 'platforms.slack.appToken',
    label: 'SLACK_APP_TOKEN',
    pattern: /^xapp-[\w-]+$/,
    hint: 'starts with xapp-',
  },
  {
    path: 'providers.groq.apiKey',
    label: 'GROQ_API_KEY',
    pattern: /^gsk_\w+$/,
    hint: 'starts with gsk_',
    skipWhy: (config) =>
      new URL(config.providers.groq.baseUrl).hostname === GROQ_HOST
        ? undefined
        : 'GROQ_BASE_URL is another OpenAI-compatible service, whose keys have their own format',
  },
  { path: 'providers.huggingface.token', label: 'HF_TOKEN', pattern: /^hf_\w+$/, hint: 'starts with hf_' },
];

function valueAt(config: Config, path: string): string {
  const v = path
    .split('.')
    .reduce<unknown>((node, k) => (node as Record<string, unknown> | undefined)?.[k], config);
  return typeof v === 'string' ? v : '';
}

async function defaultProviders(): Promise<{ name: string; installed: boolean }[]> {
  const ort = await import('onnxruntime-node');
  const require = createRequire(import.meta.url);
  const binDir = join(dirname(require.resolve('onnxruntime-node')), '..', 'bin');
  const libs = (dir: string): string[] => {
    try {
      return readdirSync(dir, { recursive: true }).map(String);
    } catch {
      return [];
    }
  };
  const files = libs(binDir);
  return ort.listSupportedBackends().map((b) => ({
    name: b.name,
    // Unbundled providers (CUDA, TensorRT) need their library, installed with --onnxruntime-node-install=cuda12.
    installed: b.bundled || files.some((f) => f.includes(`providers_${b.name}`)),
  }));
}

function defaultPingRedis(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname || '127.0.0.1', port: Number(port) || 6379 });
    const done = (err?: Error) => {
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    socket.setTimeout(2000, () => done(new Error('no answer within 2 s')));
    socket.once('error', done);
    socket.once('connect', () => socket.write('PING\r\n'));
    // A server that wants AUTH answers -NOAUTH: it is there, which is what this check asks.
    socket.once('data', (d) =>
      /^(\+PONG|-NOAUTH)/.test(d.toString()) ? done() : done(new Error(d.toString().trim())),
    );
  });
}

export async function runChecks(load: () => Config, deps: DoctorDeps = {}): Promise<Check[]> {
  const checks: Check[] = [];
  const node = deps.nodeVersion ?? process.versions.node;
  const major = Number(node.split('.')[0]);
  checks.push({
    name: 'node',
    state: major >= 20 ? 'ok' : 'fail',
    detail: major >= 20 ? `v${node}` : `v${node}: iris needs Node 20 or newer`,
  });

  let config: Config | undefined;
  try {
    config = load();
    checks.push({ name: 'config', state: 'ok', detail: 'valid' });
  } catch (e) {
    const msg = e instanceof ConfigError ? e.message.replace(/\n\s*/g, '; ') : (e as Error).message;
    checks.push({ name: 'config', state: 'fail', detail: msg });
  }

  try {
    const providers = await (deps.providers ?? defaultProviders)();
    const have = providers.filter((p) => p.installed).map((p) => p.name);
    const wanted = config?.models.executionProviders ?? ['cpu'];
    const lacking = wanted.filter((p) => !have.includes(p));
    checks.push({
      name: 'onnxruntime',
      state: lacking.length ? (lacking.length === wanted.length ? 'fail' : 'warn') : 'ok',
      detail:
        `providers available: ${have.join(', ')}` +
        (lacking.length
          ? `; configured but missing: ${lacking.join(', ')} (for CUDA: npm install onnxruntime-node --onnxruntime-node-install=cuda12)`
          : ''),
    });
  } catch (e) {
    checks.push({
      name: 'onnxruntime',
      state: 'fail',
      detail: `onnxruntime-node does not load: ${(e as Error).message}`,
    });
  }

  try {
    const version = await (
      deps.sharpVersion ?? (async () => (await import('sharp')).default.versions.sharp)
    )();
    checks.push({ name: 'sharp', state: 'ok', detail: `v${version}` });
  } catch (e) {
    checks.push({
      name: 'sharp',
      state: 'fail',
      detail: `sharp does not load (${(e as Error).message.split('\n')[0]}); reinstall with npm ci`,
    });
  }

  if (!config) return checks;

  for (const row of await modelRows(config)) {
    const where = `${row.backend} ${row.model}`;
    if (row.state === 'ready' || row.state === 'no folder') {
      checks.push({
        name: `model ${row.task}`,
        state: 'ok',
        detail: `${where}${row.state === 'no folder' ? '' : ' ready'}`,
      });
    } else {
      const fix = config.models.offline
        ? 'copy the folder into models.dir (models.offline is true)'
        : `run \`iris models pull ${row.task}\``;
      const what =
        row.state === 'incomplete' ? `lacks ${row.missingFiles.join(', ')}` : `not in ${config.models.dir}`;
      checks.push({ name: `model ${row.task}`, state: 'warn', detail: `${where} ${what}: ${fix}` });
    }
  }

  for (const t of TOKEN_FORMATS) {
    const value = valueAt(config, t.path);
    if (!value) continue;
    const skip = t.skipWhy?.(config);
    if (skip) {
      checks.push({ name: t.label, state: 'ok', detail: `set; format not checked (${skip})` });
      continue;
    }
    const ok = t.pattern.test(value);
    checks.push({
      name: t.label,
      state: ok ? 'ok' : 'fail',
      detail: ok ? 'set, well-formed' : `set, but not well-formed: ${t.hint}`,
    });
  }
  if (
    config.platforms.slack.botToken &&
    !config.platforms.slack.signingSecret &&
    !config.platforms.slack.appToken
  ) {
    checks.push({
      name: 'slack',
      state: 'fail',
      detail:
        'SLACK_BOT_TOKEN is set but neither SLACK_SIGNING_SECRET (HTTP events) nor SLACK_APP_TOKEN (Socket Mode)',
    });
  }

  const queue = (config as { queue?: { kind?: string; url?: string } }).queue;
  if (queue?.kind === 'redis' && queue.url) {
    try {
      await (deps.pingRedis ?? defaultPingRedis)(queue.url);
      checks.push({ name: 'redis', state: 'ok', detail: 'answers PING' });
    } catch (e) {
      checks.push({
        name: 'redis',
        state: 'fail',
        detail: `no answer from the configured Redis (${(e as Error).message})`,
      });
    }
  }
  return checks;
}

export function formatChecks(checks: readonly Check[]): string[] {
  const width = Math.max(5, ...checks.map((c) => c.name.length));
  const mark: Record<CheckState, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };
  return [
    `${'check'.padEnd(width)}  state  detail`,
    ...checks.map((c) => `${c.name.padEnd(width)}  ${mark[c.state]}   ${c.detail}`),
  ];
}

/** Prints the table; returns the exit code (2 when something blocks start). */
export async function doctorCli(
  flags: { config?: string; models?: string },
  io: { out: (line: string) => void },
  deps: DoctorDeps = {},
): Promise<number> {
  const checks = await runChecks(
    () => loadConfig({ file: flags.config, overrides: { 'models.dir': flags.models } }),
    deps,
  );
  for (const line of formatChecks(checks)) io.out(line);
  const failed = checks.filter((c) => c.state === 'fail');
  io.out(failed.length ? `${failed.length} problem(s) block start.` : 'Nothing blocks start.');
  return failed.length ? 2 : 0;
}
