import type { AnyCommand } from '../../contracts/command.js';
import { imagesWanted } from '../../core/context-images.js';
import { truncate } from '../../core/text.js';
import { type SlackCommandsConfig, slashRoutes } from './commands.js';
import { MESSAGE_SHORTCUTS } from './interactions.js';

/**
 * Bot scopes, each for something iris does: commands (slash commands), chat:write (answers, progress
 * edits), files:write (files.uploadV2), files:read (download shared images, files.info),
 * *:history (message events, and the latest image for slash commands), users:read (is a user an admin,
 * for /alttext scope:channel).
 */
export const BOT_SCOPES = [
  'commands',
  'chat:write',
  'files:read',
  'files:write',
  'channels:history',
  'groups:history',
  'im:history',
  'mpim:history',
  'users:read',
] as const;

/** Message events carry uploads, thread questions and mentions (app_mention would duplicate them). */
export const BOT_EVENTS = [
  'message.channels',
  'message.groups',
  'message.im',
  'message.mpim',
  'file_shared',
] as const;

/** "<prompt> seed:… steps:…" — how a slash command's text maps onto the command's options. */
export function usageHint(command: AnyCommand): string {
  const values = command.options.filter((o) => o.type !== 'image' && !o.hidden);
  const strings = values.filter((o) => o.type === 'string');
  const main = strings.find((o) => o.required) ?? strings[0];
  const parts = values.map((o) => {
    if (o !== main) return `${o.name}:${o.choices ? o.choices.join('|') : '…'}`;
    const text = o.choices ? o.choices.join('|') : `<${o.name}>`;
    return o.required ? text : `[${text}]`;
  });
  if (imagesWanted(command) > 0) parts.push('(uses the latest image here)');
  return parts.join(' ');
}

export interface ManifestOptions {
  commands: readonly AnyCommand[];
  slashConfig: SlackCommandsConfig;
  /** Public base URL for HTTP mode (request URLs end in /slack/events); absent: Socket Mode. */
  url?: string;
  name?: string;
}

/** A Slack app manifest (paste it at api.slack.com/apps → Create New App → From a manifest). */
export function slackManifest(options: ManifestOptions): Record<string, unknown> {
  const name = options.name ?? 'iris';
  const requestUrl = options.url ? `${options.url.replace(/\/+$/, '')}/slack/events` : undefined;
  const withUrl = requestUrl ? { url: requestUrl } : {};
  const slashCommands = slashRoutes(options.commands, options.slashConfig).map((route) => ({
    command: route.slash,
    description: truncate(route.command?.description ?? `Any ${name} command: ${route.slash} help`, 100),
    usage_hint: truncate(route.command ? usageHint(route.command) : '<command> [options]', 100) || undefined,
    should_escape: false,
    ...withUrl,
  }));
  return {
    _metadata: { major_version: 1, minor_version: 1 },
    display_information: {
      name,
      description: 'Describes, tags, reads and draws images; answers questions about them.',
      background_color: '#2c2d30',
    },
    features: {
      bot_user: { display_name: name, always_online: true },
      slash_commands: slashCommands,
      shortcuts: MESSAGE_SHORTCUTS.map((s) => ({
        name: s.name,
        type: 'message',
        callback_id: s.callbackId,
        description: s.description,
      })),
    },
    oauth_config: { scopes: { bot: [...BOT_SCOPES] } },
    settings: {
      event_subscriptions: {
        ...(requestUrl ? { request_url: requestUrl } : {}),
        bot_events: [...BOT_EVENTS],
      },
      interactivity: { is_enabled: true, ...(requestUrl ? { request_url: requestUrl } : {}) },
      org_deploy_enabled: false,
      socket_mode_enabled: !requestUrl,
      token_rotation_enabled: false,
    },
  };
}
