import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SECRETS } from '../secrets.js';
import { FakeSocketMode } from './socket.js';

/**
 * A local Slack: the Web API methods iris calls (form-encoded or JSON, Bearer auth), the external upload
 * flow (getUploadURLExternal → POST bytes → completeUploadExternal), private file downloads that need
 * the bot token (without it: a 200 HTML login page, as Slack serves), and Socket Mode
 * (apps.connections.open + a websocket). State is kept per instance; tests read `calls` and `messages`.
 */

export const BOT_USER_ID = 'UBOT';
export const BOT_ID = 'BBOT';

export interface FakeFile {
  id: string;
  name: string;
  title: string;
  mimetype: string;
  filetype: string;
  size: number;
  user: string;
  url_private: string;
  url_private_download: string;
  alt_txt?: string;
  /** Where the file was shared: channel → messages (files.info's `shares.public`). */
  shares?: { public: Record<string, { ts: string }[]> };
  bytes: Buffer;
  /** Serve Slack's HTML sign-in page even to the bot token (a revoked or expired link). */
  signInPageOnly?: boolean;
}

export interface FakeMessage {
  type: 'message';
  channel: string;
  ts: string;
  user?: string;
  bot_id?: string;
  text?: string;
  thread_ts?: string;
  blocks?: unknown[];
  files?: FakeFile[];
  subtype?: string;
}

export interface ApiCall {
  method: string;
  args: Record<string, unknown>;
  token?: string;
}

type Failure = { status: 429; retryAfter: number } | { status: 500 } | { error: string };

/** A Slack file object as the API shows it (no bytes). */
export function publicFile(f: FakeFile): Omit<FakeFile, 'bytes' | 'signInPageOnly'> {
  const { bytes: _bytes, signInPageOnly: _signIn, ...rest } = f;
  return rest;
}

export function publicMessage(m: FakeMessage): Record<string, unknown> {
  return { ...m, files: m.files?.map(publicFile) };
}

export class FakeSlack {
  readonly calls: ApiCall[] = [];
  readonly messages: FakeMessage[] = [];
  readonly files = new Map<string, FakeFile>();
  readonly admins = new Set<string>();
  /** Workspace owners (users.info is_owner). */
  readonly owners = new Set<string>();
  /** Private-file downloads, with whether they carried the bot token. */
  readonly downloads: { fileId: string; authorized: boolean }[] = [];
  readonly socket: FakeSocketMode;
  readonly #events = new EventEmitter();
  readonly #failures = new Map<string, Failure[]>();
  readonly #server: Server;
  #clock = 1_700_000_000;
  #ids = 0;

