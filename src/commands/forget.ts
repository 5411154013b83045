import { defineCommand } from './types.js';

export const forgetCommand = defineCommand<Record<string, never>>({
  name: 'forget',
  description: 'Forget this conversation: earlier questions, answers and the image they were about.',
  options: [],
  ephemeral: true,
  async parse() {
    return {};
  },
  async run(_input, ctx) {
    await ctx.memory.clear(ctx.request.conversation);
    return { text: 'Done: I forgot this conversation.', data: { forgotten: true } };
  },
});
