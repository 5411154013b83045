import { defineCommand } from '../contracts/command.js';

export const helpCommand = defineCommand<{ topic?: string }>({
  name: 'help',
  description: 'What iris can do, and how to ask.',
  options: [
    { name: 'command', type: 'string', description: 'A command to explain in detail.', maxLength: 40 },
  ],
  ephemeral: true,
  async parse({ args }) {
    return { topic: typeof args.command === 'string' ? args.command.replace(/^\//, '') : undefined };
  },
  async run({ topic }, ctx) {
    const detail = topic ? ctx.commands.find((c) => c.name === topic) : undefined;
    if (detail) {
      const opts = detail.options.map(
        (o) =>
          `• \`${o.name}\`${o.required ? ' (required)' : ''} — ${o.description}${o.choices ? ` One of: ${o.choices.join(', ')}.` : ''}`,
      );
      return { text: [`/${detail.name} — ${detail.description}`, ...opts].join('\n'), ephemeral: true };
    }
    const lines = ctx.commands.map((c) => `/${c.name} — ${c.description}`);
    const intro = topic ? `There is no /${topic}. ` : '';
    return {
      text: `${intro}iris commands:\n${lines.join('\n')}\nAsk \`/help command:<name>\` for a command's options.`,
      ephemeral: true,
    };
  },
});
