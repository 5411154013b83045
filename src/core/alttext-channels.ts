import type { Config } from '../config.js';
import type { ConversationKey } from '../contracts/request.js';

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
