import type { Config } from '../config.js';
import type { ImageIndex } from '../core/image-index.js';
import type { Logger } from '../core/log.js';
import type { MemoryStore } from '../core/memory.js';
import type { SettingsStore } from '../core/settings.js';
import type { Backend, QueueOf, TaskName } from './backend.js';
import type { BotRequest, ImageRef, LoadedImage, Progress, Reply } from './request.js';

export type OptionType = 'string' | 'integer' | 'number' | 'boolean' | 'image';

/** One option of a command. The same spec feeds Discord registration, Slack parsing, the playground and the CLI. */
export interface OptionSpec {
  name: string;
  type: OptionType;
  description: string;
  required?: boolean;
  choices?: readonly string[];
  min?: number;
  max?: number;
  maxLength?: number;
  /** Set only by buttons (e.g. /imagine's `variation_of`): adapters do not offer it in forms or slash commands. */
  hidden?: boolean;
  /**
   * An optional image option that means "the image we are talking about" when left out (/ask): where a
   * command cannot carry files (Slack slash commands) the adapter fills it with the channel's latest image.
   * Without it an optional image stays absent (/imagine's `image` makes a variation only when given).
   */
  recent?: boolean;
}

export type Priority = 'interactive' | 'normal' | 'batch';

/** What parse() may use: option values are already validated against the spec. */
export interface ParseContext {
  request: BotRequest;
  /** Option values, typed and checked against `options` (image options are not in here). */
  args: Record<string, string | number | boolean | undefined>;
  config: Config;
  /** Fetches and validates the request's images (size caps, formats, allowed hosts). */
  loadImages(): Promise<LoadedImage[]>;
  /** Conversation memory; read it here (e.g. the image a follow-up refers to) before a slot is taken. */
  memory: MemoryStore;
  /** Per-user / per-channel preferences and short-lived lookups; absent where the caller keeps none. */
  settings?: SettingsStore;
  /** Fetches and validates one more image (e.g. the one an earlier turn was about), same rules as loadImages. */
  fetchImage?(ref: ImageRef): Promise<LoadedImage>;
}

export interface CommandContext {
  request: BotRequest;
  config: Config;
  /** Aborts on user cancel or job timeout; check it between steps. */
  signal: AbortSignal;
  /** Epoch ms when the job times out (absent: unqueued); batching backends never wait past it. */
  deadline?: number;
  /** The task's backend; `select.model` picks another model id than the configured one (e.g. /imagine's model). */
  backend<T extends TaskName>(task: T, select?: { model?: string }): Promise<Backend<T>>;
  progress(p: Progress): Promise<void>;
  /** Conversation memory, keyed by request.conversation. */
  memory: MemoryStore;
  /** Per-user / per-channel preferences (e.g. /alttext); absent where the caller keeps none. */
  settings?: SettingsStore;
  /** Image memory (/similar), keyed by request.conversation; absent where the caller keeps none. */
  imageIndex?: ImageIndex;
  /** Every registered command (for /help). */
  commands: readonly AnyCommand[];
  /** For what the operator should know and the user need not (a fallback taken, an image withheld). */
  log?: Logger;
  /** Snapshot of queues and models (for /status); a promise when the queues live in Redis. */
  status(): StatusSnapshot | Promise<StatusSnapshot>;
}

export interface StatusSnapshot {
  queues: Record<string, { running: number; queued: number; maxConcurrent: number }>;
  models: { task: string; backend: string; model: string; state: string }[];
  uptimeSeconds: number;
  /** Worker processes connected (scale-out only). */
  workers?: number;
}

/** `I`: what parse() hands to run(); `D`: the reply's machine-readable `data`. */
export interface Command<I, D = unknown> {
  name: string;
  description: string;
  options: readonly OptionSpec[];
  /** Queue the run occupies ('gpu' for local models, 'remote' for APIs); absent: runs at once, unqueued. */
  queue?: string;
  /**
   * When the queue depends on config (e.g. /ask on a local model or a remote API); wins over `queue`.
   * `queueOf` answers from the registry's task table.
   */
  queueFor?(config: Config, queueOf: QueueOf): string | undefined;
  priority?: Priority;
  /** Reply only to the requester. */
  ephemeral?: boolean;
  /** Stores the request's images in image memory itself (/similar); the dispatcher leaves them alone. */
  indexesImages?: boolean;
  /**
   * Decodes one of this command's button ids (`<command>:<action>:<payload>`) into its options. Adapters
   * send a press as `args: { button: id }`; dispatch calls this before validating. Without it the command
   * gets `button` as an ordinary (hidden) option. Throws UserError for an id it cannot read.
   */
  fromButton?(id: string): Record<string, unknown>;
  /** Builds the run's input before a queue slot is taken (downloads happen here, not on the GPU's time). */
  parse(ctx: ParseContext): Promise<I>;
  run(input: I, ctx: CommandContext): Promise<Reply<D>>;
}

// biome-ignore lint/suspicious/noExplicitAny: a list of commands with different inputs.
export type AnyCommand = Command<any, any>;

/** Identity helper so each command file gets its input type inferred. */
export function defineCommand<I, D = unknown>(command: Command<I, D>): Command<I, D> {
  return command;
}
