import {
  ApplicationCommandOptionType,
  type Attachment,
  type ButtonInteraction,
  type Channel,
  type ChatInputCommandInteraction,
  type Collection,
  type Message,
  PermissionFlagsBits,
  type PermissionsBitField,
} from 'discord.js';
import type { Config } from '../../config.js';
import type { AnyCommand } from '../../contracts/command.js';
import type { ConversationKey, ImageRef, UserRef } from '../../contracts/request.js';

/** Discord ⇄ BotRequest pieces: conversation keys, users, images, options, policies. */

export type DiscordSettings = Config['platforms']['discord'];

export const PLATFORM = 'discord';

/** `discord:<channel>` or, in a thread, `discord:<parent channel>:<thread>`. */
export function conversationOf(channelId: string, channel: Channel | null | undefined): ConversationKey {
  if (channel?.isThread() && channel.parentId) return `${PLATFORM}:${channel.parentId}:${channel.id}`;
  return `${PLATFORM}:${channelId}`;
}

/** The channel a setting applies to: a thread's parent, else the channel itself. */
export function settingsChannelOf(channelId: string, channel: Channel | null | undefined): string {
  return channel?.isThread() && channel.parentId ? channel.parentId : channelId;
}

export function userOf(
  user: { id: string; username: string },
  permissions: Readonly<PermissionsBitField> | null | undefined,
  settings: DiscordSettings,
): UserRef {
  const isAdmin =
    settings.admins.includes(user.id) || Boolean(permissions?.has(PermissionFlagsBits.ManageGuild));
  return { id: user.id, name: user.username, isAdmin };
}

const IMAGE_NAME = /\.(png|jpe?g|webp|gif)$/i;

export function isImageAttachment(a: Attachment): boolean {
  return a.contentType ? a.contentType.startsWith('image/') : IMAGE_NAME.test(a.name);
}

/** The announced size travels with the ref so media checks it before downloading. */
/** An attachment as an ImageRef; `postedBy`: the author of the message that carries it, when known. */
export function imageRef(a: Attachment, postedBy?: string): ImageRef {
  return {
    name: a.name,
    url: a.url,
    size: a.size,
    ...(a.contentType ? { contentType: a.contentType } : {}),
    ...(postedBy ? { postedBy } : {}),
  };
}

export function imagesOf(attachments: Collection<string, Attachment>): Attachment[] {
  return [...attachments.values()].filter(isImageAttachment);
}

/** Slash-command options → args, and attachment options → images in the order the command declares them. */
export function slashArgs(
  interaction: ChatInputCommandInteraction,
  command: AnyCommand | undefined,
): { args: Record<string, unknown>; images: ImageRef[] } {
  const args: Record<string, unknown> = {};
  const attached: { name: string; ref: ImageRef }[] = [];
  for (const opt of interaction.options.data) {
    if (opt.type === ApplicationCommandOptionType.Attachment && opt.attachment) {
      attached.push({ name: opt.name, ref: imageRef(opt.attachment) });
    } else if (opt.value !== undefined && opt.value !== null) {
      args[opt.name] = opt.value;
    }
  }
  const order = command?.options.map((o) => o.name) ?? [];
  attached.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  return { args, images: attached.map((a) => a.ref) };
}

/** Why a command may not run here, or undefined when it may (DM policy, the server's allow/deny lists). */
export function refusal(
  settings: DiscordSettings,
  guildId: string | null,
  command: string,
): string | undefined {
  if (!guildId) return settings.dms === 'deny' ? "iris doesn't answer in direct messages here." : undefined;
  const lists = settings.guilds[guildId];
  const off = (lists?.allow && !lists.allow.includes(command)) || lists?.deny?.includes(command);
  return off ? `/${command} is turned off on this server.` : undefined;
}

/** `<command>:<action>:<payload>` — how every iris button id is built (see src/commands/*-buttons.ts). */
export const BUTTON_ID = /^([a-z0-9_-]{1,32}):([a-z0-9_-]{1,32}):(.*)$/s;

/** Button actions anyone may press (they only show things, ephemerally). */
const PUBLIC_ACTIONS = new Set(['settings', 'info']);

/** Who asked for the message a button sits on: the interaction's user, else the user it replied to or mentioned. */
export function requesterOf(message: Message): string | undefined {
  return (
    message.interactionMetadata?.user.id ??
    message.mentions.repliedUser?.id ??
    message.mentions.users.first()?.id
  );
}

/** Undefined when this user may press the button, else the note shown to them. */
export function pressRefusal(
  interaction: ButtonInteraction,
  user: UserRef,
  action: string,
): string | undefined {
  if (PUBLIC_ACTIONS.has(action) || user.isAdmin) return undefined;
  const requester = requesterOf(interaction.message);
  if (!requester || requester === user.id) return undefined;
  return `Only <@${requester}> (or a server admin) can use these buttons. Run the command yourself to get your own.`;
}
