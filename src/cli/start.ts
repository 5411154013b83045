import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, createModelRegistry, secretValues } from '../app.js';
import { ConsoleAdapter } from '../bot/console/adapter.js';
import { ADAPTERS } from '../bot/index.js';
import { type Config, configuredPlatforms, loadConfig } from '../config.js';
import type { PageBanner, PlatformAdapter } from '../contracts/adapter.js';
import { createLogger, logFormat } from '../core/log.js';
import { UserError } from '../errors.js';
import type { TaskTable } from '../models/table.js';
import {
  checkModels,
  demoBanner,
  type ModelCheck,
  missingBanner,
  missingImagineModels,
  missingModelsMessage,
  noModelsAtAll,
} from './start-models.js';

export interface StartFlags {
  config?: string;
  models?: string;
  /** true: --demo; false: --no-demo; undefined: the demo models when no token is set and no model is here. */
  demo?: boolean;
}

interface StartIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Which model folders are on disk (the registry loads nothing until asked). */
function probeModels(config: Config): Promise<ModelCheck[]> {
  return checkModels(config, createModelRegistry(config));
}

/**
 * `iris start`. No platform token and no model on disk (a fresh clone): the colour-world demo models, in a
 * temp folder removed on exit, and the console and the page say so. A platform token with a task's model
 * missing: exit 2 before connecting, naming the models and `iris models pull`.
 */
export async function startCli(flags: StartFlags, io: StartIo): Promise<void> {
  const configured = loadConfig({ file: flags.config, overrides: { 'models.dir': flags.models } });
  const platforms = configuredPlatforms(configured);
  const tokens = platforms.discord || platforms.slack;
  const checks = await probeModels(configured);
  const demo = flags.demo ?? (!tokens && noModelsAtAll(checks));
  const missing = checks.filter((c) => c.missing);
  if (!demo && tokens && missing.length > 0) {
    throw new UserError('model_missing', missingModelsMessage(configured, missing));
  }
  if (!demo) return serve(configured, { io, checks });

  const { COLOURS, demoTaskTable, synthAll } = await import('../demo/colourworld/index.js');
  const demoDir = await mkdtemp(join(tmpdir(), 'iris-colour-world-'));
  try {
    await synthAll(demoDir);
    const colours = Object.keys(COLOURS);
    // Default /tags labels are colours: the photo/drawing/… set gives the demo nothing to rank.
    // The demo's table adds its colour classifier (tasks.safety.backend: colour) to the real ones.
    const table = demoTaskTable();
    const config = loadConfig({
      file: flags.config,
      overrides: { 'models.dir': demoDir, 'tasks.tag.labels': colours },
      table,
    });
    await serve(config, {
      io,
      checks: await probeModels(config),
      demo: {
        dir: demoDir,
        auto: flags.demo === undefined,
        colours,
        modelsDir: configured.models.dir,
        table,
      },
    });
  } finally {
    await rm(demoDir, { recursive: true, force: true });
  }
}

interface ServeOptions {
  io: StartIo;
  checks: ModelCheck[];
  /** The temp folder of the demo models, whether start chose them by itself, and where real ones were looked for. */
  demo?: { dir: string; auto: boolean; colours: string[]; modelsDir: string; table: TaskTable };
}

