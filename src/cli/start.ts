import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsoleAdapter } from '../bot/console/adapter.js';
import { configuredPlatforms, loadConfig } from '../config.js';
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
  const platforms = configuredPlatforms(config);
  const lines = ['iris', '  platforms:'];
  lines.push(
    `    discord     ${platforms.discord ? 'token set — adapter not built yet (issue: Discord adapter)' : 'off (set DISCORD_TOKEN)'}`,
  );
  lines.push(
    `    slack       ${platforms.slack ? 'token set — adapter not built yet (issue: Slack adapter)' : 'off (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET)'}`,
  );
  lines.push(
    `    playground  ${platforms.playground ? 'not built yet — using the console: type commands below' : 'off'}`,
  );
  lines.push(`  models (${config.models.dir}${flags.demo ? ', colour-world demo' : ''}):`);
  for (const m of app.registry.status()) {
    const fix = m.state === 'missing' ? ' — run `iris start --demo` to try the colour-world models' : '';
    lines.push(
      `    ${m.task.padEnd(11)} ${m.backend} ${m.model}: ${m.state === 'missing' ? 'missing' : 'ready'}${fix}`,
    );
  }
  lines.push('  try: /help   /tags labels:red,green,blue ./some-image.png   /status');
  io.err(lines.join('\n'));

  const adapter = new ConsoleAdapter({ input: process.stdin, print: io.out });
  await adapter.start(app.dispatcher.handle);
  const stop = async () => {
    await adapter.stop();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await adapter.closed;
  await app.stop();
}
