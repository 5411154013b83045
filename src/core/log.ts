import { type Logger, pino } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level: string;
  /** Secret values (tokens, keys) to scrub from every log line, wherever they appear. */
  secrets?: string[];
  /** Where lines go: 2 = stderr (default, keeps stdout clean for --json), or a stream for tests. */
  destination?: number | NodeJS.WritableStream;
}

const REDACT_PATHS = [
  '*.token',
  '*.apiKey',
  '*.botToken',
  '*.signingSecret',
  '*.appToken',
  '*.headers',
  'headers',
];

function scrub(value: unknown, secrets: string[], depth = 0): unknown {
  if (typeof value === 'string') {
    let out = value;
    for (const s of secrets) out = out.split(s).join('[redacted]');
    return out;
  }
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

/** pino, on stderr, with secrets removed by key (redact) and by value (scrub) — a token pasted into an error message is caught too. */
export function createLogger(options: LoggerOptions): Logger {
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 6);
  const dest = options.destination ?? 2;
  const stream = typeof dest === 'number' ? pino.destination({ fd: dest, sync: true }) : dest;
  return pino(
    {
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
      // pino reads hooks.logMethod whenever `hooks` is present, so the key is left out when unused.
      ...(secrets.length === 0
        ? {}
        : {
            hooks: {
              logMethod(args, method) {
                method.apply(this, scrub(args, secrets) as typeof args);
              },
            },
          }),
    },
    stream,
  );
}
