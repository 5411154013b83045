import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type ServerType, serve } from '@hono/node-server';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import { type Config, ConfigError } from '../../config.js';
import { isLoopbackHost } from '../../config-schema.js';
import type { PageBanner, PlatformAdapter } from '../../contracts/adapter.js';
import type { AnyCommand } from '../../contracts/command.js';
import type { BotRequest, ImageRef } from '../../contracts/request.js';
import type { Logger } from '../../core/log.js';
import { formatMB, verifyImage } from '../../core/media.js';
import type { SettingsStore } from '../../core/settings.js';
import { Channel, type ChatMessage } from './channel.js';
import { guard, ownHosts } from './guard.js';
import { type Handle, planMessage, type Upload, type Work } from './plan.js';
import { PlaygroundResponder } from './responder.js';
import { CONVERSATION, commandList, PLATFORM } from './translate.js';

export interface PlaygroundAdapterOptions {
  config: Config;
  log: Logger;
  commands: readonly AnyCommand[];
  settings: SettingsStore;
  /** Shown above the messages (demo models, missing models); sent in the event stream's `ready`. */
  banner?: PageBanner;
}

/** Images one message may carry (/compare takes four). */
export const MAX_UPLOADS = 4;

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
const STATIC_FILES: Record<string, string> = {
  '/': 'index.html',
  '/app.js': 'app.js',
  '/style.css': 'style.css',
};
const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

const STREAM_FLUSH_MS = 2000;
/** Messages and images the page's history keeps (images also within platforms.playground.keptImageBytes). */
const HISTORY = { messages: 200, images: 200 };
/** No other site may frame the page (clickjacking: a hidden playground under a decoy's clicks). */
const PAGE_HEADERS = {
  'x-frame-options': 'DENY',
  'content-security-policy': "frame-ancestors 'none'",
};

/**
 * A local web page that behaves like a chat channel: slash commands, uploads (automatic alt text),
 * questions as replies to images, live progress over SSE, buttons. Every request goes through the same
 * `handle` (the dispatch funnel) as Discord and Slack; this file only translates HTTP ⇄ BotRequest.
 */
export class PlaygroundAdapter implements PlatformAdapter {
  readonly name = 'playground';
  readonly #o: PlaygroundAdapterOptions;
  readonly #log: Logger;
  readonly #channel: Channel;
  readonly #stopping = new AbortController();
  /** Sent with the page; every write must carry it (guard.ts). */
  readonly #pageToken = randomBytes(24).toString('base64url');
  #hosts: ReadonlySet<string> = new Set();
  /** Uploads being read now (platforms.playground.concurrentUploads). */
  #uploading = 0;
  /** Open event streams; stop() lets each flush what is queued (the last replies of a shutdown) first. */
  readonly #streams = new Set<Promise<void>>();
  #server?: ServerType;
  #url = '';

