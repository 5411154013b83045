import {
  DiscordAPIError,
  type Message,
  MessageFlags,
  RESTJSONErrorCodes,
  type RepliableInteraction,
} from 'discord.js';
import type { Progress, Reply, Responder } from '../../contracts/request.js';
import type { Logger } from '../../core/log.js';
import { truncate } from '../../core/text.js';
import { CONTENT_MAX, type MessageOut, NO_MENTIONS, onlyMention, toMessage } from './payload.js';

/** An interaction token lives 15 minutes; past 14.5 iris answers in the channel instead. */
export const TOKEN_LIFETIME_MS = 15 * 60_000;
const TOKEN_MARGIN_MS = 30_000;

const apiCode = (err: unknown) => (err instanceof DiscordAPIError ? err.code : undefined);

export function isMissingPermission(err: unknown): boolean {
  const code = apiCode(err);
  return code === RESTJSONErrorCodes.MissingPermissions || code === RESTJSONErrorCodes.MissingAccess;
}

function isTokenGone(err: unknown): boolean {
  const code = apiCode(err);
  return (
    code === RESTJSONErrorCodes.InvalidWebhookToken ||
    code === RESTJSONErrorCodes.UnknownWebhook ||
    code === RESTJSONErrorCodes.UnknownInteraction
  );
}

export const PERMISSION_NOTE =
  "I can't post that in this channel: I'm missing a permission here (Send Messages or Attach Files). Ask a server admin to check my role.";

export function progressText(p: Progress): string {
  if (p.kind === 'queued')
    return p.position <= 1 ? '⏳ Queued: next up' : `⏳ Queued: #${p.position} in line`;
  const step = p.total ? ` step ${p.step ?? 0}/${p.total}` : '';
  return `⚙️ Working…${step}${p.message ? ` ${p.message}` : ''}`;
}

export interface InteractionResponderOptions {
  log: Logger;
  /** Clock for the token's age (tests move it past 15 minutes). */
  now: () => number;
  progressIntervalMs: number;
  /** Bytes per uploaded file (the interaction's attachment_size_limit, or config). */
  uploadLimit: number;
  /** Reply only to the requester whatever the command says (the "Alt text" menu, button notes). */
  forceEphemeral?: boolean;
  /** Reshapes the reply before it is sent (the "Alt text" menu keeps only the alt text). */
  transform?: (reply: Reply) => Reply;
}

/** A reply reduced to the alt text of the image it describes, when it has one and is not an error. */
export function altTextOnly(reply: Reply): Reply {
  const alt = reply.describes?.[0]?.altText;
  return !reply.error && alt !== undefined ? { ...reply, text: alt } : reply;
}

/**
 * Answers one interaction: defer (ephemeral as asked), progress edits at most one per interval (the
 * latest wins), then the final edit with files. Past the token's lifetime the answer becomes a channel
 * message that mentions the requester; a missing channel permission becomes an ephemeral note.
 */
export class InteractionResponder implements Responder {
  readonly #i: RepliableInteraction;
  readonly #o: InteractionResponderOptions;
  #deferring?: Promise<void>;
  #ephemeral = false;
  #finished = false;
  #pending?: Progress;
  #timer?: NodeJS.Timeout;
  #lastEdit = 0;
  #editing: Promise<void> = Promise.resolve();

  constructor(interaction: RepliableInteraction, options: InteractionResponderOptions) {
    this.#i = interaction;
    this.#o = options;
  }

