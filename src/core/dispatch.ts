import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import type { Config } from '../config.js';
import type { AdapterHooks, MessageDeleted } from '../contracts/adapter.js';
import type { BackendProvider } from '../contracts/backend.js';
import type { AnyCommand, CommandContext, ParseContext, StatusSnapshot } from '../contracts/command.js';
import type { FetchPolicy, MediaLimits } from '../contracts/media.js';
import type { BotRequest, LoadedImage, Reply, Responder } from '../contracts/request.js';
import { isBackendError, isUserError, listChoices, shuttingDown, UserError } from '../errors.js';
import type { Executor } from './executor.js';
import { type ImageIndex, imageChannel } from './image-index.js';
import { rememberPosted } from './image-memory.js';
import type { Logger } from './log.js';
import { resolveImage } from './media.js';
import { MemoryMapStore, type MemoryStore, type Turn } from './memory.js';
import { displayName, validateArgs } from './options.js';
import { redactSecrets } from './redact.js';
import { MemorySettingsStore, type SettingsStore } from './settings.js';
import { uploadSafetyNote, withNote } from './upload-safety.js';

/** A PNG iris made, as a LoadedImage (for image memory). */
async function describePng(name: string, png: Buffer): Promise<LoadedImage> {
  const m = await sharp(png).metadata();
  return { name, bytes: png, format: 'png', width: m.width ?? 0, height: m.height ?? 0 };
}

/** How long drain() waits for replies to reach the platform once no job is running. */
const REPLY_DELIVERY_MS = 10_000;

/** What commands see when the memory store fails (read-only or locked file, lost Redis): a UserError. */
export const MEMORY_UNAVAILABLE = 'Conversation memory is unavailable right now';

/**
 * Memory failures are logged for the admin and handed to the command as UserError('not_available'), so
 * /ask can still answer (without remembering) and /forget can say that nothing was forgotten.
 */
function guardedMemory(store: MemoryStore, log: Logger): MemoryStore {
  const guard =
    <A extends unknown[], R>(op: string, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (err) {
        if (isUserError(err)) throw err;
        log.error({ err, op }, 'memory store failed');
        throw new UserError('not_available', `${MEMORY_UNAVAILABLE}.`, { cause: err });
      }
    };
  return {
    recent: guard('recent', (key: string, n: number) => store.recent(key, n)),
    append: guard('append', (key: string, turn: Turn) => store.append(key, turn)),
    clear: guard('clear', (key: string) => store.clear(key)),
    close: () => store.close(),
  };
}

/** Short id shown to users as "ref …" and logged with every line of the request. */
export function newRequestId(): string {
  return randomBytes(5).toString('hex');
}

export interface DispatcherDeps {
  commands: readonly AnyCommand[];
  /** Runs queued commands: the in-process Scheduler, or the Redis job queue when scaled out. */
  executor: Executor;
  registry: BackendProvider;
  config: Config;
  log: Logger;
  media: { limits: MediaLimits; policy: FetchPolicy };
  /** Conversation memory; default: an in-process store with config.memory's limits. */
  memory?: MemoryStore;
  /** Preferences for commands like /alttext; default: an in-process store. */
  settings?: SettingsStore;
  /** Image memory for /similar; absent: commands that need it say it is not available. */
  imageIndex?: ImageIndex;
  /** For /status uptime; injectable for tests. */
  startedAt?: number;
}

/** A failure as the user sees it: short, specific, never a stack or a secret. */
export function renderError(err: unknown, requestId: string, audience: 'chat' | 'operator' = 'chat'): Reply {
  if (isUserError(err)) {
    // A message built from an SDK's or a server's text may echo a key or a signed URL: redacted by shape.
    return {
      text: redactSecrets((audience === 'operator' && err.detail) || err.message),
      ephemeral: true,
      error: { code: err.code, internal: false, ref: requestId },
    };
  }
  const text =
    isBackendError(err) && err.isRetryable
      ? `The model backend is unavailable right now — try again in a moment. (ref ${requestId})`
      : `Something went wrong (ref ${requestId}).`;
  return {
    text,
    ephemeral: true,
    error: { code: isBackendError(err) ? err.code : 'internal', internal: true, ref: requestId },
  };
}

/**
 * The single funnel every platform goes through:
 * resolve command → validate options → parse (fetch images) → schedule on the command's queue → run → reply.
 * Any throw becomes a rendered error for this request only; the process and the queue go on.
 */
export class Dispatcher {
  readonly #deps: DispatcherDeps;
  readonly #byName: Map<string, AnyCommand>;
  readonly #startedAt: number;
  readonly #memory: MemoryStore;
  readonly #settings: SettingsStore;
  /** Requests between arrival and reply delivery, so drain() can wait for their replies to go out. */
  readonly #inFlight = new Set<Promise<void>>();
  #draining?: Promise<void>;

