import { mediaSettings } from '../../src/app.js';
import { COMMANDS } from '../../src/commands/index.js';
import { type Config, loadConfig } from '../../src/config.js';
import type { BackendProvider } from '../../src/contracts/backend.js';
import type { AnyCommand } from '../../src/contracts/command.js';
import type { BotRequest, Reply } from '../../src/contracts/request.js';
import { Dispatcher, type DispatcherDeps } from '../../src/core/dispatch.js';
import { Scheduler } from '../../src/core/scheduler.js';
import { capturingLogger } from './log.js';
import { RecordingResponder } from './responder.js';

export interface TestDispatcherOptions {
  /** The models the commands get (usually fakeBackends, or a colour-world registry). */
  registry: BackendProvider;
  /** The config to use as is; otherwise the defaults with `overrides` and `env`. */
  config?: Config;
  /** Config overrides (dotted keys), on top of the defaults. */
  overrides?: Record<string, unknown>;
  /** Environment the config reads (tokens, URLs); none by default. */
  env?: Record<string, string>;
  /** Redacted from the captured log lines. */
  secrets?: string[];
  /** Log level of the captured lines (default info). */
  level?: string;
  commands?: readonly AnyCommand[];
  /** Stores and the rest, as the Dispatcher takes them. */
  deps?: Partial<Omit<DispatcherDeps, 'registry' | 'commands' | 'config' | 'log' | 'executor'>>;
}

/** The real dispatch funnel (commands, scheduler, media) on the given models, with its log lines captured. */
export function testDispatcher(o: TestDispatcherOptions) {
  const config = o.config ?? loadConfig({ env: o.env ?? {}, overrides: o.overrides ?? {} });
  const { log, lines } = capturingLogger({ secrets: o.secrets, level: o.level });
  const scheduler = new Scheduler(config.scheduler);
  const dispatcher = new Dispatcher({
    commands: o.commands ?? COMMANDS,
    executor: scheduler,
    registry: o.registry,
    config,
    log,
    media: mediaSettings(config),
    ...o.deps,
  });
  return { dispatcher, scheduler, config, log, lines };
}

let nextRequest = 0;

/** A request as a platform would send it (test:chan, alice), with the given fields on top. */
export function testRequest(command: string, fields: Partial<BotRequest> = {}): BotRequest {
  return {
    id: `req${++nextRequest}`,
    platform: 'test',
    command,
    args: {},
    images: [],
    conversation: 'test:chan',
    user: { id: 'alice' },
    signal: new AbortController().signal,
    ...fields,
  };
}

/** Sends one request through the dispatcher and returns its one final reply. */
export async function replyTo(
  dispatcher: Dispatcher,
  command: string,
  fields: Partial<BotRequest> = {},
): Promise<Reply> {
  const res = new RecordingResponder();
  await dispatcher.handle(testRequest(command, fields), res);
  return res.reply;
}
