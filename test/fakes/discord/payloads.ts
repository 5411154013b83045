/**
 * Wire-format objects (Discord API v10) the fake sends: users, guilds, channels, members, messages and
 * interactions, shaped as the real gateway sends them (discord.js drops events missing required fields).
 */

const DISCORD_EPOCH = 1420070400000n;

/** Snowflakes that encode the current time, so discord.js's createdTimestamp is meaningful. */
export class Snowflakes {
  #increment = 0n;
  next(at = Date.now()): string {
    this.#increment = (this.#increment + 1n) & 0xfffn;
    return (((BigInt(at) - DISCORD_EPOCH) << 22n) | this.#increment).toString();
  }
}

export interface FakeUser {
  id: string;
  username: string;
  bot?: boolean;
}

export function userPayload(u: FakeUser) {
  return {
    id: u.id,
    username: u.username,
    global_name: u.username,
    discriminator: '0',
    avatar: null,
    bot: u.bot ?? false,
    public_flags: 0,
  };
}

/** All permissions (admin) and a member's everyday ones, as decimal strings like the API sends. */
export const PERMISSIONS = {
  all: '2251799813685247',
  // VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY | USE_APPLICATION_COMMANDS
  member: String((1n << 10n) | (1n << 11n) | (1n << 14n) | (1n << 15n) | (1n << 16n) | (1n << 31n)),
};

export function memberPayload(u: FakeUser, permissions = PERMISSIONS.member) {
  return {
    user: userPayload(u),
    roles: [],
    joined_at: new Date(0).toISOString(),
    deaf: false,
    mute: false,
    flags: 0,
    permissions,
  };
}

export interface FakeChannel {
  id: string;
  name: string;
  guildId?: string;
  /** 0 text, 1 DM, 11 public thread */
  type?: number;
  parentId?: string;
}

export function channelPayload(c: FakeChannel) {
  return {
    id: c.id,
    type: c.type ?? 0,
    name: c.name,
    ...(c.guildId ? { guild_id: c.guildId, position: 0, permission_overwrites: [], nsfw: false } : {}),
    ...(c.parentId ? { parent_id: c.parentId } : {}),
    ...(c.type === 11
      ? {
          thread_metadata: { archived: false, auto_archive_duration: 1440, locked: false },
          owner_id: '1',
        }
      : {}),
    last_message_id: null,
  };
}

export function guildPayload(g: { id: string; name: string; channels: FakeChannel[]; bot: FakeUser }) {
  return {
    id: g.id,
    name: g.name,
    icon: null,
    owner_id: '1',
    afk_channel_id: null,
    afk_timeout: 300,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    roles: [
      {
        id: g.id,
        name: '@everyone',
        permissions: PERMISSIONS.member,
        position: 0,
        color: 0,
        hoist: false,
        managed: false,
        mentionable: false,
        flags: 0,
      },
    ],
    emojis: [],
    stickers: [],
    features: [],
    mfa_level: 0,
    system_channel_id: null,
    system_channel_flags: 0,
    rules_channel_id: null,
    vanity_url_code: null,
    description: null,
    banner: null,
    premium_tier: 0,
    preferred_locale: 'en-US',
    public_updates_channel_id: null,
    nsfw_level: 0,
    premium_progress_bar_enabled: false,
    joined_at: new Date(0).toISOString(),
    large: false,
    unavailable: false,
    member_count: 2,
    voice_states: [],
    members: [memberPayload(g.bot, PERMISSIONS.member)],
    channels: g.channels.filter((c) => c.type !== 11).map(channelPayload),
    threads: g.channels.filter((c) => c.type === 11).map(channelPayload),
    presences: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
  };
}

export interface FakeAttachment {
  id: string;
  filename: string;
  size: number;
  url: string;
  proxy_url: string;
  content_type?: string;
  description?: string;
  width?: number;
  height?: number;
}

export interface MessageFields {
  id: string;
  channelId: string;
  guildId?: string;
  author: FakeUser;
  content?: string;
  attachments?: FakeAttachment[];
  mentions?: FakeUser[];
  /** The message this one replies to (its full payload, as the gateway embeds it). */
  referenced?: Record<string, unknown>;
  components?: unknown[];
  flags?: number;
  interactionMetadata?: { id: string; type: number; user: FakeUser };
  webhookId?: string;
}

export function messagePayload(m: MessageFields): Record<string, unknown> {
  return {
    id: m.id,
    channel_id: m.channelId,
    ...(m.guildId ? { guild_id: m.guildId } : {}),
    author: userPayload(m.author),
    content: m.content ?? '',
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: (m.mentions ?? []).map(userPayload),
    mention_roles: [],
    attachments: m.attachments ?? [],
    embeds: [],
    pinned: false,
    type: m.referenced ? 19 : m.interactionMetadata ? 20 : 0,
    flags: m.flags ?? 0,
    components: m.components ?? [],
    ...(m.webhookId ? { webhook_id: m.webhookId } : {}),
    ...(m.referenced
      ? {
          message_reference: {
            type: 0,
            message_id: m.referenced.id,
            channel_id: m.channelId,
            ...(m.guildId ? { guild_id: m.guildId } : {}),
          },
          referenced_message: m.referenced,
        }
      : {}),
    ...(m.interactionMetadata
      ? {
          interaction_metadata: {
            id: m.interactionMetadata.id,
            type: m.interactionMetadata.type,
            user: userPayload(m.interactionMetadata.user),
            authorizing_integration_owners: {},
          },
        }
      : {}),
  };
}
