import { randomBytes } from 'node:crypto';
import {
  channelPayload,
  type FakeAttachment,
  type FakeUser,
  memberPayload,
  PERMISSIONS,
  type Snowflakes,
  userPayload,
} from './payloads.js';

type OptionValue = string | number | boolean | FakeAttachment;

interface Common {
  user: FakeUser;
  /** Default: the first guild channel. */
  channelId?: string;
  /** In a DM with the bot instead of a guild channel. */
  dm?: boolean;
  /** The member has Administrator. */
  admin?: boolean;
  /** The member's permissions (decimal string); wins over `admin`. */
  permissions?: string;
  /** The bot's permissions in the channel (decimal string). */
  appPermissions?: string;
  attachmentSizeLimit?: number;
}

export type InteractionFields = Common &
  (
    | { kind: 'command'; name: string; options?: Record<string, OptionValue> }
    | { kind: 'menu'; name: string; target: Record<string, unknown> }
    | { kind: 'button'; customId: string; message: Record<string, unknown> }
  );

interface Host {
  ids: Snowflakes;
  appId: string;
  guildId: string;
  channels: { id: string; name: string; guildId?: string; type?: number; parentId?: string }[];
}

const isAttachment = (v: OptionValue): v is FakeAttachment => typeof v === 'object' && 'url' in v;

function optionType(v: OptionValue): number {
  if (isAttachment(v)) return 11;
  if (typeof v === 'boolean') return 5;
  if (typeof v === 'number') return Number.isInteger(v) ? 4 : 10;
  return 3;
}

/** An INTERACTION_CREATE payload with every field discord.js needs to build the interaction. */
export function buildInteraction(host: Host, f: InteractionFields): Record<string, unknown> {
  const id = host.ids.next();
  const dmChannelId = f.dm ? host.ids.next() : undefined;
  const channel = f.dm
    ? { id: dmChannelId as string, name: '', type: 1 }
    : (host.channels.find((c) => c.id === f.channelId) ?? host.channels[0]);
  if (!channel) throw new Error('fake discord: no channel');
  const base: Record<string, unknown> = {
    id,
    application_id: host.appId,
    token: `tok-${randomBytes(12).toString('hex')}`,
    version: 1,
    channel_id: channel.id,
    channel: f.dm
      ? { id: channel.id, type: 1, last_message_id: null, flags: 0, recipients: [userPayload(f.user)] }
      : channelPayload(channel),
    app_permissions: f.appPermissions ?? PERMISSIONS.member,
    locale: 'en-US',
    entitlements: [],
    authorizing_integration_owners: f.dm ? { '1': f.user.id } : { '0': host.guildId },
    context: f.dm ? 1 : 0,
    attachment_size_limit: f.attachmentSizeLimit ?? 10 * 1024 * 1024,
    ...(f.dm
      ? { user: userPayload(f.user) }
      : {
          guild_id: host.guildId,
          guild_locale: 'en-US',
          guild: { id: host.guildId, locale: 'en-US', features: [] },
          member: memberPayload(f.user, f.permissions ?? (f.admin ? PERMISSIONS.all : PERMISSIONS.member)),
        }),
  };
  if (f.kind === 'command') {
    const options = Object.entries(f.options ?? {});
    const attachments = Object.fromEntries(options.flatMap(([, v]) => (isAttachment(v) ? [[v.id, v]] : [])));
    return {
      ...base,
      type: 2,
      data: {
        id: host.ids.next(),
        name: f.name,
        type: 1,
        options: options.map(([name, v]) => ({
          name,
          type: optionType(v),
          value: isAttachment(v) ? v.id : v,
        })),
        ...(Object.keys(attachments).length ? { resolved: { attachments } } : {}),
      },
    };
  }
  if (f.kind === 'menu') {
    const targetId = f.target.id as string;
    return {
      ...base,
      type: 2,
      data: {
        id: host.ids.next(),
        name: f.name,
        type: 3,
        target_id: targetId,
        resolved: { messages: { [targetId]: f.target } },
      },
    };
  }
  return {
    ...base,
    type: 3,
    data: { custom_id: f.customId, component_type: 2 },
    message: f.message,
  };
}
