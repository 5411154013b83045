import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/core/log.js';

/** An iris logger whose lines (JSON, one per entry) are kept for the test to read; secrets are redacted as in production. */
export function capturingLogger(options: { level?: string; secrets?: string[] } = {}): {
  log: Logger;
  lines: string[];
} {
  const lines: string[] = [];
  const log = createLogger({
    level: options.level ?? 'info',
    secrets: options.secrets ?? [],
    destination: new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
  return { log, lines };
}

/** An iris logger that writes nowhere the test reads. */
export function silentLogger(): Logger {
  return createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });
}
