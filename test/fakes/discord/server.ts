import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeGateway } from './gateway.js';
import { parseBody, type RecordedRequest } from './http.js';
import { buildInteraction, type InteractionFields } from './interactions.js';
import {
  type FakeAttachment,
  type FakeChannel,
  type FakeUser,
  guildPayload,
  type MessageFields,
  messagePayload,
  Snowflakes,
  userPayload,
} from './payloads.js';

export type { RecordedFile, RecordedRequest } from './http.js';

export interface FailRule {
  method: string;
  path: RegExp;
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  times?: number;
  /** Only requests this accepts (e.g. the final edit, not a progress edit). */
  when?: (r: RecordedRequest) => boolean;
}

const MESSAGE_CONTENT_INTENT = 1 << 15;

/**
 * A local Discord: REST (/api/v10/…), gateway (WebSocket) and CDN (/attachments/…) on one port.
 * Records every REST request; tests drive it by dispatching interactions and messages.
 */
export class FakeDiscord extends EventEmitter {
  readonly ids = new Snowflakes();
  readonly appId = this.ids.next();
  readonly bot: FakeUser = { id: this.appId, username: 'iris', bot: true };
  readonly guildId = this.ids.next();
  readonly channels: FakeChannel[];
  readonly requests: RecordedRequest[] = [];
  readonly commands = new Map<string, unknown[]>();
  readonly messages = new Map<string, Record<string, unknown>>();
  readonly cdnHits: string[] = [];
  readonly #files = new Map<string, { data: Buffer; contentType: string }>();
  readonly #tokens = new Map<
    string,
    { interaction: Record<string, unknown>; original?: string; expired?: boolean }
  >();
  readonly #rules: FailRule[] = [];
  readonly #denied = new Set<string>();
  readonly #http: Server;
  readonly gateway: FakeGateway;
  port = 0;

