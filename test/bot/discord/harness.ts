import { Writable } from 'node:stream';
import { mediaSettings } from '../../../src/app.js';
import { DiscordAdapter } from '../../../src/bot/discord/adapter.js';
import { alttextCommand } from '../../../src/commands/alttext.js';
import { askCommand } from '../../../src/commands/ask.js';
import { captionCommand } from '../../../src/commands/caption.js';
import { helpCommand } from '../../../src/commands/help.js';
import { tagsCommand } from '../../../src/commands/tags.js';
import { loadConfig } from '../../../src/config.js';
import type { AdapterHooks, MessageDeleted } from '../../../src/contracts/adapter.js';
import type { BackendProvider } from '../../../src/contracts/backend.js';
import { type AnyCommand, defineCommand } from '../../../src/contracts/command.js';
import { Dispatcher } from '../../../src/core/dispatch.js';
import type { ImageIndex } from '../../../src/core/image-index.js';
import { createLogger } from '../../../src/core/log.js';
import { Scheduler } from '../../../src/core/scheduler.js';
import { MemorySettingsStore } from '../../../src/core/settings.js';
import { fakeBackends } from '../../fakes/backends.js';
import { FakeDiscord } from '../../fakes/discord/server.js';
import { solidPng } from '../../fakes/images.js';
import { SECRETS } from '../../fakes/secrets.js';

export const TOKEN = SECRETS.discordToken;
export const alice = { id: '100000000000000001', username: 'alice' };
export const bob = { id: '100000000000000002', username: 'bob' };

/** A command that draws a red square: an image with alt text, progress steps and a button. */
export const drawCommand = defineCommand<{ prompt: string; pressed?: string; size: number }>({
  name: 'draw',
  description: 'Draw a red square (test command).',
  options: [
    { name: 'prompt', type: 'string', description: 'What to draw.' },
    { name: 'size', type: 'integer', description: 'Edge in pixels.', min: 8, max: 1024 },
    { name: 'button', type: 'string', description: 'Set by buttons.', hidden: true },
  ],
  queue: 'gpu',
  async parse({ args }) {
    return {
      prompt: String(args.prompt ?? 'a red square'),
      pressed: args.button as string | undefined,
      size: Number(args.size ?? 32),
    };
  },
  async run({ prompt, pressed, size }, ctx) {
    await ctx.progress({ kind: 'running', step: 1, total: 2 });
    await ctx.progress({ kind: 'running', step: 2, total: 2 });
    const png =
      size > 64
        ? await (await import('sharp'))
            .default(
              Buffer.alloc(size * size * 3).map(() => Math.random() * 256),
              {
                raw: { width: size, height: size, channels: 3 },
              },
            )
            .png()
            .toBuffer()
        : await solidPng('#ff0000', size);
    return {
      text: pressed ? `Drew again (${pressed}) for ${ctx.request.user.id}` : `Drew: ${prompt}`,
      images: [{ png, name: 'square.png', altText: `A red square: ${prompt}` }],
      buttons: [
        { id: 'draw:again:red', label: 'Again' },
        { id: 'draw:settings:red', label: 'Settings' },
      ],
    };
  },
});

/**
 * Fake models: tag says "red"; caption describes the image by its size; vqa answers with the image size
 * and the questions it was given as history (so a test sees what memory carried).
 */
export const fakeModels = fakeBackends({
  caption: async ({ image }) => ({ caption: `a ${image.width}x${image.height} picture` }),
  vqa: async ({ images, history }) => ({
    answer: `${images[0]?.width}x${images[0]?.height}; earlier: ${history.map((t) => t.question).join(' | ') || 'none'}`,
  }),
  tag: async ({ images, labels }) =>
    images.map(() => ({
      labels: labels
        .map((label) => ({ label, score: label === 'red' ? 0.9 : 0.1 / Math.max(1, labels.length - 1) }))
        .sort((a, b) => b.score - a.score),
    })),
});

export const TEST_COMMANDS: AnyCommand[] = [
  tagsCommand,
  drawCommand,
  askCommand,
  captionCommand,
  alttextCommand,
  helpCommand,
];

export interface HarnessOptions {
  commands?: AnyCommand[];
  overrides?: Record<string, unknown>;
  now?: () => number;
  fake?: FakeDiscord;
  /** Default: fakeModels. */
  registry?: BackendProvider;
  imageIndex?: ImageIndex;
}

/** A fake Discord, a dispatcher with test commands, and the real adapter connected through discord.js. */
export async function startDiscord(o: HarnessOptions = {}) {
  const fake = o.fake ?? (await new FakeDiscord().start());
  const config = loadConfig({
    env: { DISCORD_TOKEN: TOKEN, DISCORD_API_URL: fake.apiUrl, IRIS_ALLOW_HOSTS: `127.0.0.1:${fake.port}` },
    overrides: {
      'platforms.discord.progressIntervalSeconds': 0.05,
      'memory.store': 'memory',
      ...o.overrides,
    },
  });
  const lines: string[] = [];
  const log = createLogger({
    level: 'info',
    secrets: [TOKEN],
    destination: new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
  const scheduler = new Scheduler(config.scheduler);
  const settings = new MemorySettingsStore();
  const dispatcher = new Dispatcher({
    commands: o.commands ?? TEST_COMMANDS,
    executor: scheduler,
    registry: o.registry ?? fakeModels,
    config,
    log,
    media: mediaSettings(config),
    settings,
    ...(o.imageIndex && { imageIndex: o.imageIndex }),
  });
  // The dispatcher's hooks, recording each deletion once the dispatcher is done with it.
  const deletions: MessageDeleted[] = [];
  const hooks: AdapterHooks = {
    async messageDeleted(e) {
      await dispatcher.hooks.messageDeleted(e);
      deletions.push(e);
    },
  };
  const open = async () => {
    const adapter = new DiscordAdapter({ config, log, commands: dispatcher.commands, settings, now: o.now });
    await adapter.start(dispatcher.handle, hooks);
    return adapter;
  };
  let adapter = await open();
  return {
    fake,
    config,
    dispatcher,
    settings,
    lines,
    deletions,
    get adapter() {
      return adapter;
    },
    /** A new adapter (new discord.js client, new gateway session); the dispatcher and stores stay. */
    async restart() {
      await adapter.stop();
      adapter = await open();
    },
    async stop() {
      await adapter.stop();
      await scheduler.stop({ graceMs: 100 });
      if (!o.fake) await fake.stop();
    },
  };
}

export type Harness = Awaited<ReturnType<typeof startDiscord>>;

/** The webhook edit of an interaction's original reply that carries the final answer (not a progress edit). */
export function finalEdit(fake: FakeDiscord, token: string, match: (json: { content?: string }) => boolean) {
  return fake.waitFor(
    (r) =>
      r.method === 'PATCH' &&
      r.path.endsWith(`/${token}/messages/@original`) &&
      r.status === 200 &&
      match(r.json ?? {}),
  );
}
