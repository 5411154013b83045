import { type App, createApp, secretValues } from '../app.js';
import type { Config } from '../config.js';
import { createLogger, logFormat } from '../core/log.js';

/**
 * A task command's app, stopped when `fn` ends. Its stderr is for the one `error: …` line of a user error,
 * so log lines go only to $IRIS_LOG_DIR when that is set, and to stderr as well with --verbose.
 */
export async function withApp<T>(
  config: Config,
  global: { verbose?: boolean },
  fn: (app: App) => Promise<T>,
): Promise<T> {
  const log = createLogger({
    level: config.log.level,
    secrets: secretValues(config),
    destination: global.verbose ? 2 : false,
    pretty: logFormat(process.stderr) === 'pretty',
  });
  const app = createApp(config, { log });
  try {
    return await fn(app);
  } finally {
    await app.stop();
  }
}
