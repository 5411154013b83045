import { altTextConfigured } from '../core/alttext-channels.js';
import type { SettingsStore } from '../core/settings.js';
import type { ConversationKey } from '../core/types.js';
import { UserError } from '../errors.js';
import { defineCommand } from './types.js';

/**
 * `/alttext on|off`: automatic alt text for uploaded images. Per user it is an opt-out (your uploads are
 * left alone everywhere on that platform); with `scope: channel` an admin turns it on or off for the
 * channel. Adapters ask `altTextWanted()` before describing an upload.
 */

const userKey = (platform: string, userId: string) => `alttext:user:${platform}:${userId}`;
const channelKey = (channel: string) => `alttext:channel:${channel}`;

/** Every settings key that belongs to one user (what /forget deletes). */
export function userSettingKeys(platform: string, userId: string): string[] {
  return [userKey(platform, userId)];
}

/** `platform:channel[:thread]` → `platform:channel`: a channel setting covers its threads. */
export function channelOf(conversation: ConversationKey): string {
  return conversation.split(':').slice(0, 2).join(':');
}

/** Whether automatic alt text is on in a channel: a stored admin choice wins over `configured` (config's lists). */
async function channelOn(
  settings: SettingsStore,
  conversation: ConversationKey,
  configured: boolean,
): Promise<boolean> {
  const stored = await settings.get(channelKey(channelOf(conversation)));
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
  if (!(await channelOn(settings, q.conversation, q.configured))) return false;
  return (await settings.get(userKey(q.platform, q.userId))) !== 'off';
}

export interface AltTextInput {
  mode: 'on' | 'off';
  scope: 'me' | 'channel';
}

export const alttextCommand = defineCommand<AltTextInput>({
  name: 'alttext',
  description: 'Automatic alt text for uploaded images: on or off for you, or (admins) for this channel.',
  options: [
    {
      name: 'mode',
      type: 'string',
      description: 'on or off',
      required: true,
      choices: ['on', 'off'],
    },
    {
      name: 'scope',
      type: 'string',
      description: 'me (your uploads, default) or channel (admins: every upload here)',
      choices: ['me', 'channel'],
    },
  ],
  ephemeral: true,
  async parse({ args, request }) {
    const scope = args.scope === 'channel' ? 'channel' : 'me';
    if (scope === 'channel' && !request.user.isAdmin) {
      throw new UserError('forbidden', 'Only server admins can turn alt text on or off for a channel.');
    }
    return { mode: args.mode === 'off' ? 'off' : 'on', scope };
  },
  async run({ mode, scope }, ctx) {
    const settings = ctx.settings;
    if (!settings) throw new UserError('not_available', 'Alt text settings are not available here.');
    const req = ctx.request;
    if (scope === 'channel') {
      await settings.set(channelKey(channelOf(req.conversation)), mode);
      return {
        text:
          mode === 'on'
            ? 'Automatic alt text is on in this channel: images uploaded here without a description get one.'
            : 'Automatic alt text is off in this channel.',
        ephemeral: true,
      };
    }
    await settings.set(userKey(req.platform, req.user.id), mode === 'off' ? 'off' : undefined);
    if (mode === 'off') {
      return {
        text: 'iris will no longer add alt text to your uploads. `/alttext on` turns it back on.',
        ephemeral: true,
      };
    }
    // Opting in changes nothing where the channel is off: say so, and who can change that.
    const on = await channelOn(settings, req.conversation, altTextConfigured(ctx.config, req.conversation));
    const here = on
      ? ''
      : req.user.isAdmin
        ? ' It is off in this channel: `/alttext mode:on scope:channel` turns it on for every upload here.'
        : ' It is off in this channel; a server admin can turn it on with `/alttext mode:on scope:channel`.';
    return {
      text: `iris will add alt text to your uploads in channels where it is on.${here}`,
      ephemeral: true,
    };
  },
});