  constructor(
    readonly tokens: { bot: string; app?: string } = {
      bot: SECRETS.slackBotToken,
      app: SECRETS.slackAppToken,
    },
  ) {
    this.#server = createServer((req, res) => {
      this.#route(req, res).catch((err) => {
        res.writeHead(500).end(String(err));
      });
    });
    this.socket = new FakeSocketMode(this.#server);
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    await this.socket.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** What SLACK_API_URL is set to. */
  get apiUrl(): string {
    return `${this.origin}/api/`;
  }

  nextTs(): string {
    this.#clock += 1;
    return `${this.#clock}.000100`;
  }

  #id(prefix: string): string {
    this.#ids += 1;
    return `${prefix}${String(this.#ids).padStart(6, '0')}`;
  }

  /** The next call(s) of `method` fail this way, in order. */
  failNext(method: string, ...failures: Failure[]): void {
    this.#failures.set(method, [...(this.#failures.get(method) ?? []), ...failures]);
  }

  /** Drops the failures not yet used up. */
  clearFailures(): void {
    this.#failures.clear();
  }

  addFile(options: { name: string; bytes: Buffer; mimetype: string; user?: string }): FakeFile {
    const id = this.#id('F');
    const url = `${this.origin}/files-pri/T0FAKE-${id}/${encodeURIComponent(options.name)}`;
    const file: FakeFile = {
      id,
      name: options.name,
      title: options.name,
      mimetype: options.mimetype,
      filetype: options.mimetype.split('/')[1] ?? 'binary',
      size: options.bytes.length,
      user: options.user ?? 'UALICE',
      url_private: url,
      url_private_download: `${url}?download=1`,
      bytes: options.bytes,
    };
    this.files.set(id, file);
    return file;
  }

  /** A message from a person, stored as Slack would; deliver it to the app with an event separately. */
  addMessage(fields: Omit<FakeMessage, 'type' | 'ts'> & { ts?: string }): FakeMessage {
    const message: FakeMessage = {
      type: 'message',
      ...fields,
      ts: fields.ts ?? this.nextTs(),
      ...(fields.files ? { subtype: 'file_share' } : {}),
    };
    for (const file of message.files ?? []) {
      file.shares ??= { public: {} };
      file.shares.public[message.channel] = [{ ts: message.ts }];
    }
    this.messages.push(message);
    this.#events.emit('change');
    return message;
  }

  callsTo(method: string): ApiCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Resolves with the first call (already made or future) that matches. */
  waitForCall(
    method: string,
    match: (c: ApiCall) => boolean = () => true,
    timeoutMs = 8000,
  ): Promise<ApiCall> {
    return this.#waitFor(
      () => this.calls.find((c) => c.method === method && match(c)),
      `${method} call`,
      timeoutMs,
    );
  }

  waitForMessage(match: (m: FakeMessage) => boolean, timeoutMs = 8000): Promise<FakeMessage> {
    return this.#waitFor(() => this.messages.find(match), 'message', timeoutMs);
  }

  #waitFor<T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    const found = find();
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const onChange = () => {
        const hit = find();
        if (!hit) return;
        clearTimeout(timer);
        this.#events.off('change', onChange);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        this.#events.off('change', onChange);
        reject(new Error(`fake Slack: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#events.on('change', onChange);
    });
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const body = await readBody(req);
    if (req.method === 'GET' && url.pathname.startsWith('/files-pri/')) return this.#download(req, res, url);
    if (req.method === 'POST' && url.pathname.startsWith('/upload/'))
      return this.#upload(req, res, url, body);
    const method = /^\/api\/([\w.]+)$/.exec(url.pathname)?.[1];
    if (req.method !== 'POST' || !method) {
      res.writeHead(404).end('not found');
      return;
    }
    const args = await parseArgs(req, body);
    const token =
      /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? (args.token as string | undefined);
    this.calls.push({ method, args, token });
    this.#events.emit('change');
    const failure = this.#failures.get(method)?.shift();
    if (failure && 'status' in failure) {
      if (failure.status === 500) res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error');
      else res.writeHead(429, { 'retry-after': String(failure.retryAfter) }).end();
      return;
    }
    const expected = method === 'apps.connections.open' ? this.tokens.app : this.tokens.bot;
    const result = failure
      ? { ok: false, error: failure.error }
      : token !== expected
        ? { ok: false, error: 'invalid_auth' }
        : this.#method(method, args);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(result));
  }

  #method(method: string, args: Record<string, unknown>): Record<string, unknown> {
    const str = (k: string) => (typeof args[k] === 'string' ? (args[k] as string) : undefined);
    const json = <T>(k: string): T | undefined => {
      const v = args[k];
      return typeof v === 'string' ? (JSON.parse(v) as T) : (v as T | undefined);
    };
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://fake.slack.com/',
          team: 'fake',
          user: 'iris',
          team_id: 'T0FAKE',
          user_id: BOT_USER_ID,
          bot_id: BOT_ID,
        };
      case 'apps.connections.open':
        return { ok: true, url: `ws://127.0.0.1:${this.port}/socket-mode` };
      case 'chat.postMessage': {
        const channel = str('channel');
        if (!channel) return { ok: false, error: 'channel_not_found' };
        const message = this.#botMessage(channel, {
          text: str('text'),
          thread_ts: str('thread_ts'),
          blocks: json('blocks'),
        });
        return { ok: true, channel, ts: message.ts, message: publicMessage(message) };
      }
      case 'chat.postEphemeral':
        return { ok: true, message_ts: this.nextTs() };
      case 'chat.update': {
        const message = this.messages.find((m) => m.channel === str('channel') && m.ts === str('ts'));
        if (!message) return { ok: false, error: 'message_not_found' };
        message.text = str('text');
        message.blocks = json('blocks');
        this.#events.emit('change');
        return { ok: true, channel: message.channel, ts: message.ts, text: message.text };
      }
      case 'chat.delete': {
        const index = this.messages.findIndex((m) => m.channel === str('channel') && m.ts === str('ts'));
        if (index < 0) return { ok: false, error: 'message_not_found' };
        this.messages.splice(index, 1);
        return { ok: true };
      }
      case 'files.getUploadURLExternal': {
        const file = this.addFile({
          name: str('filename') ?? 'file',
          bytes: Buffer.alloc(0),
          mimetype: 'application/octet-stream',
          user: BOT_USER_ID,
        });
        file.size = Number(args.length);
        file.alt_txt = str('alt_text');
        return { ok: true, upload_url: `${this.origin}/upload/${file.id}`, file_id: file.id };
      }
      case 'files.completeUploadExternal': {
        const list = json<{ id: string; title?: string }[]>('files') ?? [];
        const files = list.map((f) => this.files.get(f.id));
        if (files.some((f) => !f || f.bytes.length === 0)) return { ok: false, error: 'file_not_found' };
        const channel = str('channel_id');
        const done = files as FakeFile[];
        if (channel) {
          this.#botMessage(channel, {
            text: str('initial_comment') ?? '',
            thread_ts: str('thread_ts'),
            files: done,
            blocks: json('blocks'),
          });
        }
        return { ok: true, files: done.map((f) => ({ id: f.id, title: f.title })) };
      }
      case 'files.info': {
        const file = this.files.get(str('file') ?? '');
        return file ? { ok: true, file: publicFile(file) } : { ok: false, error: 'file_not_found' };
      }
      case 'conversations.history': {
        const limit = Number(args.limit ?? 100);
        const top = this.messages.filter(
          (m) => m.channel === str('channel') && (!m.thread_ts || m.thread_ts === m.ts),
        );
        return { ok: true, messages: top.reverse().slice(0, limit).map(publicMessage), has_more: false };
      }
      case 'conversations.replies': {
        const ts = str('ts');
        const thread = this.messages.filter(
          (m) => m.channel === str('channel') && (m.ts === ts || m.thread_ts === ts),
        );
        if (thread.length === 0) return { ok: false, error: 'thread_not_found' };
        return { ok: true, messages: thread.map(publicMessage), has_more: false };
      }
      case 'users.info': {
        const user = str('user') ?? '';
        return {
          ok: true,
          user: {
            id: user,
            name: user.toLowerCase(),
            is_admin: this.admins.has(user),
            is_owner: this.owners.has(user),
            is_bot: false,
          },
        };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  #botMessage(channel: string, fields: Partial<FakeMessage>): FakeMessage {
    return this.addMessage({ channel, user: BOT_USER_ID, bot_id: BOT_ID, ...fields });
  }

  #download(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const id = /^\/files-pri\/T0FAKE-(F\d+)\//.exec(url.pathname)?.[1] ?? '';
    const file = this.files.get(id);
    const authorized = req.headers.authorization === `Bearer ${this.tokens.bot}`;
    this.downloads.push({ fileId: id, authorized });
    this.#events.emit('change');
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    if (!authorized || file.signInPageOnly) {
      // What Slack really does: a sign-in page with status 200.
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end('<!DOCTYPE html><html><title>Slack</title>Sign in</html>');
      return;
    }
    res
      .writeHead(200, { 'content-type': file.mimetype, 'content-length': String(file.bytes.length) })
      .end(file.bytes);
  }

  async #upload(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): Promise<void> {
    const file = this.files.get(url.pathname.slice('/upload/'.length));
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    let bytes = body;
    if ((req.headers['content-type'] ?? '').startsWith('multipart/form-data')) {
      const form = await new Request(url, {
        method: 'POST',
        headers: { 'content-type': req.headers['content-type'] ?? '' },
        body,
      }).formData();
      const part = [...form.values()].find((v) => typeof v !== 'string');
      bytes = part && typeof part !== 'string' ? Buffer.from(await part.arrayBuffer()) : Buffer.alloc(0);
    }
    if (bytes.length !== file.size) {
      res.writeHead(400).end(`length ${bytes.length} is not the announced ${file.size}`);
      return;
    }
    file.bytes = bytes;
    file.mimetype = bytes.subarray(1, 4).toString('latin1') === 'PNG' ? 'image/png' : file.mimetype;
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`OK - ${bytes.length}`);
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function parseArgs(req: IncomingMessage, body: Buffer): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('application/json'))
    return body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
  if (type.startsWith('multipart/form-data')) {
    const form = await new Request('http://fake/', {
      method: 'POST',
      headers: { 'content-type': type },
      body,
    }).formData();
    return Object.fromEntries([...form.entries()].filter(([, v]) => typeof v === 'string'));
  }
  return Object.fromEntries(new URLSearchParams(body.toString('utf8')));
}
