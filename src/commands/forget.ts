import { defineCommand } from '../contracts/command.js';
import { userSettingKeys } from '../core/alttext-channels.js';
import { imageChannel } from '../core/image-index.js';

/**
 * /forget: deletes what /privacy lists — this conversation's memory (questions, answers, links to the
 * images asked about), this conversation's image memory (/similar) and the caller's own settings.
 * Other users' settings and admins' channel settings stay.
 */
export const forgetCommand = defineCommand<Record<string, never>>({
  name: 'forget',
  description: 'Forget this conversation (questions, answers, image memory) and your own settings.',
  options: [],
  ephemeral: true,
  async parse() {
    return {};
  },
  async run(_input, ctx) {
    const { request } = ctx;
    await ctx.memory.clear(request.conversation);
    await ctx.imageIndex?.clear(imageChannel(request.conversation));
    for (const key of userSettingKeys(request.platform, request.user.id))
      await ctx.settings?.set(key, undefined);
    return {
      text: 'Done: I forgot this conversation, its image memory and your settings.',
      data: { forgotten: true },
    };
  },
});
