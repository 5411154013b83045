import type { Config } from '../config.js';
import type { ConversationKey } from '../contracts/request.js';
import type { SettingsStore } from './settings.js';

/**
 * Where automatic alt text is on, and who opted out: config's channel lists, an admin's `/alttext
 * scope:channel` choice and a user's `/alttext off`, all kept in the settings store under the keys below.
 * The chat planner (chat.ts) applies them; `/alttext` writes them.
 */

export const altTextUserKey = (platform: string, userId: string) => `alttext:user:${platform}:${userId}`;
export const altTextChannelKey = (channel: string) => `alttext:channel:${channel}`;

/** Every settings key that belongs to one user (what /forget deletes). */
export function userSettingKeys(platform: string, userId: string): string[] {
  return [altTextUserKey(platform, userId)];
}

/** `platform:channel[:thread]` → `platform:channel`: a channel setting covers its threads. */
export function channelOf(conversation: ConversationKey): string {
  return conversation.split(':').slice(0, 2).join(':');
}

/**
 * Whether config turns automatic alt text on for a conversation's channel before any admin's choice: the
 * channel lists of Discord (`altTextChannels`) and Slack (`altText.channels`); the playground is always on.
 * (An admin's `/alttext on|off scope:channel`, stored in settings, wins over this.)
 */
export function altTextConfigured(config: Config, conversation: ConversationKey): boolean {
  const [platform = '', channel = ''] = conversation.split(':');
  if (platform === 'discord') return config.platforms.discord.altTextChannels.includes(channel);
  if (platform === 'slack') return config.platforms.slack.altText.channels.includes(channel);
  return platform === 'playground';
}

/** Whether automatic alt text is on in a channel: a stored admin choice wins over `configured` (config's lists). */
export async function altTextChannelOn(
  settings: SettingsStore,
  conversation: ConversationKey,
  configured: boolean,
): Promise<boolean> {
  const stored = await settings.get(altTextChannelKey(channelOf(conversation)));
  return stored === undefined ? configured : stored === 'on';
}

/**
 * Whether an upload by `userId` in `conversation` gets automatic alt text: the channel is on (a stored
 * admin choice wins over `configured`, the channels config lists) and the user has not opted out.
 */
export async function altTextWanted(
  settings: SettingsStore,
  q: { platform: string; userId: string; conversation: ConversationKey; configured: boolean },
): Promise<boolean> {
  if (!(await altTextChannelOn(settings, q.conversation, q.configured))) return false;
  return (await settings.get(altTextUserKey(q.platform, q.userId))) !== 'off';
}
