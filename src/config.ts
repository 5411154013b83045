/**
 * Loads the config: config/default.yaml, then the operator's file, the environment (ENV_MAP) and
 * overrides, checked against config-schema.ts with errors that name the key and hide secrets.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { type Config, configSchema, configSchemaFor } from './config-schema.js';
import { truncate } from './core/text.js';
import type { TaskTable } from './models/table.js';

export type { Config } from './config-schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code = 'invalid_config';
}

/** Environment variables → config paths. Numbers are converted; comma lists split. */
const ENV_MAP = [
  ['IRIS_LOG_LEVEL', 'log.level', 'string'],
  ['IRIS_MODELS_DIR', 'models.dir', 'string'],
  ['IRIS_ALLOW_HOSTS', 'media.allowHosts', 'list'],
  ['DISCORD_TOKEN', 'platforms.discord.token', 'string'],
  ['DISCORD_API_URL', 'platforms.discord.apiUrl', 'string'],
  ['SLACK_BOT_TOKEN', 'platforms.slack.botToken', 'string'],
  ['SLACK_SIGNING_SECRET', 'platforms.slack.signingSecret', 'string'],
  ['SLACK_APP_TOKEN', 'platforms.slack.appToken', 'string'],
  ['SLACK_API_URL', 'platforms.slack.apiUrl', 'string'],
  ['SLACK_PORT', 'platforms.slack.port', 'number'],
  ['IRIS_PORT', 'platforms.playground.port', 'number'],
  ['IRIS_PLAYGROUND_TOKEN', 'platforms.playground.accessToken', 'string'],
  ['GROQ_API_KEY', 'providers.groq.apiKey', 'string'],
  ['GROQ_BASE_URL', 'providers.groq.baseUrl', 'string'],
  ['HF_TOKEN', 'providers.huggingface.token', 'string'],
  ['HF_ENDPOINT', 'providers.huggingface.endpoint', 'string'],
  ['IRIS_REDIS_URL', 'queue.url', 'string'],
] as const;

/** Config paths whose values are secrets: never printed, even in validation errors. */
export const SECRET_PATHS = [
  'platforms.discord.token',
  'platforms.slack.botToken',
  'platforms.slack.signingSecret',
  'platforms.slack.appToken',
  'platforms.playground.accessToken',
  'providers.groq.apiKey',
  'providers.huggingface.token',
  // A Redis URL may carry a password.
  'queue.url',
] as const;

export const DEFAULT_CONFIG_FILE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'config',
  'default.yaml',
);

export interface LoadConfigOptions {
  /** Extra YAML file layered over the defaults (default: $IRIS_CONFIG, else config/local.yaml if present). */
  file?: string;
  env?: Record<string, string | undefined>;
  /** Last layer, e.g. from CLI flags: { 'models.dir': '/x' }. */
  overrides?: Record<string, unknown>;
  /** The task table backends are checked against (default the registry's; the demo passes its own). */
  table?: TaskTable;
}

type Tree = Record<string, unknown>;

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isTree(b) && isTree(v) ? merge(b, v) : v;
  }
  return out;
}

/** Sets a dotted path in `tree`, copying each mapping on the way (layers below may share them). */
function setPath(tree: Tree, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = tree;
  for (const k of keys.slice(0, -1)) {
    const next: Tree = isTree(node[k]) ? { ...(node[k] as Tree) } : {};
    node[k] = next;
    node = next;
  }
  node[keys.at(-1) as string] = value;
}

function getPath(tree: unknown, path: readonly PropertyKey[]): unknown {
  let node = tree;
  for (const k of path) node = isTree(node) || Array.isArray(node) ? (node as Tree)[k as string] : undefined;
  return node;
}

function readYaml(file: string): Tree {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`config ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (parsed == null) return {};
  if (!isTree(parsed)) throw new ConfigError(`config ${file}: expected a mapping at the top level`);
  return parsed;
}

function envLayer(env: Record<string, string | undefined>): Tree {
  const layer: Tree = {};
  for (const [name, path, kind] of ENV_MAP) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const value =
      kind === 'number'
        ? Number.isNaN(Number(raw))
          ? raw // left as text so the error shows what was given
          : Number(raw)
        : kind === 'list'
          ? raw
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : raw;
    setPath(layer, path, value);
  }
  // One variable moves queue, limits and memory to Redis (src/core/redis/); see docs/scaling.md.
  if (env.IRIS_REDIS_URL) setPath(layer, 'queue.kind', 'redis');
  return layer;
}

function describeValue(path: string, value: unknown): string {
  if ((SECRET_PATHS as readonly string[]).includes(path)) return '(hidden)';
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return truncate(text, 60);
}

/**
 * default.yaml's options for a task are for its default backend: where a later layer picks another backend,
 * only the options the later layers give apply (the other backend's schema would refuse the defaults).
 */
function dropOtherBackendsDefaults(tree: Tree, o: { defaults: Tree; upper: Tree }): Tree {
  if (!isTree(tree.tasks)) return tree;
  const tasks: Tree = { ...tree.tasks };
  for (const [task, entry] of Object.entries(tasks)) {
    if (!isTree(entry) || entry.backend === getPath(o.defaults, ['tasks', task, 'backend'])) continue;
    tasks[task] = { ...entry, options: getPath(o.upper, ['tasks', task, 'options']) ?? {} };
  }
  return { ...tree, tasks };
}

/** Layers: default.yaml < local file < environment < overrides. Throws ConfigError naming key, value and expectation. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const defaults = readYaml(DEFAULT_CONFIG_FILE);
  const localDefault = resolve(dirname(DEFAULT_CONFIG_FILE), 'local.yaml');
  const file = options.file ?? env.IRIS_CONFIG ?? (existsSync(localDefault) ? localDefault : undefined);
  if (file && !existsSync(file)) throw new ConfigError(`config file ${file} does not exist`);
  const fileLayer = file ? readYaml(file) : {};
  const envTree = envLayer(env);
  const layered = (base: Tree): Tree => {
    const tree = merge(merge(base, fileLayer), envTree);
    for (const [path, value] of Object.entries(options.overrides ?? {})) {
      if (value !== undefined) setPath(tree, path, value);
    }
    return tree;
  };
  const tree = dropOtherBackendsDefaults(layered(defaults), { defaults, upper: layered({}) });
  const result = (options.table ? configSchemaFor(options.table) : configSchema).safeParse(tree);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const path = issue.path.join('.');
    const where = path || '(top level)';
    if (issue.code === 'unrecognized_keys') return `${where}: unknown key ${issue.keys.join(', ')}`;
    return `${where}: ${issue.message} — got ${describeValue(path, getPath(tree, issue.path))}`;
  });
  // One problem fits on the one `error: …` line the CLI prints; several get a line each.
  const heading = `invalid config${file ? ` (${file})` : ''}`;
  throw new ConfigError(
    lines.length === 1 ? `${heading}: ${lines[0]}` : `${heading}:\n  ${lines.join('\n  ')}`,
  );
}

/** Which platforms have credentials. */
export function configuredPlatforms(config: Config): {
  discord: boolean;
  slack: boolean;
  playground: boolean;
} {
  const discord = config.platforms.discord.token !== '';
  const slack = config.platforms.slack.botToken !== '';
  const pg = config.platforms.playground.enabled;
  return { discord, slack, playground: pg === 'auto' ? !discord && !slack : pg };
}
