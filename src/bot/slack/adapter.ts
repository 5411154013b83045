import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, LogLevel, SocketModeReceiver } from '@slack/bolt';
import type { Logger as SlackLogger } from '@slack/logger';
import type { WebClientOptions } from '@slack/web-api';
import type { AdapterHooks, PlatformAdapter } from '../../contracts/adapter.js';
import type { AnyCommand } from '../../contracts/command.js';
import type { BotRequest, Responder } from '../../contracts/request.js';
import { newRequestId, renderError } from '../../core/dispatch.js';
import type { Logger } from '../../core/log.js';
import type { SettingsStore } from '../../core/settings.js';
import { SeenKeys } from './dedupe.js';
import { registerInbound } from './inbound.js';
import { registerInteractions } from './interactions.js';
import { SlackResponder, type SlackTarget } from './responder.js';
import { conversationKey, type SlackConfig, type SlackJob, type SlackRuntime } from './runtime.js';

export interface SlackAdapterOptions {
  slack: SlackConfig;
  commands: readonly AnyCommand[];
  log: Logger;
  settings?: SettingsStore;
  /** Least time between two progress edits of one message; default 1000 ms. */
  progressIntervalMs?: number;
  /** Web API retry policy (tests shorten it); 429s are retried after Retry-After either way. */
  retryConfig?: WebClientOptions['retryConfig'];
  /** How long stop() waits for running requests; default 5 s. */
  stopGraceMs?: number;
}

type Handle = (req: BotRequest, res: Responder) => Promise<void>;

const ADMIN_CACHE_MS = 10 * 60 * 1000;

/** Bolt's logger interface over pino (Bolt logs with several arguments). */
function boltLogger(log: Logger): SlackLogger {
  const line = (args: unknown[]) =>
    args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
  return {
    debug: (...args: unknown[]) => log.debug(line(args)),
    info: (...args: unknown[]) => log.debug(line(args)),
    warn: (...args: unknown[]) => log.warn(line(args)),
    error: (...args: unknown[]) => log.error(line(args)),
    setLevel: () => {},
    getLevel: () => LogLevel.INFO,
    setName: () => {},
  };
}

/**
 * Slack through Bolt: HTTP (signed requests on SLACK_PORT, path /slack/events; Bolt checks signatures
 * and the 5-minute timestamp window and answers 401) or Socket Mode when an app token is set. Listeners
 * only ack and translate; every request runs in the background through the dispatch funnel.
 */
export class SlackAdapter implements PlatformAdapter {
  readonly name = 'slack';
  readonly #o: SlackAdapterOptions;
  readonly #log: Logger;
  readonly #events = new SeenKeys();
  readonly #files = { seen: new SeenKeys() };
  readonly #running = new Set<Promise<void>>();
  readonly #aborts = new Set<AbortController>();
  readonly #admins = new Map<string, { admin: boolean; at: number }>();
  #app?: App;
  #server?: Server;
  #socket?: SocketModeReceiver;
  /** auth.test's workspace URL, the base of message links. */
  #workspaceUrl = '';

  constructor(options: SlackAdapterOptions) {
    this.#o = options;
    this.#log = options.log.child({ platform: 'slack' });
  }

  get socketMode(): boolean {
    return this.#o.slack.appToken !== '';
  }

