import type { App } from '@slack/bolt';
import { altTextWanted } from '../../core/alttext-settings.js';
import { helpPointer, planChat } from '../../core/chat.js';
import { slashRoutes } from './commands.js';
import type { SeenKeys } from './dedupe.js';
import {
  type FoundImage,
  imageRef,
  latestImages,
  messageImages,
  type SlackFile,
  type SlackMessageLike,
} from './images.js';
import { type MessageDeletedEvent, messageDeleted, permalink } from './links.js';
import type { SlackRuntime } from './runtime.js';

/** The commands messages are routed to (any command list may lack them; dispatch then says so). */
export const ASK_COMMAND = 'ask';
export const ALT_TEXT_COMMAND = 'caption';

/** Subtypes that are a person saying something; edits, joins, bot posts and the rest are not. */
const PERSON_SUBTYPES = new Set([undefined, 'file_share', 'thread_broadcast']);

interface MessageEvent extends SlackMessageLike, MessageDeletedEvent {
  channel: string;
  channel_type?: string;
}

function stripMention(text: string, botUserId: string): string {
  return text
    .replace(new RegExp(`<@${botUserId}(\\|[^>]*)?>`, 'g'), '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Auto alt text for this upload: the channel is on (an admin's /alttext, else config) and the user did not opt out. */
async function altTextOn(rt: SlackRuntime, channel: string, user: string): Promise<boolean> {
  const configured = rt.slack.altText.channels.includes(channel);
  if (!rt.settings) return configured;
  return altTextWanted(rt.settings, {
    platform: 'slack',
    userId: user,
    conversation: `slack:${channel}`,
    configured,
  });
}

/**
 * Auto alt text: one threaded reply per image, once per file (the `message` and `file_shared` events of
 * one upload, and Slack's retries, all claim the same file id), one image after another so an upload of
 * many images never runs into the uploader's concurrent-jobs cap. Failures are logged, not posted: nobody
 * asked, so nobody should get an error message.
 */
async function autoAltText(
  rt: SlackRuntime,
  files: { seen: SeenKeys },
  where: { channel: string; ts: string; threadTs?: string; user: string; images: SlackFile[] },
): Promise<void> {
  if (!rt.commands.some((c) => c.name === ALT_TEXT_COMMAND)) return;
  if (!(await altTextOn(rt, where.channel, where.user))) return;
  const messageLink = permalink(rt.workspaceUrl, where);
  const fresh = where.images.filter((file) => files.seen.firstTime(`alt:${file.id ?? file.url_private}`));
  void (async () => {
    for (const file of fresh) {
      await rt.run(
        { channel: where.channel, threadTs: where.ts, user: where.user },
        async () => ({ command: ALT_TEXT_COMMAND, images: [imageRef(file, rt.botToken)], messageLink }),
        { quietErrors: true },
      );
    }
  })();
}

/** How this workspace spells a command: its own slash command, else the umbrella's `/iris <name>`. */
function slashFor(rt: SlackRuntime, name: string): string {
  const routes = slashRoutes(rt.commands, rt.slack.commands);
  const own = routes.find((r) => r.command?.name === name);
  if (own) return own.slash;
  const umbrella = routes.find((r) => !r.command);
  return umbrella ? `${umbrella.slash} ${name}` : `/${name}`;
}

/** Words for iris that are not a question about an image: a pointer to /help, shown to the writer only. */
async function pointToHelp(rt: SlackRuntime, where: { channel: string; user: string; threadTs?: string }) {
  if (!rt.commands.some((c) => c.name === ASK_COMMAND)) return;
  await rt.client.chat.postEphemeral({
    channel: where.channel,
    user: where.user,
    text: helpPointer({ ask: slashFor(rt, ASK_COMMAND), help: slashFor(rt, 'help') }),
    ...(where.threadTs && { thread_ts: where.threadTs }),
  });
}

async function onMessage(rt: SlackRuntime, files: { seen: SeenKeys }, event: MessageEvent): Promise<void> {
  if (event.subtype === 'message_deleted') {
    if (rt.hooks) await messageDeleted(rt.hooks, rt.workspaceUrl, event);
    return;
  }
  if (!PERSON_SUBTYPES.has(event.subtype) || event.bot_id || !event.user || event.user === rt.botUserId)
    return;
  if (!event.ts) return;
  const user = event.user;
  const text = event.text ?? '';
  const mentioned = text.includes(`<@${rt.botUserId}`);
  const direct = event.channel_type === 'im';
  const question = stripMention(text, rt.botUserId);
  const images = messageImages(event);
  const inThread = Boolean(event.thread_ts && event.thread_ts !== event.ts);
  const threadTs = inThread ? event.thread_ts : undefined;

  let threadImages: FoundImage[] = [];
  let irisSpoke = false;
  if (threadTs) {
    const replies = (
      await rt.client.conversations.replies({ channel: event.channel, ts: threadTs, limit: 200 })
    ).messages as SlackMessageLike[] | undefined;
    irisSpoke = (replies ?? []).some((m) => m.user === rt.botUserId);
    // People talk to each other in threads: a message there is for iris only when it names iris, iris
    // already answers in the thread, or it asks something.
    if (!(mentioned || direct || irisSpoke || /\?\s*$/.test(question))) return;
    // The thread decides: an image in it (this message's, or the latest before) is what a question is about.
    threadImages = images.length
      ? images.slice(0, 1).map((file) => ({ file, message: event }))
      : await latestImages(rt.client, { channel: event.channel, threadTs, count: 1 });
  }
  const plan = planChat({
    text: question,
    ownImages: images.length,
    repliedImages: threadImages.length,
    mentioned,
    direct,
    followsIris: irisSpoke,
  });
  // A thread is its own conversation; a message in the channel starts one under itself.
  const target = { channel: event.channel, threadTs: threadTs ?? event.ts, user };
  const linkOf = (m: SlackMessageLike) =>
    m.ts
      ? permalink(rt.workspaceUrl, { channel: event.channel, ts: m.ts, threadTs: m.thread_ts })
      : undefined;
  const run = (command: string, found: () => Promise<FoundImage[]>, args: Record<string, unknown> = {}) =>
    rt.run(target, async () => {
      const used = await found();
      // The link is the message that carried the image (this one, or an earlier one).
      return {
        command,
        args,
        images: used.map((f) => imageRef(f.file, rt.botToken)),
        messageLink: linkOf(used[0]?.message ?? event),
      };
    });

  switch (plan.kind) {
    case 'ask': {
      const about = {
        own: async () => images.slice(0, 1).map((file) => ({ file, message: event })),
        replied: async () => threadImages,
        // The image a question without one is about: the channel's latest, as for the `/ask` slash
        // command (Slack files need the bot token, so an earlier turn's link cannot be fetched again).
        conversation: () => latestImages(rt.client, { channel: event.channel, count: 1 }),
      }[plan.about];
      void run(ASK_COMMAND, about, { question });
      return;
    }
    case 'help':
      await pointToHelp(rt, { channel: event.channel, user, threadTs });
      return;
    case 'caption': {
      const described =
        plan.about === 'own' ? images.map((file) => ({ file, message: event })) : threadImages;
      void run(ALT_TEXT_COMMAND, async () => described);
      return;
    }
    case 'alttext':
      // Alt text is for uploads to the channel; a thread is a conversation.
      if (!threadTs) await autoAltText(rt, files, { channel: event.channel, ts: event.ts, user, images });
      return;
    default:
      return;
  }
}

interface FileShared {
  file_id: string;
  user_id: string;
  channel_id: string;
}

/** file_shared carries only ids: files.info gives the file and the message it was shared in. */
async function onFileShared(rt: SlackRuntime, files: { seen: SeenKeys }, event: FileShared): Promise<void> {
  if (event.user_id === rt.botUserId || !(await altTextOn(rt, event.channel_id, event.user_id))) return;
  const info = await rt.client.files.info({ file: event.file_id });
  const file = info.file as
    | (SlackFile & { shares?: Record<string, Record<string, { ts: string; thread_ts?: string }[]>> })
    | undefined;
  if (!file || messageImages({ files: [file] }).length === 0) return;
  const share = file.shares?.public?.[event.channel_id]?.[0] ?? file.shares?.private?.[event.channel_id]?.[0];
  if (!share) return;
  await autoAltText(rt, files, {
    channel: event.channel_id,
    ts: share.ts,
    threadTs: share.thread_ts,
    user: event.user_id,
    images: [file],
  });
}

/**
 * Message and file events: thread questions, mentions with images, auto alt text, deletions (to the
 * core's hook). Bot messages are ignored. Slack's retries are dropped by event_id before this (adapter.ts).
 */
export function registerInbound(app: App, rt: SlackRuntime, files: { seen: SeenKeys }): void {
  app.event('message', async ({ event }) => {
    await onMessage(rt, files, event as unknown as MessageEvent).catch((err: unknown) =>
      rt.log.warn({ err }, 'slack: message event failed'),
    );
  });
  app.event('file_shared', async ({ event }) => {
    await onFileShared(rt, files, event as unknown as FileShared).catch((err: unknown) =>
      rt.log.warn({ err }, 'slack: file_shared event failed'),
    );
  });
}
