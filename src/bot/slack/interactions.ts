import type { App, BlockButtonAction, MessageShortcut, SlashCommand } from '@slack/bolt';
import { impliedImageCount } from '../../core/context-images.js';
import { stripUnsafeChars } from '../../core/options.js';
import { truncate } from '../../core/text.js';
import { UserError } from '../../errors.js';
import { parseSlashText, resolveUmbrella, type SlashRoute, slashRoutes } from './commands.js';
import { BUTTON_ACTION_PREFIX, buttonCommand } from './format.js';
import { describeUsed, imageRef, latestImages, messageImages, type SlackMessageLike } from './images.js';
import { permalink } from './links.js';
import type { SlackRuntime } from './runtime.js';

/** Message shortcuts (the "…" menu on a message): each runs a command on the message's image. */
export const MESSAGE_SHORTCUTS = [
  {
    callbackId: 'iris_describe',
    name: 'Describe image',
    description: 'Describe this image',
    command: 'caption',
  },
  {
    callbackId: 'iris_alt_text',
    name: 'Alt text',
    description: 'Write alt text for this image',
    command: 'caption',
  },
] as const;

/** Web API errors that mean "iris cannot see this channel". */
function isNotInChannel(err: unknown): boolean {
  const code = (err as { data?: { error?: string } })?.data?.error;
  return code === 'not_in_channel' || code === 'channel_not_found';
}

async function slashJob(rt: SlackRuntime, route: SlashRoute, cmd: SlashCommand) {
  const { command, text } = route.command
    ? { command: route.command, text: cmd.text }
    : resolveUmbrella(rt.commands, cmd.text);
  const args = parseSlashText(command, text);
  const header = `<@${cmd.user_id}> \`${truncate(stripUnsafeChars(`${cmd.command} ${cmd.text}`).trim(), 200).replace(/`/g, "'")}\``;
  // Slash commands carry no files: the channel's latest images stand in for the command's images.
  const wanted = impliedImageCount(command, args);
  if (wanted === 0) return { command: command.name, args, header };
  let found: Awaited<ReturnType<typeof latestImages>>;
  try {
    found = await latestImages(rt.client, { channel: cmd.channel_id, count: wanted });
  } catch (err) {
    if (!isNotInChannel(err)) throw err;
    throw new UserError(
      'bad_image',
      `iris cannot read this channel, so it cannot find an image here. Invite it with \`/invite @iris\` first.`,
    );
  }
  const required = command.options.filter((o) => o.type === 'image' && o.required).length;
  if (found.length < required) {
    const what = required === 1 ? 'image' : `${required} images`;
    throw new UserError(
      'bad_image',
      `${cmd.command} uses the latest ${what} in this channel, and there ${found.length === 1 ? 'is only one' : 'is none'} in the recent messages. Upload one, then run ${cmd.command} again.`,
    );
  }
  // Images from one message: its link (history is already in hand, so it costs nothing).
  const from = found[0]?.message;
  const oneMessage = from?.ts && found.every((f) => f.message.ts === from.ts);
  return {
    command: command.name,
    args,
    header,
    images: found.map((f) => imageRef(f.file, rt.botToken)),
    note: found.length ? describeUsed(found) : undefined,
    messageLink: oneMessage
      ? permalink(rt.workspaceUrl, {
          channel: cmd.channel_id,
          ts: from.ts as string,
          threadTs: from.thread_ts,
        })
      : undefined,
  };
}

/** Slash commands, button presses and message shortcuts: each is acked at once, then runs in the background. */
export function registerInteractions(app: App, rt: SlackRuntime): void {
  for (const route of slashRoutes(rt.commands, rt.slack.commands)) {
    app.command(route.slash, async ({ command: cmd, ack }) => {
      await ack();
      rt.run({ channel: cmd.channel_id, user: cmd.user_id }, () => slashJob(rt, route, cmd));
    });
  }

  // Matched by prefix, not by a registry of sent messages: a button from before a restart still works.
  app.action<BlockButtonAction>(new RegExp(`^${BUTTON_ACTION_PREFIX}`), async ({ action, body, ack }) => {
    await ack();
    const channel = body.channel?.id ?? body.container?.channel_id;
    if (!channel) return;
    const message = body.message as SlackMessageLike | undefined;
    const threadTs = message?.thread_ts && message.thread_ts !== message.ts ? message.thread_ts : undefined;
    const id = action.value ?? '';
    rt.run({ channel, threadTs, user: body.user.id }, async () => ({
      command: buttonCommand(id),
      args: { button: id },
      header: `<@${body.user.id}> pressed *${truncate(action.text.text, 40)}*`,
    }));
  });

  for (const shortcut of MESSAGE_SHORTCUTS) {
    app.shortcut<MessageShortcut>(shortcut.callbackId, async ({ shortcut: s, ack }) => {
      await ack();
      const message = s.message as SlackMessageLike;
      const threadTs = message.thread_ts ?? message.ts;
      rt.run({ channel: s.channel.id, threadTs, user: s.user.id }, async () => {
        const files = messageImages(message);
        if (files.length === 0) {
          throw new UserError('bad_image', `That message has no image for "${shortcut.name}".`);
        }
        const messageLink = message.ts
          ? permalink(rt.workspaceUrl, { channel: s.channel.id, ts: message.ts, threadTs: message.thread_ts })
          : undefined;
        return {
          command: shortcut.command,
          images: files.slice(0, 1).map((f) => imageRef(f, rt.botToken)),
          messageLink,
        };
      });
    });
  }
}