  #expired(): boolean {
    return this.#o.now() - this.#i.createdTimestamp > TOKEN_LIFETIME_MS - TOKEN_MARGIN_MS;
  }

  defer(options?: { ephemeral?: boolean }): Promise<void> {
    if (this.#i.deferred || this.#i.replied) return this.#deferring ?? Promise.resolve();
    const ephemeral = Boolean(options?.ephemeral || this.#o.forceEphemeral);
    this.#ephemeral = ephemeral;
    this.#deferring ??= this.#i
      .deferReply(ephemeral ? { flags: MessageFlags.Ephemeral } : {})
      .then(() => undefined);
    return this.#deferring;
  }

  async progress(p: Progress): Promise<void> {
    if (this.#finished || !this.#i.deferred || this.#expired()) return;
    this.#pending = p;
    if (this.#timer) return;
    const wait = Math.max(0, this.#lastEdit + this.#o.progressIntervalMs - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const next = this.#pending;
      this.#pending = undefined;
      if (!next || this.#finished) return;
      this.#lastEdit = performance.now();
      this.#editing = this.#editing
        .then(() => this.#showProgress(next))
        .catch((err) => this.#o.log.warn({ err }, 'discord progress edit failed'));
    }, wait);
  }

  async #showProgress(p: Progress): Promise<void> {
    if (this.#finished) return;
    const files =
      p.kind === 'running' && p.preview
        ? [{ attachment: p.preview, name: 'preview.png', description: 'Preview of the image being made' }]
        : [];
    await this.#i.editReply({
      content: progressText(p),
      files,
      attachments: [],
      allowedMentions: NO_MENTIONS,
    });
  }

  async send(original: Reply): Promise<void> {
    const reply = this.#o.transform ? this.#o.transform(original) : original;
    this.#finished = true;
    clearTimeout(this.#timer);
    await this.#editing;
    const ephemeral = Boolean(reply.ephemeral || this.#o.forceEphemeral);
    const limit = this.#i.attachmentSizeLimit ?? this.#o.uploadLimit;
    const msg = await toMessage(reply, limit);
    try {
      if (!this.#i.deferred && !this.#i.replied) {
        await this.#i.reply({ ...msg, ...(ephemeral ? { flags: MessageFlags.Ephemeral } : {}) });
      } else if (this.#expired()) {
        await this.#postToChannel(msg);
      } else if (ephemeral && !this.#ephemeral) {
        // The "thinking…" message is public; a private answer replaces it.
        await this.#i.deleteReply().catch(() => {});
        await this.#i.followUp({ ...msg, flags: MessageFlags.Ephemeral });
      } else {
        await this.#i.editReply({ ...msg, attachments: [] });
      }
    } catch (err) {
      if (isTokenGone(err)) return this.#postToChannel(msg);
      if (!isMissingPermission(err)) throw err;
      this.#o.log.warn({ channel: this.#i.channelId }, 'discord: missing permission to post the reply');
      await this.#i
        .followUp({ content: PERMISSION_NOTE, flags: MessageFlags.Ephemeral, allowedMentions: NO_MENTIONS })
        .catch((e) => this.#o.log.warn({ err: e }, 'discord: could not send the permission note'));
    }
  }

  /** A job that outlived the interaction token: a normal message that mentions the requester. */
  async #postToChannel(msg: MessageOut): Promise<void> {
    const userId = this.#i.user.id;
    const channel = this.#i.channel ?? (await this.#i.client.channels.fetch(this.#i.channelId ?? ''));
    if (!channel?.isSendable()) {
      this.#o.log.warn({ channel: this.#i.channelId }, 'discord: cannot reach the channel for a late reply');
      return;
    }
    try {
      await channel.send({
        ...msg,
        content: truncate(`<@${userId}> ${msg.content}`, CONTENT_MAX),
        allowedMentions: onlyMention(userId),
      });
    } catch (err) {
      if (!isMissingPermission(err)) throw err;
      this.#o.log.warn({ channel: channel.id }, 'discord: missing permission to post a late reply');
    }
  }
}

/** Answers a chat message (a question or a mention) with a reply to it; errors are logged, never thrown. */
export class MessageResponder implements Responder {
  readonly #m: Message;
  readonly #o: { log: Logger; uploadLimit: number };

  constructor(message: Message, options: { log: Logger; uploadLimit: number }) {
    this.#m = message;
    this.#o = options;
  }

  async defer(): Promise<void> {
    const channel = this.#m.channel;
    if (channel.isSendable()) await channel.sendTyping().catch(() => {});
  }

  async progress(): Promise<void> {}

  async send(reply: Reply): Promise<void> {
    const msg = await toMessage(reply, this.#o.uploadLimit);
    try {
      await this.#m.reply({ ...msg, allowedMentions: { ...NO_MENTIONS, repliedUser: true } });
    } catch (err) {
      if (!isMissingPermission(err)) throw err;
      this.#o.log.warn({ channel: this.#m.channelId }, 'discord: missing permission to reply in the channel');
    }
  }
}

/** Keeps the reply (auto alt text combines several into one message). */
export class CollectingResponder implements Responder {
  reply?: Reply;
  async defer(): Promise<void> {}
  async progress(): Promise<void> {}
  async send(reply: Reply): Promise<void> {
    this.reply = reply;
  }
}
