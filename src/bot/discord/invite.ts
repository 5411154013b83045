import { PermissionFlagsBits, REST, Routes } from 'discord.js';
import { UserError } from '../../errors.js';
import type { DiscordSettings } from './translate.js';

/**
 * What iris needs in a server: see channels, post and reply (also in threads), attach images, read the
 * message a question replies to. `applications.commands` lets it register slash commands.
 */
export const INVITE_PERMISSIONS =
  PermissionFlagsBits.ViewChannel |
  PermissionFlagsBits.SendMessages |
  PermissionFlagsBits.SendMessagesInThreads |
  PermissionFlagsBits.AttachFiles |
  PermissionFlagsBits.ReadMessageHistory;

export const INVITE_SCOPES = ['bot', 'applications.commands'] as const;

export function inviteUrl(applicationId: string): string {
  const q = new URLSearchParams({
    client_id: applicationId,
    scope: INVITE_SCOPES.join(' '),
    permissions: INVITE_PERMISSIONS.toString(),
    integration_type: '0',
  });
  return `https://discord.com/oauth2/authorize?${q}`;
}

/** The application id from config, else asked of Discord with the bot token (GET /applications/@me). */
export async function applicationIdOf(settings: DiscordSettings): Promise<string> {
  if (settings.applicationId) return settings.applicationId;
  if (!settings.token) {
    throw new UserError(
      'bad_option',
      'iris needs the application id: set platforms.discord.applicationId, or DISCORD_TOKEN to look it up.',
    );
  }
  const rest = new REST({ api: settings.apiUrl }).setToken(settings.token);
  try {
    const app = (await rest.get(Routes.currentApplication())) as { id: string };
    return app.id;
  } catch (cause) {
    const status = (cause as { status?: number }).status;
    throw new UserError(
      'bad_option',
      status === 401
        ? 'Discord rejected the token (DISCORD_TOKEN): check it in the Developer Portal.'
        : `Could not ask Discord for the application id (${status ? `HTTP ${status}` : 'no answer'}); set platforms.discord.applicationId.`,
      { cause },
    );
  }
}