/** One clear block saying what runs, what is ready and how to fix what is not; then run until a signal. */
async function serve(config: Config, { io, checks, demo }: ServeOptions): Promise<void> {
  const log = createLogger({
    level: config.log.level,
    secrets: secretValues(config),
    pretty: logFormat(process.stderr) === 'pretty',
  });
  const app = createApp(config, { log, ...(demo && { table: demo.table }) });
  const wanted = ADAPTERS.filter((a) => a.enabled(config));
  const lines = ['iris', '  platforms:'];
  for (const a of ADAPTERS) {
    lines.push(`    ${a.name.padEnd(11)} ${wanted.includes(a) ? 'starting' : `off (${a.howToEnable})`}`);
  }
  const useConsole = wanted.length === 0;
  if (useConsole) lines.push('    console     on: type commands below (no platform is configured)');
  if (!configuredPlatforms(config).discord && !configuredPlatforms(config).slack) {
    lines.push(
      '  no platform token is set: iris runs locally. Discord: set DISCORD_TOKEN; Slack: SLACK_BOT_TOKEN.',
    );
  }
  lines.push(`  models (${demo ? `${demo.dir}, colour-world demo` : config.models.dir}):`);
  for (const c of checks) {
    lines.push(
      `    ${c.task.padEnd(11)} ${c.backend} ${c.model}: ${c.missing ? `missing: ${c.missing}` : 'ready'}`,
    );
  }
  const missing = checks.filter((c) => c.missing);
  let banner: PageBanner | undefined;
  if (demo) {
    banner = demoBanner(demo.colours);
    lines.push(
      `  DEMO MODELS: ${demo.auto ? `no platform token and no model in ${demo.modelsDir}, so ` : ''}iris runs its tiny colour-world models.`,
      `  They only see colours (${demo.colours.join(', ')}); other questions get colour answers.`,
      '  Real models: `npx iris models pull`, then `npm start` again. (The demo folder is removed on exit.)',
    );
  } else if (missing.length > 0) {
    banner = missingBanner(missing);
    lines.push(
      '  fix missing models: `npx iris models pull` downloads them from the Hugging Face hub, or put each',
      '  model folder under the models dir (--models DIR or IRIS_MODELS_DIR); `npm start -- --demo` runs',
      '  the tiny colour-world demo models instead.',
    );
  }
  const extras = missingImagineModels(config, app.registry);
  if (extras.length > 0) {
    lines.push(`  /imagine models not installed (only asked for by name): ${extras.join(', ')}`);
  }
  if (useConsole) lines.push('  try: /help   /tags labels:red,green,blue ./some-image.png   /status');
  io.err(lines.join('\n'));

  // Scale-out: adapters submit to Redis; queue.localWorkers also runs workers for those classes here.
  let stopLocalWorkers: (() => Promise<void>) | undefined;
  if (config.queue.kind === 'redis' && config.queue.localWorkers.length > 0) {
    const { startWorker } = await import('./worker.js');
    const tasks = config.queue.localWorkers;
    stopLocalWorkers = await startWorker({
      config,
      tasks,
      slots: config.queue.slots,
      registry: app.registry,
      log: app.log,
    });
    io.err(`  workers:    ${tasks.join(', ')} in this process (queue.localWorkers)`);
  }

  const adapters: PlatformAdapter[] = [];
  const stopAll = async () => {
    // Drain while the adapters are still connected, so every user with a request in hand hears back.
    await app.drain();
    for (const adapter of adapters.reverse()) await adapter.stop();
    await stopLocalWorkers?.();
    await app.stop();
  };
  try {
    for (const entry of wanted) {
      const adapter = await entry.create(app, { banner });
      await adapter.start(app.dispatcher.handle, app.dispatcher.hooks);
      adapters.push(adapter);
      io.err(`  ${entry.name}: ${adapter.describe?.() ?? 'running'}`);
    }
  } catch (e) {
    // A platform that cannot start (bad token, port in use) stops iris with its message, cleanly.
    await stopAll();
    throw e;
  }
  const consoleAdapter = useConsole ? new ConsoleAdapter({ input: process.stdin, print: io.out }) : undefined;
  if (consoleAdapter) {
    await consoleAdapter.start(app.dispatcher.handle);
    adapters.push(consoleAdapter);
  }
  io.err('  iris is ready; Ctrl+C stops it.');

  // Runs until a signal, or until the console's input ends when it is the only channel.
  const signalled = new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await (consoleAdapter ? Promise.race([consoleAdapter.closed, signalled]) : signalled);
  const grace = config.scheduler.shutdownGraceSeconds;
  io.err(
    `iris: stopping — new requests are refused, waiting ones told; running jobs get up to ${grace} s (signal again to stop at once)`,
  );
  // A second signal: the operator wants out now; the stores (SQLite, Redis) survive an abrupt exit.
  const now = () => {
    io.err('iris: stopping at once');
    if (demo) rmSync(demo.dir, { recursive: true, force: true });
    process.exit(1);
  };
  process.once('SIGINT', now);
  process.once('SIGTERM', now);
  await stopAll();
  process.off('SIGINT', now);
  process.off('SIGTERM', now);
  io.err('iris: stopped');
}