  /** The HTTP receiver's port once started (0 before, and in Socket Mode). */
  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? 0;
  }

  describe(): string {
    return this.socketMode
      ? 'Socket Mode (app token), connected'
      : `HTTP receiver on port ${this.port}, path /slack/events`;
  }

  async start(handle: Handle, hooks?: AdapterHooks): Promise<void> {
    const { slack } = this.#o;
    const logger = boltLogger(this.#log);
    const clientOptions: WebClientOptions = { slackApiUrl: slack.apiUrl, retryConfig: this.#o.retryConfig };
    // Built here, not by App: App would not pass clientOptions (SLACK_API_URL) to apps.connections.open.
    const receiver = this.socketMode
      ? new SocketModeReceiver({ appToken: slack.appToken, logger, installerOptions: { clientOptions } })
      : undefined;
    this.#socket = receiver;
    const app = new App({
      token: slack.botToken,
      ...(receiver ? { socketMode: true, receiver } : { signingSecret: slack.signingSecret }),
      clientOptions,
      logger,
      deferInitialization: true,
      convoStore: false,
    });
    // Events Slack retried (no ack seen within 3 s) carry the same event_id: run each once.
    app.use(async ({ body, next }) => {
      const eventId = (body as { event_id?: unknown }).event_id;
      if (typeof eventId === 'string' && !this.#events.firstTime(eventId)) {
        this.#log.debug({ eventId }, 'slack: duplicate event ignored');
        return;
      }
      await next();
    });
    app.error(async (err) => {
      this.#log.error({ err }, 'slack: listener failed');
    });
    await app.init(); // auth.test: a bad token stops start-up here with Slack's error
    const auth = await app.client.auth.test();
    this.#workspaceUrl = String(auth.url ?? '');
    const rt: SlackRuntime = {
      client: app.client,
      botToken: slack.botToken,
      botUserId: String(auth.user_id ?? ''),
      workspaceUrl: this.#workspaceUrl,
      ...(hooks && { hooks }),
      commands: this.#o.commands,
      slack,
      log: this.#log,
      settings: this.#o.settings,
      run: (target, build, options) => this.#run(handle, { target, build, quiet: options?.quietErrors }),
      isAdmin: (userId) => this.#isAdmin(app, userId),
    };
    registerInteractions(app, rt);
    registerInbound(app, rt, this.#files);
    const started = this.socketMode ? await app.start() : await app.start(slack.port);
    if (!this.socketMode) this.#server = started as Server;
    this.#app = app;
  }

  async stop(): Promise<void> {
    const app = this.#app;
    this.#app = undefined;
    if (!app) return;
    this.#server?.closeAllConnections();
    // Bolt's stop does not wait for the websocket's close handshake; a socket torn down mid-handshake
    // leaves the client's 30 s close timer holding the process open. Wait for it here.
    const closing = this.#socket?.client.disconnect();
    if (closing) await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    await app.stop().catch((err: unknown) => this.#log.warn({ err }, 'slack: stop failed'));
    const grace = new Promise<void>((resolve) => setTimeout(resolve, this.#o.stopGraceMs ?? 5000).unref());
    await Promise.race([Promise.allSettled(this.#running), grace]);
    for (const controller of this.#aborts) controller.abort(new Error('iris is stopping'));
  }

  async #isAdmin(app: App, userId: string): Promise<boolean> {
    const cached = this.#admins.get(userId);
    if (cached && Date.now() - cached.at < ADMIN_CACHE_MS) return cached.admin;
    const info = await app.client.users.info({ user: userId });
    const admin = Boolean(info.user?.is_admin || info.user?.is_owner);
    this.#admins.set(userId, { admin, at: Date.now() });
    return admin;
  }

  #run(
    handle: Handle,
    job: { target: SlackTarget; build: () => Promise<SlackJob>; quiet?: boolean },
  ): Promise<void> {
    const app = this.#app;
    if (!app) return Promise.resolve();
    const controller = new AbortController();
    const id = newRequestId();
    const log = this.#log.child({ req: id });
    const work = (async () => {
      const { target } = job;
      let built: SlackJob | undefined;
      let res: SlackResponder | undefined;
      try {
        built = await job.build();
        const isAdmin = await this.#isAdmin(app, target.user).catch(() => false);
        res = new SlackResponder({
          client: app.client,
          target,
          log,
          progressIntervalMs: this.#o.progressIntervalMs ?? 1000,
          header: built.header,
          note: built.note,
        });
        const req: BotRequest = {
          id,
          platform: 'slack',
          command: built.command,
          args: built.args ?? {},
          images: built.images ?? [],
          conversation: conversationKey(target),
          ...(built.messageLink && { messageLink: built.messageLink }),
          user: { id: target.user, isAdmin },
          signal: controller.signal,
        };
        const quietRes: Responder = {
          defer: (o) => res?.defer(o) ?? Promise.resolve(),
          progress: (p) => res?.progress(p) ?? Promise.resolve(),
          send: async (reply) => {
            if (reply.error)
              log.info({ code: reply.error.code }, 'slack: unasked request failed, not posted');
            else await res?.send(reply);
          },
        };
        await handle(req, job.quiet ? quietRes : res);
      } catch (err) {
        // Failures before dispatch (finding the image, an unknown /iris subcommand): same rendering as dispatch's.
        log.info({ err }, 'slack: request refused before dispatch');
        if (job.quiet) return;
        const reply = renderError(err, id);
        await new SlackResponder({ client: app.client, target, log, progressIntervalMs: 0 })
          .send(reply)
          .catch((e: unknown) => log.error({ err: e }, 'slack: could not deliver the error'));
      }
    })();
    this.#aborts.add(controller);
    this.#running.add(work);
    return work.finally(() => {
      this.#running.delete(work);
      this.#aborts.delete(controller);
    });
  }
}
