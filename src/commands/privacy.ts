import type { Config } from '../config.js';
import { defineCommand } from '../contracts/command.js';
import { imageChannel } from '../core/image-index.js';

/** "24 hours", "30 days", "90 minutes" */
export function formatDuration(seconds: number): string {
  const units: [number, string][] = [
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, name] of units) {
    if (seconds >= size && seconds % size === 0) {
      const n = seconds / size;
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return `${seconds} seconds`;
}

function storeName(store: Config['memory']['store']): string {
  return store === 'sqlite'
    ? "iris's database file"
    : store === 'redis'
      ? 'Redis'
      : "the bot process's memory (gone when it restarts)";
}

/**
 * /privacy: what iris keeps about this conversation and the caller, for how long (from the config), and
 * that /forget deletes it. Kept in step with forget.ts and docs/security.md.
 */
export const privacyCommand = defineCommand<Record<string, never>>({
  name: 'privacy',
  description: 'What iris stores about this conversation and you, for how long, and how to delete it.',
  options: [],
  ephemeral: true,
  async parse() {
    return {};
  },
  async run(_input, ctx) {
    const { config, request } = ctx;
    const indexed = config.imageIndex.channels.includes(imageChannel(request.conversation));
    const where = storeName(config.memory.store);
    const lines = [
      'What iris keeps:',
      `• Conversation memory: the last ${config.memory.maxTurns} questions and answers of this conversation and a link to the image they were about, for ${formatDuration(config.memory.ttlSeconds)}, in ${where}. It lets follow-up questions make sense.`,
      indexed
        ? `• Image memory (/similar) is on here: for each image posted in this channel, a numeric fingerprint (not the image), the file name, who posted it and a link to the post, for ${formatDuration(config.imageIndex.ttlSeconds)} (at most ${config.imageIndex.maxPerChannel} images).`
        : '• Image memory (/similar) is off here: nothing is indexed in this channel.',
      `• Your settings (e.g. /alttext off), until you change them, in ${where}.`,
      `• The full text of a long /imagine prompt, so its Reroll and Vary buttons keep working, for ${formatDuration(config.tasks.imagine.buttonTtlSeconds)}, in ${where}.`,
      '• Operational logs kept by whoever runs iris: request ids, commands, error codes — never tokens or keys.',
      'Images you send and images iris draws are not kept beyond the request (except the image memory above).',
      '/forget deletes this conversation’s memory, its image memory and your settings.',
    ];
    return {
      text: lines.join('\n'),
      ephemeral: true,
      data: {
        conversation: { maxTurns: config.memory.maxTurns, ttlSeconds: config.memory.ttlSeconds },
        imageIndex: indexed ? { ttlSeconds: config.imageIndex.ttlSeconds } : null,
      },
    };
  },
});
