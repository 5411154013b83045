import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleAdapter } from '../bot/console/adapter.js';
import { ADAPTERS } from '../bot/index.js';
import { configuredPlatforms, loadConfig } from '../config.js';
import type { PlatformAdapter } from '../core/types.js';
import { createApp } from '../main.js';

export interface StartFlags {
  config?: string;
  models?: string;
  demo?: boolean;
}

/** `iris start`: one clear block saying what runs, what is ready and how to fix what is not; then run. */
export async function startCli(
  flags: StartFlags,
  io: { out: (line: string) => void; err: (line: string) => void },
): Promise<void> {
  let modelsDir = flags.models;
  if (flags.demo) {
    const { synthAll } = await import('../models/colourworld/index.js');
    modelsDir = await mkdtemp(join(tmpdir(), 'iris-colour-world-'));
    await synthAll(modelsDir);
  }
  const config = loadConfig({ file: flags.config, overrides: { 'models.dir': modelsDir } });
  const app = createApp(config);
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
  lines.push(`  models (${config.models.dir}${flags.demo ? ', colour-world demo' : ''}):`);
  const status = app.registry.status();
  for (const m of status) {
    const state = m.state === 'missing' ? `missing: no folder ${join(config.models.dir, m.model)}` : 'ready';
    lines.push(`    ${m.task.padEnd(11)} ${m.backend} ${m.model}: ${state}`);
  }
  if (status.some((m) => m.state === 'missing')) {
    lines.push(
      '  fix missing models: `npx iris models pull` downloads them from the Hugging Face hub, or put each',
      '  model folder under the models dir (--models DIR or IRIS_MODELS_DIR); or try everything offline',
      '  first with `npm start -- --demo` (tiny colour-world models).',
    );
  }
  if (useConsole) lines.push('  try: /help   /tags labels:red,green,blue ./some-image.png   /status');
  io.err(lines.join('\n'));

  // Scale-out: adapters submit to Redis; queue.localWorkers also runs workers for those classes here.
  let stopLocalWorkers: (() => Promise<void>) | undefined;
  if (app.jobs && config.queue.localWorkers.length > 0) {
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
      const adapter = await entry.create(app);
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
    process.exit(1);
  };
  process.once('SIGINT', now);
  process.once('SIGTERM', now);
  await stopAll();
  process.off('SIGINT', now);
  process.off('SIGTERM', now);
  io.err('iris: stopped');
}
