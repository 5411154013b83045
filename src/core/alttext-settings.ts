/** Where the alt-text opt-in/opt-out lives in the settings store, and what adapters ask before describing an upload. */
import type { ConversationKey } from '../contracts/request.js';
import type { SettingsStore } from './settings.js';

/** The settings key of one user's alt-text opt-out. */
export const altTextUserKey = (platform: string, userId: string) => `alttext:user:${platform}:${userId}`;
/** The settings key of a channel's alt-text choice. */
export const altTextChannelKey = (channel: string) => `alttext:channel:${channel}`;

/** Every settings key that belongs to one user (what /forget deletes). */
export function userSettingKeys(platform: string, userId: string): string[] {
  return [altTextUserKey(platform, userId)];
}

/** `platform:channel[:thread]` → `platform:channel`: a channel setting covers its threads. */
export function channelOf(conversation: ConversationKey): string {
  return conversation.split(':').slice(0, 2).join(':');
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