  constructor(options: { heartbeatMs?: number; messageContentEnabled?: boolean } = {}) {
    super();
    this.channels = [
      { id: this.ids.next(), name: 'general', guildId: this.guildId },
      { id: this.ids.next(), name: 'art', guildId: this.guildId },
    ];
    this.gateway = new FakeGateway({
      heartbeatMs: options.heartbeatMs ?? 1000,
      refusedIntents: options.messageContentEnabled === false ? MESSAGE_CONTENT_INTENT : 0,
      onIdentify: () => ({
        ready: {
          v: 10,
          user: { ...userPayload(this.bot), verified: true, mfa_enabled: false, flags: 0 },
          guilds: [{ id: this.guildId, unavailable: true }],
          session_id: `session-${this.ids.next()}`,
          resume_gateway_url: this.wsUrl,
          private_channels: [],
          application: { id: this.appId, flags: 0 },
        },
        guilds: [
          guildPayload({ id: this.guildId, name: 'Test Guild', channels: this.channels, bot: this.bot }),
        ],
      }),
    });
    this.#http = createServer((req, res) => {
      this.#handle(req, res).catch((err) => {
        res.writeHead(500).end(String(err));
      });
    });
    this.#http.on('upgrade', (req, socket, head) => this.gateway.upgrade(req, socket, head));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  get apiUrl(): string {
    return `${this.url}/api`;
  }
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }
  get channel(): FakeChannel {
    return this.channels[0] as FakeChannel;
  }

  async start(): Promise<this> {
    this.#http.listen(0, '127.0.0.1');
    await once(this.#http, 'listening');
    this.port = (this.#http.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    await this.gateway.close();
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
  }

  /** A file on the fake CDN; `announcedSize` is what the attachment object claims (default: the real size). */
  addAttachment(file: {
    filename: string;
    data: Buffer;
    contentType?: string;
    announcedSize?: number;
    description?: string;
  }): FakeAttachment {
    const id = this.ids.next();
    const path = `/attachments/${this.channel.id}/${id}/${file.filename}`;
    const contentType = file.contentType ?? 'image/png';
    this.#files.set(path, { data: file.data, contentType });
    return {
      id,
      filename: file.filename,
      size: file.announcedSize ?? file.data.length,
      url: `${this.url}${path}?ex=1&is=2&hm=signature`,
      proxy_url: `${this.url}${path}`,
      content_type: contentType,
      ...(file.description ? { description: file.description } : {}),
    };
  }

  failNext(rule: FailRule): void {
    this.#rules.push({ times: 1, ...rule });
  }

  /** The bot lacks Send Messages / Attach Files there: channel posts get 403 Missing Permissions. */
  denyChannel(channelId: string): void {
    this.#denied.add(channelId);
  }

  /** Webhook calls with this token now fail like an expired (15 min) interaction token. */
  expireToken(token: string): void {
    const t = this.#tokens.get(token);
    if (t) t.expired = true;
  }

  interaction(fields: InteractionFields): { id: string; token: string; payload: Record<string, unknown> } {
    const payload = buildInteraction(this, fields);
    const token = payload.token as string;
    this.#tokens.set(token, { interaction: payload });
    this.gateway.dispatch('INTERACTION_CREATE', () => payload);
    return { id: payload.id as string, token, payload };
  }

  /** Posts a user message (MESSAGE_CREATE), stripped of content as Discord does without the intent. */
  message(fields: Omit<MessageFields, 'id'> & { id?: string }): Record<string, unknown> {
    const guildId = fields.guildId ?? this.channels.find((c) => c.id === fields.channelId)?.guildId;
    const payload = messagePayload({ ...fields, guildId, id: fields.id ?? this.ids.next() });
    this.messages.set(payload.id as string, payload);
    this.gateway.dispatch('MESSAGE_CREATE', (identify) =>
      (identify.intents & MESSAGE_CONTENT_INTENT) !== 0 ? payload : this.#withoutContent(payload),
    );
    return payload;
  }

  /** Deletes messages as a user or moderator would: MESSAGE_DELETE, or MESSAGE_DELETE_BULK for several. */
  deleteMessages(channelId: string, ids: string[]): void {
    const guild = this.channels.find((c) => c.id === channelId)?.guildId;
    for (const id of ids) this.messages.delete(id);
    const where = { channel_id: channelId, ...(guild ? { guild_id: guild } : {}) };
    if (ids.length === 1) this.gateway.dispatch('MESSAGE_DELETE', () => ({ id: ids[0], ...where }));
    else this.gateway.dispatch('MESSAGE_DELETE_BULK', () => ({ ids, ...where }));
  }

  #withoutContent(m: Record<string, unknown>): Record<string, unknown> {
    const mentioned = (m.mentions as { id: string }[]).some((u) => u.id === this.bot.id);
    const own = (m.author as { id: string }).id === this.bot.id;
    const visible = mentioned || own || !m.guild_id;
    const out: Record<string, unknown> = visible
      ? { ...m }
      : { ...m, content: '', attachments: [], embeds: [], components: [] };
    if (m.referenced_message) out.referenced_message = this.#withoutContent(m.referenced_message as never);
    return out;
  }

  /** Resolves with the first recorded request (past or future) that matches. */
  waitFor(match: (r: RecordedRequest) => boolean, timeoutMs = 10_000): Promise<RecordedRequest> {
    const found = this.requests.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('request', listener);
        const recent = this.requests
          .slice(-8)
          .map((r) => `${r.method} ${r.path} ${r.status} ${JSON.stringify(r.json ?? null).slice(0, 120)}`);
        reject(
          new Error(`fake discord: no matching request within ${timeoutMs} ms; last:\n${recent.join('\n')}`),
        );
      }, timeoutMs);
      const listener = (r: RecordedRequest) => {
        if (!match(r)) return;
        clearTimeout(timer);
        this.off('request', listener);
        resolve(r);
      };
      this.on('request', listener);
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (url.pathname.startsWith('/attachments/')) return this.#cdn(url.pathname, res);
    const path = decodeURIComponent(url.pathname.replace(/^\/api\/v\d+/, ''));
    const method = req.method ?? 'GET';
    const recorded: RecordedRequest = { method, path, query: url.searchParams, files: [], status: 0 };
    await parseBody(req.headers['content-type'] ?? '', body, recorded);
    const reply = (status: number, json?: unknown, headers: Record<string, string> = {}) => {
      recorded.status = status;
      this.requests.push(recorded);
      res.writeHead(
        status,
        json === undefined ? headers : { 'content-type': 'application/json', ...headers },
      );
      res.end(json === undefined ? undefined : JSON.stringify(json));
      this.emit('request', recorded);
    };
    const rule = this.#rules.find(
      (r) => r.method === method && r.path.test(path) && (r.when?.(recorded) ?? true),
    );
    if (rule) {
      rule.times = (rule.times ?? 1) - 1;
      if (rule.times <= 0) this.#rules.splice(this.#rules.indexOf(rule), 1);
      return reply(rule.status, rule.body ?? {}, rule.headers);
    }
    const [status, json] = this.#route(method, path, recorded);
    reply(status, json);
  }

  #cdn(path: string, res: ServerResponse): void {
    this.cdnHits.push(path);
    const file = this.#files.get(path);
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file.contentType, 'content-length': file.data.length });
    res.end(file.data);
  }

  #route(method: string, path: string, r: RecordedRequest): [number, unknown?] {
    const match = (re: RegExp, verb?: string) => (verb && verb !== method ? null : re.exec(path));
    if (method === 'GET' && path === '/gateway/bot') {
      return [
        200,
        {
          url: this.wsUrl,
          shards: 1,
          session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 },
        },
      ];
    }
    if (method === 'GET' && path === '/applications/@me') {
      return [200, { id: this.appId, name: 'iris', description: '', bot_public: true, flags: 0 }];
    }
    const commands = match(/^\/applications\/(\d+)\/(?:guilds\/(\d+)\/)?commands$/);
    if (commands) return this.#commands(method, commands[2], r);
    const callback = match(/^\/interactions\/(\d+)\/([^/]+)\/callback$/, 'POST');
    if (callback) {
      const token = callback[2] as string;
      if (!this.#tokens.has(token)) return [404, { message: 'Unknown interaction', code: 10062 }];
      if (r.json?.type === 4 || r.json?.type === 7) this.#storeOriginal(token, r.json.data ?? {}, r);
      return [204];
    }
    const webhook = match(/^\/webhooks\/(\d+)\/([^/]+)(?:\/messages\/([^/]+))?$/);
    if (webhook) return this.#webhook(method, webhook[2] as string, webhook[3], r);
    const post = match(/^\/channels\/(\d+)\/messages$/, 'POST');
    if (post) {
      const channelId = post[1] as string;
      if (this.#denied.has(channelId)) return [403, { message: 'Missing Permissions', code: 50013 }];
      return [200, this.#storeMessage({ channelId }, r.json ?? {}, r, false)];
    }
    const get = match(/^\/channels\/(\d+)\/messages\/(\d+)$/, 'GET');
    if (get) {
      const msg = this.messages.get(get[2] as string);
      return msg ? [200, msg] : [404, { message: 'Unknown Message', code: 10008 }];
    }
    if (match(/^\/channels\/(\d+)\/typing$/, 'POST')) return [204];
    const channel = match(/^\/channels\/(\d+)$/, 'GET');
    if (channel) {
      const c = this.channels.find((ch) => ch.id === channel[1]);
      return c
        ? [200, { id: c.id, type: c.type ?? 0, name: c.name, guild_id: c.guildId }]
        : [404, { message: 'Unknown Channel', code: 10003 }];
    }
    return [404, { message: 'Unknown route', code: 0 }];
  }

  #commands(method: string, guildId: string | undefined, r: RecordedRequest): [number, unknown?] {
    const scope = guildId ?? 'global';
    if (method === 'GET') return [200, this.commands.get(scope) ?? []];
    if (method !== 'PUT') return [405, { message: '405: Method Not Allowed', code: 0 }];
    const stored = (r.json as Record<string, unknown>[]).map((c) => ({
      id: this.ids.next(),
      application_id: this.appId,
      version: this.ids.next(),
      default_member_permissions: null,
      nsfw: false,
      description: '',
      ...(guildId ? { guild_id: guildId } : { contexts: null, integration_types: [0] }),
      ...c,
    }));
    this.commands.set(scope, stored);
    return [200, stored];
  }

  #webhook(method: string, token: string, which: string | undefined, r: RecordedRequest): [number, unknown?] {
    const t = this.#tokens.get(token);
    if (!t || t.expired) return [401, { message: 'Invalid Webhook Token', code: 50027 }];
    if (!which && method === 'POST') return [200, this.#storeMessage(t, r.json ?? {}, r, false)];
    if (which === '@original' && method === 'PATCH')
      return [200, this.#storeOriginal(token, r.json ?? {}, r)];
    if (which === '@original' && method === 'DELETE') {
      if (t.original) this.messages.delete(t.original);
      t.original = undefined;
      return [204];
    }
    if (method === 'GET') {
      const msg = this.messages.get(which === '@original' ? (t.original ?? '') : (which ?? ''));
      return msg ? [200, msg] : [404, { message: 'Unknown Message', code: 10008 }];
    }
    return [404, { message: 'Unknown route', code: 0 }];
  }
  #storeOriginal(token: string, data: Record<string, unknown>, r: RecordedRequest) {
    const t = this.#tokens.get(token);
    if (!t) return {};
    const msg = this.#storeMessage(t, data, r, true);
    t.original = msg.id as string;
    return msg;
  }

  /** A message the bot posted (webhook or channel), kept so later GETs and button presses can see it. */
  #storeMessage(
    source: { interaction?: Record<string, unknown>; original?: string; channelId?: string },
    data: Record<string, unknown>,
    r: RecordedRequest,
    original: boolean,
  ): Record<string, unknown> {
    const i = source.interaction;
    const channelId = source.channelId ?? (i?.channel_id as string);
    const previous = original && source.original ? this.messages.get(source.original) : undefined;
    const attachments = r.files.map((f) =>
      this.addAttachment({
        filename: f.filename,
        data: f.data,
        contentType: f.contentType,
        description: f.description,
      }),
    );
    const invoker = i
      ? ((i.member as { user: FakeUser } | undefined)?.user ?? (i.user as FakeUser))
      : undefined;
    const msg = messagePayload({
      id: (previous?.id as string | undefined) ?? this.ids.next(),
      channelId,
      guildId: i ? (i.guild_id as string | undefined) : this.guildId,
      author: this.bot,
      content: (data.content as string | undefined) ?? (previous?.content as string | undefined) ?? '',
      attachments:
        data.attachments === undefined && !r.files.length ? (previous?.attachments as never) : attachments,
      components:
        (data.components as unknown[] | undefined) ?? (previous?.components as unknown[] | undefined),
      flags: data.flags as number | undefined,
      mentions: invoker && !i ? [invoker] : [],
      ...(i && invoker
        ? { interactionMetadata: { id: i.id as string, type: i.type as number, user: invoker } }
        : {}),
    });
    this.messages.set(msg.id as string, msg);
    return msg;
  }
}
