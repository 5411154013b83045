import type { Attachment, Message } from 'discord.js';
import type { BotRequest, ImageRef, Responder } from '../../contracts/request.js';
import { helpPointer, planChatMessage } from '../../core/chat.js';
import { newRequestId } from '../../core/dispatch.js';
import type { Logger } from '../../core/log.js';
import type { SettingsStore } from '../../core/settings.js';
import { CollectingResponder, isMissingPermission, MessageResponder } from './responder.js';
import {
  conversationOf,
  type DiscordSettings,
  imageRef,
  imagesOf,
  PLATFORM,
  refusal,
  settingsChannelOf,
  userOf,
} from './translate.js';

/**
 * Chat messages iris acts on, by core's chat policy (src/core/chat.ts):
 * - a question replying to a message with an image (or an image + a mention) → `ask` about that image in
 *   the channel's conversation, so follow-ups continue it;
 * - a question to iris (a mention, or a reply to iris's answer) without an image → `ask` about the image
 *   the conversation is about (its memory); other words to iris → a short pointer to /help;
 * - a mention with an image and no words → `caption`;
 * - otherwise an upload in a channel with automatic alt text → one reply with `caption` for each image
 *   that has no description.
 * Without the MESSAGE_CONTENT intent Discord blanks the text and attachments of messages that do not
 * mention iris, so only mentions (and replies that ping iris) get here with anything to act on.
 */

export interface MessageContext {
  botId: string;
  settings: DiscordSettings;
  store: SettingsStore;
  log: Logger;
  /** Whether the dispatcher has a command (the adapter works with whatever commands exist). */
  has(command: string): boolean;
  handle(req: BotRequest, res: Responder): Promise<void>;
  /** Aborted when the adapter stops. */
  signal: AbortSignal;
}

/** `link`: the message the images came from (a replied-to one, else the message itself). */
type Plan =
  | { kind: 'request'; command: string; args: Record<string, unknown>; images: ImageRef[]; link: string }
  | { kind: 'alttext'; images: ImageRef[]; link: string }
  | { kind: 'help' };

async function plan(m: Message, ctx: MessageContext): Promise<Plan | undefined> {
  const question = m.content.replaceAll(`<@${ctx.botId}>`, '').replaceAll(`<@!${ctx.botId}>`, '').trim();
  const own = imagesOf(m.attachments);
  const referenced = m.reference?.messageId ? await m.fetchReference().catch(() => undefined) : undefined;
  const replyImages = referenced ? imagesOf(referenced.attachments) : [];
  const undescribed = own.filter((a) => !a.description);
  const chat = await planChatMessage(
    {
      text: question,
      ownImages: own.length,
      describedImages: own.length - undescribed.length,
      repliedImages: replyImages.length,
      mentioned: m.mentions.users.has(ctx.botId),
      direct: false,
      followsIris: referenced?.author.id === ctx.botId,
    },
    {
      sender: {
        platform: PLATFORM,
        userId: m.author.id,
        conversation: conversationOf(m.channelId, m.channel),
      },
      altText: {
        configured: ctx.settings.altTextChannels.includes(settingsChannelOf(m.channelId, m.channel)),
        settings: ctx.store,
      },
    },
  );
  const from = (message: Message) => (a: Attachment) => imageRef(a, message.author.id);
  const ownRefs = own.map(from(m));
  const replyRefs = referenced ? replyImages.map(from(referenced)) : [];
  const replyLink = referenced?.url ?? m.url;
  switch (chat.kind) {
    case 'ask': {
      if (!ctx.has('ask')) break;
      const [images, link] =
        chat.about === 'own'
          ? [ownRefs, m.url]
          : chat.about === 'replied'
            ? [replyRefs, replyLink]
            : [[], m.url];
      return { kind: 'request', command: 'ask', args: { question }, images, link };
    }
    case 'help':
      return ctx.has('ask') ? { kind: 'help' } : undefined;
    case 'caption': {
      if (!ctx.has('caption')) break;
      const [images, link] = chat.about === 'own' ? [ownRefs, m.url] : [replyRefs, replyLink];
      return { kind: 'request', command: 'caption', args: {}, images, link };
    }
    case 'alttext':
      if (!ctx.has('caption')) break;
      return { kind: 'alttext', images: undescribed.map((a) => imageRef(a, m.author.id)), link: m.url };
    default:
      break;
  }
  return undefined;
}

export async function onMessage(m: Message, ctx: MessageContext): Promise<void> {
  if (m.author.bot || m.webhookId || m.author.id === ctx.botId || m.system) return;
  const p = await plan(m, ctx);
  if (!p) return;
  if (p.kind === 'help') {
    if (!refusal(ctx.settings, m.guildId, 'ask'))
      await replyQuietly(m, helpPointer({ ask: '/ask', help: '/help' }), ctx.log);
    return;
  }
  const conversation = conversationOf(m.channelId, m.channel);
  const user = userOf(m.author, m.member?.permissions, ctx.settings);
  // The link image memory stores, and what a later MESSAGE_DELETE of that message is matched by.
  const base = { platform: PLATFORM, conversation, user, signal: ctx.signal, messageLink: p.link };
  const log = ctx.log.child({ message: m.id });

  if (p.kind === 'request') {
    if (refusal(ctx.settings, m.guildId, p.command)) return;
    const res = new MessageResponder(m, { log, uploadLimit: ctx.settings.uploadLimitBytes });
    await ctx.handle(
      { ...base, id: newRequestId(), command: p.command, args: p.args, images: p.images },
      res,
    );
    return;
  }

  if (refusal(ctx.settings, m.guildId, 'caption')) return;
  const texts: string[] = [];
  for (const image of p.images) {
    const res = new CollectingResponder();
    await ctx.handle({ ...base, id: newRequestId(), command: 'caption', args: {}, images: [image] }, res);
    if (res.reply?.error) log.info({ code: res.reply.error.code }, 'discord: no alt text for an upload');
    else {
      // The policy-made alt text, not the reply's text (which also carries the long caption).
      const text = res.reply?.describes?.[0]?.altText ?? res.reply?.text;
      if (text) texts.push(text);
    }
  }
  if (!texts.length) return;
  const content =
    texts.length === 1
      ? `Alt text: ${texts[0]}`
      : texts.map((t, i) => `Alt text, image ${i + 1}: ${t}`).join('\n');
  await replyQuietly(m, content.slice(0, 2000), log);
}

/** A reply that pings nobody; a channel where iris may not post is logged, not thrown. */
async function replyQuietly(m: Message, content: string, log: Logger): Promise<void> {
  try {
    await m.reply({ content, allowedMentions: { repliedUser: false } });
  } catch (err) {
    if (!isMissingPermission(err)) throw err;
    log.warn({ channel: m.channelId }, 'discord: missing permission to reply');
  }
}
