import { defineCommand } from '../contracts/command.js';
import {
  altTextChannelKey,
  altTextChannelOn,
  altTextConfigured,
  altTextUserKey,
  channelOf,
} from '../core/alttext-channels.js';
import { UserError } from '../errors.js';

/**
 * `/alttext on|off`: automatic alt text for uploaded images. Per user it is an opt-out (your uploads are
 * left alone everywhere on that platform); with `scope: channel` an admin turns it on or off for the
 * channel. The chat planner (src/core/chat.ts) reads these choices before an upload is described.
 */

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
      await settings.set(altTextChannelKey(channelOf(req.conversation)), mode);
      return {
        text:
          mode === 'on'
            ? 'Automatic alt text is on in this channel: images uploaded here without a description get one.'
            : 'Automatic alt text is off in this channel.',
        ephemeral: true,
      };
    }
    await settings.set(altTextUserKey(req.platform, req.user.id), mode === 'off' ? 'off' : undefined);
    if (mode === 'off') {
      return {
        text: 'iris will no longer add alt text to your uploads. `/alttext on` turns it back on.',
        ephemeral: true,
      };
    }
    // Opting in changes nothing where the channel is off: say so, and who can change that.
    const on = await altTextChannelOn(
      settings,
      req.conversation,
      altTextConfigured(ctx.config, req.conversation),
    );
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