  constructor(options: PlaygroundAdapterOptions) {
    this.#o = options;
    this.#log = options.log.child({ platform: 'playground' });
    this.#channel = new Channel({
      ...HISTORY,
      imageBytes: options.config.platforms.playground.keptImageBytes,
    });
  }

  /** The page's address, once started. */
  get url(): string {
    return this.#url;
  }

  describe(): string {
    const { host } = this.#o.config.platforms.playground;
    if (isLoopbackHost(host)) return `open ${this.#url} in a browser`;
    return `open ${this.#url} in a browser; listening on ${host}, reachable from other machines: whoever signs in with the access token acts as iris's admin`;
  }

  async start(handle: Handle): Promise<void> {
    const { host, port, publicNames } = this.#o.config.platforms.playground;
    const app = this.#routes(handle);
    const server = await new Promise<ServerType>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s));
      s.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE' || err.code === 'EACCES'
            ? new ConfigError(
                `The playground cannot listen on ${host}:${port} (${err.code === 'EADDRINUSE' ? 'in use' : 'not allowed'}): set IRIS_PORT to another port (0 picks a free one).`,
              )
            : err,
        ),
      );
    });
    this.#server = server;
    const address = server.address() as AddressInfo;
    this.#hosts = ownHosts({ host, port: address.port, publicNames });
    // Bound to every address: show the loopback one (0.0.0.0 is not a Host the page answers to).
    const shown =
      address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '::1' : address.address;
    this.#url = `http://${address.family === 'IPv6' ? `[${shown}]` : shown}:${address.port}/`;
    if (!isLoopbackHost(host)) {
      this.#log.warn(
        { host, port: address.port },
        'the playground is reachable from other machines; it asks for the access token',
      );
    }
  }

  async stop(): Promise<void> {
    this.#stopping.abort(new Error('iris is stopping'));
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    // Event streams write what is queued (a shutdown's last replies) and end; connections then close once
    // their responses are out. A browser that stopped reading must not hold the exit: that gets a fixed time.
    const http = server as Server; // serve() without http2 options makes a node:http server
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => http.closeAllConnections(), STREAM_FLUSH_MS);
      let idle: NodeJS.Timeout | undefined;
      http.close(() => {
        clearTimeout(force);
        clearInterval(idle);
        resolve();
      });
      // An ended event stream leaves a keep-alive connection: close those as soon as they are idle.
      void Promise.allSettled([...this.#streams]).then(() => {
        http.closeIdleConnections();
        idle = setInterval(() => http.closeIdleConnections(), 20);
      });
    });
  }

  #routes(handle: Handle): Hono {
    const app = new Hono();
    const { maxBytes } = this.#o.config.media;
    app.use(
      guard({
        hosts: () => this.#hosts,
        pageToken: this.#pageToken,
        accessToken: this.#o.config.platforms.playground.accessToken,
      }),
    );
    for (const [path, file] of Object.entries(STATIC_FILES)) {
      app.get(path, async (c) => {
        let body = await readFile(`${PUBLIC_DIR}${file}`, 'utf8');
        const type = CONTENT_TYPES[file.split('.').pop() as string] as string;
        if (file === 'index.html') {
          body = body.replace('</head>', `<meta name="iris-token" content="${this.#pageToken}">\n</head>`);
        }
        return c.body(body, 200, { 'content-type': type, 'cache-control': 'no-store', ...PAGE_HEADERS });
      });
    }
    app.get('/api/commands', (c) => c.json(commandList(this.#o.commands)));
    app.get('/api/messages', (c) => c.json(this.#channel.history()));
    app.get('/api/images/:id', (c) => {
      const image = this.#channel.image(c.req.param('id'));
      if (!image) return c.json({ error: 'No such image (it may have been dropped from the history).' }, 404);
      return c.body(new Uint8Array(image.bytes), 200, {
        'content-type': image.contentType,
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
      });
    });
    app.get('/api/events', (c) => this.#events(c));
    app.post(
      '/api/messages',
      (c, next) => this.#oneOfFewUploads(c, next),
      // Room for MAX_UPLOADS images at the media cap; media.ts then checks each image on its own.
      bodyLimit({
        maxSize: MAX_UPLOADS * maxBytes + 64 * 1024,
        onError: async (c) => {
          await discardBody(c);
          return c.json(
            {
              error: `That upload is too large: at most ${MAX_UPLOADS} images of ${formatMB(maxBytes)} each.`,
            },
            413,
          );
        },
      }),
      (c) => this.#onMessage(c, handle),
    );
    app.post('/api/buttons', bodyLimit({ maxSize: 4096 }), (c) => this.#onButton(c, handle));
    return app;
  }

  /** Bounds how many uploads are held in memory at once; one more is told to try again. */
  async #oneOfFewUploads(c: Context, next: () => Promise<void>) {
    if (this.#uploading >= this.#o.config.platforms.playground.concurrentUploads) {
      await discardBody(c);
      return c.json({ error: 'iris is busy reading other uploads: send this again in a moment.' }, 503, {
        'retry-after': '1',
      });
    }
    this.#uploading++;
    try {
      await next();
    } finally {
      this.#uploading--;
    }
  }

  #events(c: Context) {
    return streamSSE(c, async (stream) => {
      const queue: ChatMessage[] = [...this.#channel.history()];
      let wake: (() => void) | undefined;
      const unsubscribe = this.#channel.subscribe((m) => {
        queue.push(m);
        wake?.();
      });
      const closed = new Promise<void>((resolve) => {
        stream.onAbort(resolve);
        this.#stopping.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      const pump = async () => {
        await stream.writeSSE({
          event: 'ready',
          data: JSON.stringify({ commands: this.#o.commands.length, banner: this.#o.banner }),
        });
        while (!stream.aborted) {
          const next = queue.shift();
          if (next) {
            await stream.writeSSE({ event: 'message', data: JSON.stringify(next) });
            continue;
          }
          if (this.#stopping.signal.aborted) break; // everything queued has been written
          await Promise.race([new Promise<void>((resolve) => (wake = resolve)), closed]);
          wake = undefined;
        }
      };
      const pumping = pump().finally(unsubscribe);
      this.#streams.add(pumping);
      try {
        await pumping;
      } finally {
        this.#streams.delete(pumping);
      }
    });
  }

  #request(fields: Pick<BotRequest, 'command' | 'args' | 'images'>): BotRequest {
    return {
      id: Channel.newId(),
      platform: PLATFORM,
      conversation: CONVERSATION,
      // The playground is the person running iris: they own the bot, and quotas are for others.
      user: { id: 'local', name: 'you', isAdmin: true, isOperator: true },
      signal: this.#stopping.signal,
      ...fields,
    };
  }

  async #onMessage(c: Context, handle: Handle) {
    if (!/^multipart\/form-data\b/i.test(c.req.header('content-type') ?? '')) {
      await discardBody(c);
      return c.json({ error: 'Send the message as a multipart form (text, files, replyTo).' }, 415);
    }
    let body: Record<string, string | File | (string | File)[]>;
    try {
      body = await c.req.parseBody({ all: true });
    } catch {
      return c.json({ error: 'Send the message as a multipart form (text, files, replyTo).' }, 400);
    }
    const text = typeof body.text === 'string' ? body.text.trim() : '';
    const files = [body.files ?? []].flat().filter((f): f is File => typeof f !== 'string');
    if (files.length > MAX_UPLOADS) {
      return c.json(
        { error: `Attach at most ${MAX_UPLOADS} images to one message (got ${files.length}).` },
        400,
      );
    }
    if (!text && !files.length) return c.json({ error: 'Type a message or attach an image.' }, 400);
    if (text.length > 4000)
      return c.json({ error: 'That message is too long (at most 4000 characters).' }, 400);
    const replyTo = typeof body.replyTo === 'string' && body.replyTo ? body.replyTo : undefined;
    const repliedTo = replyTo ? this.#channel.message(replyTo) : undefined;
    if (replyTo && !repliedTo) {
      return c.json({ error: 'The message you replied to is no longer in the history.' }, 400);
    }

    const uploads: Upload[] = [];
    const message: ChatMessage = {
      id: Channel.newId(),
      author: 'you',
      text,
      images: [],
      files: [],
      buttons: [],
      replyTo,
      at: Date.now(),
    };
    const { maxBytes, maxPixels, formats } = this.#o.config.media;
    for (const file of files) {
      const bytes = Buffer.from(await file.arrayBuffer());
      const name = file.name || 'upload';
      const ref: ImageRef = { name, data: bytes, size: bytes.length, contentType: file.type || undefined };
      // Only an image that decodes is kept to be shown; the command says what is wrong with the others.
      const decodes = await verifyImage(name, bytes, { maxBytes, maxPixels, formats }).then(
        () => true,
        () => false,
      );
      const id = decodes ? this.#channel.storeImage(bytes, name) : undefined;
      if (id) message.images.push({ id, url: `/api/images/${id}`, alt: name, name });
      else message.files.push(name);
      uploads.push({ ref, shown: Boolean(id) });
    }
    this.#channel.put(message);

    const latest = this.#channel
      .history()
      .reverse()
      .find((m) => m.id !== message.id && m.images.length);
    const work = planMessage({
      text,
      uploads,
      replied: this.#imagesOf(repliedTo),
      latest: this.#imagesOf(latest),
      messageId: message.id,
      commands: this.#o.commands,
      settings: this.#o.settings,
      channel: this.#channel,
      request: (fields) => this.#request(fields),
    });
    this.#run(work, handle);
    return c.json({ id: message.id }, 202);
  }

  /** A message's images as refs with their bytes (they stay in the channel's store while shown). */
  #imagesOf(message: ChatMessage | undefined): ImageRef[] {
    return (message?.images ?? []).flatMap((image) => {
      const stored = this.#channel.image(image.id);
      return stored ? [{ name: stored.name, data: stored.bytes, size: stored.bytes.length }] : [];
    });
  }

  async #onButton(c: Context, handle: Handle) {
    if (!/^application\/json\b/i.test(c.req.header('content-type') ?? '')) {
      return c.json({ error: 'Send a button press as JSON ({"id", "messageId"}).' }, 415);
    }
    const body = (await c.req.json().catch(() => ({}))) as { id?: unknown; messageId?: unknown };
    const id = typeof body.id === 'string' ? body.id : '';
    if (!id || id.length > 100) return c.json({ error: 'A button press needs the button id.' }, 400);
    const messageId = typeof body.messageId === 'string' ? body.messageId : undefined;
    if (messageId !== undefined && !this.#channel.message(messageId)) {
      return c.json({ error: 'The message with that button is no longer in the history.' }, 400);
    }
    const command = id.split(':')[0] as string;
    const res = new PlaygroundResponder(this.#channel, { replyTo: messageId });
    this.#run([{ req: this.#request({ command, args: { button: id }, images: [] }), res }], handle);
    return c.json({ id: res.id }, 202);
  }

  /** Runs the planned requests one after another, in the background (the HTTP answer does not wait). */
  #run(work: Promise<Work[]> | Work[], handle: Handle) {
    (async () => {
      for (const { req, res } of await work) await handle(req, res);
    })().catch((err) => this.#log.error({ err }, 'playground request failed'));
  }
}

/** Reads the rest of a request without keeping it: a browser still sending would see a reset, not the answer. */
async function discardBody(c: Context): Promise<void> {
  if (c.req.raw.body) for await (const _ of c.req.raw.body);
}
