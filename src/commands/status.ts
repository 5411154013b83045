import { defineCommand } from '../contracts/command.js';

export const statusCommand = defineCommand<Record<string, never>>({
  name: 'status',
  description: 'Queues, models and uptime.',
  options: [],
  ephemeral: true,
  async parse() {
    return {};
  },
  async run(_input, ctx) {
    const snap = await ctx.status();
    const queues = Object.entries(snap.queues).map(
      ([name, q]) => `• ${name}: ${q.running}/${q.maxConcurrent} running, ${q.queued} waiting`,
    );
    const models = snap.models.map((m) => `• ${m.task}: ${m.backend} (${m.model}) — ${m.state}`);
    return {
      text: [
        'Queues:',
        ...queues,
        'Models:',
        ...models,
        ...(snap.workers === undefined ? [] : [`Workers: ${snap.workers}.`]),
        `Up ${Math.round(snap.uptimeSeconds / 60)} min.`,
      ].join('\n'),
      data: snap,
      ephemeral: true,
    };
  },
});