  constructor(deps: DispatcherDeps) {
    this.#deps = deps;
    this.#memory = guardedMemory(deps.memory ?? new MemoryMapStore(deps.config.memory), deps.log);
    this.#settings = deps.settings ?? new MemorySettingsStore();
    this.#byName = new Map(deps.commands.map((c) => [c.name, c]));
    this.#startedAt = deps.startedAt ?? Date.now();
  }

  get commands(): readonly AnyCommand[] {
    return this.#deps.commands;
  }

  command(name: string): AnyCommand {
    const command = this.#byName.get(name.replace(/^\//, ''));
    if (!command) {
      const names = this.#deps.commands.map((c) => `/${c.name}`);
      throw new UserError(
        'unknown_command',
        `Unknown command /${name.replace(/^\//, '')}. Commands: ${listChoices(names)}.`,
      );
    }
    return command;
  }

  async status(): Promise<StatusSnapshot> {
    const { queues, workers } = await this.#deps.executor.stats();
    return {
      queues,
      ...(workers !== undefined && { workers }),
      models: this.#deps.registry.status(),
      uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000),
    };
  }

  /** Handles one request end to end; never throws (adapters may call it without a catch). */
  handle = (req: BotRequest, res: Responder): Promise<void> => {
    const done = this.#handle(req, res).finally(() => this.#inFlight.delete(done));
    this.#inFlight.add(done);
    return done;
  };

  /** What adapters report besides requests (see AdapterHooks); each hook logs and never throws. */
  readonly hooks: AdapterHooks = {
    messageDeleted: (e) => this.#messageDeleted(e),
  };

  /** A deleted message's images leave image memory (no-op without an index or a link). */
  async #messageDeleted(e: MessageDeleted): Promise<void> {
    const { imageIndex, log } = this.#deps;
    // '' is what requests without a link stored (CLI, slash commands): it must never match a deletion.
    if (!imageIndex || !e.link) return;
    try {
      const removed = await imageIndex.removeLink(imageChannel(e.conversation), e.link);
      if (removed > 0)
        log.info({ conversation: e.conversation, removed }, 'deleted message left image memory');
    } catch (err) {
      log.warn({ err, conversation: e.conversation }, 'could not remove a deleted message from image memory');
    }
  }

  /** Requests being handled now (for shutdown and tests). */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * Graceful stop, while the adapters are still connected: new requests are refused, waiting jobs are
   * answered at once, running jobs get `graceMs` to finish, and every reply (result or "restarting") is
   * delivered before this resolves. Then the caller stops the adapters and closes the stores.
   */
  drain(options: { graceMs: number }): Promise<void> {
    this.#draining ??= (async () => {
      const { executor, log } = this.#deps;
      if (this.#inFlight.size > 0) {
        // The in-process figures are at hand; a remote queue's are not worth a round trip here.
        const stats = executor.stats();
        const queues = stats instanceof Promise ? void stats.catch(() => {}) : stats.queues;
        log.info({ inFlight: this.#inFlight.size, ...(queues && { queues }) }, 'draining');
      }
      // Waiting jobs are answered now, running ones once they finish or the grace period ends.
      await executor.drain({ graceMs: options.graceMs });
      // Replies are being sent now: wait for them, but a platform that hangs must not hold the exit.
      let timer: NodeJS.Timeout | undefined;
      const sent = Promise.allSettled([...this.#inFlight]);
      const gaveUp = new Promise<'gave up'>((resolve) => {
        timer = setTimeout(() => resolve('gave up'), REPLY_DELIVERY_MS);
      });
      if ((await Promise.race([sent, gaveUp])) === 'gave up')
        log.warn({ inFlight: this.#inFlight.size }, 'replies still undelivered at shutdown');
      clearTimeout(timer);
    })();
    return this.#draining;
  }

  async #handle(given: BotRequest, res: Responder): Promise<void> {
    // File names are echoed in replies and errors: no control or bidi characters, one short line.
    const req = given.images.some((i) => displayName(i.name) !== i.name)
      ? { ...given, images: given.images.map((i) => ({ ...i, name: displayName(i.name) })) }
      : given;
    const log = this.#deps.log.child({ req: req.id, platform: req.platform, command: req.command });
    let reply: Reply;
    try {
      if (this.#draining) throw shuttingDown('new');
      reply = await this.#run(req, res);
    } catch (err) {
      if (!isUserError(err)) log.error({ err }, 'request failed');
      // The user sees a short note; why the model failed to load, or where iris looked for a missing one,
      // is for the admin's log (a missing model at info, like other refusals: the CLI prints it itself).
      else if (err.code === 'model_load_failed') log.error({ err, cause: err.cause }, 'model failed to load');
      else if (err.code === 'model_missing')
        log.info({ code: err.code, detail: err.detail }, 'model missing');
      else log.info({ code: err.code }, 'request refused');
      // The CLI is the operator at their own terminal: it gets the full detail (folder, models there).
      reply = renderError(err, req.id, req.platform === 'cli' ? 'operator' : 'chat');
    }
    try {
      await res.send(reply);
    } catch (err) {
      log.error({ err }, 'could not deliver the reply');
    }
  }

  /**
   * Image memory: in a conversation that opted in, the images a request carried and the images its reply
   * made are embedded and stored (in the same queue slot), and re-posts get a notice. A failure here is
   * logged and the reply goes out as it was.
   */
  async #remember(o: {
    req: BotRequest;
    images: LoadedImage[];
    reply: Reply;
    signal: AbortSignal;
  }): Promise<Reply> {
    const { imageIndex, config, registry, log } = this.#deps;
    const { req, reply } = o;
    const channel = imageChannel(req.conversation);
    if (!imageIndex || reply.error || !config.imageIndex.channels.includes(channel)) return reply;
    try {
      const dup = config.imageIndex.duplicates;
      const embed = async (images: LoadedImage[], signal: AbortSignal) =>
        (await (await registry.get('embed')).run({ images }, { signal })).vectors;
      const common = {
        index: imageIndex,
        embed,
        key: channel,
        link: req.messageLink ?? '',
        signal: o.signal,
      };
      const notice = await rememberPosted({
        ...common,
        images: o.images,
        author: req.user.id,
        authors: req.images.map((ref) => ref.postedBy),
        ...(dup.channels.includes(channel) && { duplicates: dup }),
      });
      const made = await Promise.all((reply.images ?? []).map((i) => describePng(i.name, i.png)));
      await rememberPosted({ ...common, images: made, author: 'iris' });
      return notice ? { ...reply, text: reply.text ? `${reply.text}\n${notice}` : notice } : reply;
    } catch (err) {
      log.warn({ err, req: req.id }, 'could not store the images in image memory');
      return reply;
    }
  }

  async #run(req: BotRequest, res: Responder): Promise<Reply> {
    const { config, executor, registry, media, log } = this.#deps;
    const command = this.command(req.command);
    // A button press arrives as { button: id }; a command that encodes its options in ids decodes them.
    const pressed = req.args.button;
    const given = typeof pressed === 'string' && command.fromButton ? command.fromButton(pressed) : req.args;
    const args = validateArgs(command, given, req.images.length);
    await res.defer({ ephemeral: command.ephemeral });

    let images: Promise<LoadedImage[]> | undefined;
    const parseCtx: ParseContext = {
      request: req,
      args,
      config,
      memory: this.#memory,
      settings: this.#settings,
      loadImages: () => {
        images ??= Promise.all(
          req.images.map((ref) => resolveImage(ref, media.limits, media.policy, req.signal)),
        );
        return images;
      },
      fetchImage: (ref) => resolveImage(ref, media.limits, media.policy, req.signal),
    };
    const input = await command.parse(parseCtx);
    const uploadNote = images
      ? await uploadSafetyNote(await images, {
          registry,
          config,
          signal: req.signal,
          log: this.#deps.log.child({ req: req.id }),
        })
      : undefined;

    const run = async (signal: AbortSignal) => {
      const ctx: CommandContext = {
        request: req,
        config,
        signal,
        deadline: Date.now() + config.scheduler.jobTimeoutSeconds * 1000,
        backend: (task, select) => registry.get(task, select),
        progress: (p) => res.progress(p),
        memory: this.#memory,
        settings: this.#settings,
        ...(this.#deps.imageIndex && { imageIndex: this.#deps.imageIndex }),
        commands: this.#deps.commands,
        log: this.#deps.log.child({ req: req.id }),
        status: () => this.status(),
      };
      const reply = await command.run(input, ctx);
      return images && !command.indexesImages
        ? this.#remember({ req, images: await images, reply, signal })
        : reply;
    };
    const queue = command.queueFor?.(config, registry.queueOf) ?? command.queue;
    if (!queue) return withNote(await run(req.signal), uploadNote);
    const reply = await executor.submit({
      command,
      queue,
      input,
      request: req,
      run,
      progress: (p) => {
        res.progress(p).catch((err) => log.warn({ err, req: req.id }, 'progress failed'));
      },
    });
    return withNote(reply, uploadNote);
  }
}
