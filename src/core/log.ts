import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type DestinationStream, type Level, type Logger, pino, type StreamEntry } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { redactSecrets } from './redact.js';

export type { Logger };

export interface LoggerOptions {
  level: string;
  /** Secret values (tokens, keys) to scrub from every log line, wherever they appear. */
  secrets?: string[];
  /**
   * Where lines go: 2 = stderr (default, keeps stdout clean for --json), a stream (tests), or false:
   * nowhere but the log-dir copy (CLI commands, whose stderr is for their one `error: …` line).
   */
  destination?: number | NodeJS.WritableStream | false;
  /** Readable lines (time, level, message, fields) instead of JSON on `destination`; the log-dir copy stays JSON. */
  pretty?: boolean;
  /**
   * A folder that also receives every line, in `iris-<pid>.log` (default: $IRIS_LOG_DIR). The test runner
   * (test/run.ts) sets it so the secret scan reads the logs of every logger and child process of a run.
   */
  logDir?: string;
}

/** Secrets by key: the value of any of these properties is never written. */
export const REDACT_PATHS = [
  '*.token',
  '*.apiKey',
  '*.botToken',
  '*.signingSecret',
  '*.appToken',
  '*.password',
  '*.authorization',
  '*.Authorization',
  '*.headers',
  'headers',
];

function scrub(value: unknown, secrets: string[], depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value, secrets);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return scrub(
      {
        type: value.name,
        message: value.message,
        stack: value.stack,
        code: (value as { code?: unknown }).code,
      },
      secrets,
      depth + 1,
    );
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrub(v, secrets, depth + 1);
  return out;
}

/** Readable lines for a person at a terminal; JSON for anything that reads logs (journald, a file, a pipe). */
export function logFormat(stream: { isTTY?: boolean }): 'pretty' | 'json' {
  return stream.isTTY === true ? 'pretty' : 'json';
}

/** Each JSON line pino writes, rewritten by pino-pretty before it reaches the file descriptor. */
function prettyStream(dest: DestinationStream): DestinationStream {
  const format = prettyFactory({
    colorize: false,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname',
    singleLine: true,
  });
  return { write: (line: string) => dest.write(format(line)) };
}

/**
 * The log-dir copy: at debug or the configured level, whichever is more verbose, so a scan also sees the
 * lines a quiet test hides. One append-only file per process; loggers of one process share it.
 */
function withLogDir(level: string, main: DestinationStream | undefined, dir: string) {
  mkdirSync(dir, { recursive: true });
  const file = pino.destination({ dest: join(dir, `iris-${process.pid}.log`), sync: true, append: true });
  const fileLevel: Level = level === 'trace' ? 'trace' : 'debug';
  const streams: StreamEntry[] = [{ level: fileLevel, stream: file }];
  if (main && level !== 'silent') streams.push({ level: level as Level, stream: main });
  return { level: fileLevel, stream: pino.multistream(streams) };
}

/**
 * pino, on stderr, with secrets removed by key (redact), by value (the configured secrets) and by shape
 * (tokens, bearer headers, credential query parameters — src/core/redact.ts), so a token pasted into an
 * error message is caught too.
 */
export function createLogger(options: LoggerOptions): Logger {
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 6);
  const dest = options.destination ?? 2;
  const raw = typeof dest === 'number' ? pino.destination({ fd: dest, sync: true }) : dest || undefined;
  const stream = raw && options.pretty ? prettyStream(raw as DestinationStream) : raw;
  const logDir = options.logDir ?? process.env.IRIS_LOG_DIR;
  const target = logDir
    ? withLogDir(options.level, stream as DestinationStream | undefined, logDir)
    : { level: stream ? options.level : 'silent', stream: stream ?? { write() {} } };
  return pino(
    {
      level: target.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
      hooks: {
        logMethod(args, method) {
          method.apply(this, scrub(args, secrets) as typeof args);
        },
      },
    },
    target.stream,
  );
}
