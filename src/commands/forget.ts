import { defineCommand } from './types.js';

export const forgetCommand = defineCommand<Record<string, never>>({
  name: 'forget',
  description: 'Forget this conversation: the questions, answers and images iris remembers of it.',
  options: [],
  ephemeral: true,
  async parse() {
    return {};
  },
  async run(_input, ctx) {
    await ctx.memory.clear(ctx.request.conversation);
    await ctx.imageIndex?.clear(ctx.request.conversation);
    return { text: 'Done: I forgot this conversation.', data: { forgotten: true } };
  },
});
