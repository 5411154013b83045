import { Writable } from 'node:stream';
import sharp from 'sharp';
import { mediaSettings } from '../../../src/app.js';
import { SlackAdapter } from '../../../src/bot/slack/adapter.js';
import { alttextCommand } from '../../../src/commands/alttext.js';
import { askCommand } from '../../../src/commands/ask.js';
import { captionCommand } from '../../../src/commands/caption.js';
import { helpCommand } from '../../../src/commands/help.js';
import { loadConfig } from '../../../src/config.js';
import type { AdapterHooks, MessageDeleted } from '../../../src/contracts/adapter.js';
import type { BackendProvider } from '../../../src/contracts/backend.js';
import { type AnyCommand, defineCommand } from '../../../src/contracts/command.js';
import type { LoadedImage } from '../../../src/contracts/request.js';
import { Dispatcher } from '../../../src/core/dispatch.js';
import type { ImageIndex } from '../../../src/core/image-index.js';
import { createLogger } from '../../../src/core/log.js';
import { MemoryMapStore } from '../../../src/core/memory.js';
import { Scheduler } from '../../../src/core/scheduler.js';
import { MemorySettingsStore } from '../../../src/core/settings.js';
import { fakeBackends } from '../../fakes/backends.js';
import { colourEmbed } from '../../fakes/embed.js';
import { solidPng } from '../../fakes/images.js';
import { SECRETS } from '../../fakes/secrets.js';
import { FakeSlack } from '../../fakes/slack/server.js';
import {
  eventCallbackBody,
  interactiveBody,
  postSigned,
  type SignedPost,
  type SlashCommand,
  slashCommandBody,
} from '../../fakes/slack/sign.js';

export const SECRET = SECRETS.slackSigningSecret;
export const ALT_CHANNEL = 'CALT';

/** The colour word for an image's mean colour: what the fake caption/ask commands "see". */
async function colourOf(image: LoadedImage): Promise<string> {
  const { channels } = await sharp(image.bytes).stats();
  const [r = 0, g = 0, b = 0] = channels.map((c) => c.mean);
  return r >= g && r >= b ? 'red' : g >= b ? 'green' : 'blue';
}

/**
 * Commands for adapter tests: the real /caption, /ask, /alttext and /help, and a few made up here (echo,
 * look, draw) — the adapter must work with any command list.
 */
export function testCommands(): AnyCommand[] {
  const echo = defineCommand<{ text: string }>({
    name: 'echo',
    description: 'Says the text back after two progress steps.',
    options: [{ name: 'text', type: 'string', description: 'What to say.', required: true }],
    queue: 'gpu',
    async parse({ args }) {
      return { text: String(args.text) };
    },
    async run({ text }, ctx) {
      await ctx.progress({ kind: 'running', step: 1, total: 2 });
      await ctx.progress({ kind: 'running', step: 2, total: 2 });
      return { text: `echo: ${text}` };
    },
  });
  const look = defineCommand<{ images: LoadedImage[] }>({
    name: 'look',
    description: 'Names the image it got.',
    options: [{ name: 'image', type: 'image', description: 'An image.', required: true }],
    async parse({ loadImages }) {
      return { images: await loadImages() };
    },
    async run({ images }) {
      const [image] = images;
      return { text: `saw ${image?.name} ${image?.width}x${image?.height} ${image?.format}` };
    },
  });
  const draw = defineCommand<{ seed: number }>({
    name: 'draw',
    description: 'Draws a red square; buttons reroll it.',
    options: [
      { name: 'prompt', type: 'string', description: 'What to draw.' },
      { name: 'button', type: 'string', description: 'A pressed button id.' },
    ],
    queue: 'gpu',
    async parse({ args }) {
      const fromButton = typeof args.button === 'string' ? Number(args.button.split(':')[2]) : 41;
      return { seed: fromButton + 1 };
    },
    async run({ seed }) {
      return {
        text: `a red square, seed ${seed}`,
        images: [
          {
            png: await solidPng('#ff0000', 16),
            altText: `AI-generated: a red square (seed ${seed})`,
            name: `red-${seed}.png`,
          },
        ],
        buttons: [{ id: `draw:reroll:${seed}`, label: 'Reroll', style: 'primary' }],
      };
    },
  });
  // Shaped like /imagine: a required prompt and an optional start image that only counts when given.
  const paint = defineCommand<{ prompt: string; images: number }>({
    name: 'paint',
    description: 'Says how many images it was given to start from.',
    options: [
      { name: 'prompt', type: 'string', description: 'What to paint.', required: true },
      { name: 'image', type: 'image', description: 'Start from this image.' },
    ],
    async parse({ args, loadImages }) {
      return { prompt: String(args.prompt), images: (await loadImages()).length };
    },
    async run({ prompt, images }) {
      return { text: `painted ${prompt} from ${images} image(s)` };
    },
  });
  return [echo, look, captionCommand, askCommand, draw, alttextCommand, helpCommand, paint];
}

export interface Harness {
  fake: FakeSlack;
  /** The dispatcher's scheduler (queue figures for the load test). */
  scheduler: Scheduler;
  adapter: SlackAdapter;
  logs: string[];
  /** Message deletions the adapter reported, each recorded after the dispatcher handled it. */
  deletions: MessageDeleted[];
  eventsUrl: string;
  command(
    cmd: Omit<SlashCommand, 'user_id' | 'channel_id'> & Partial<SlashCommand>,
    opts?: Partial<SignedPost>,
  ): Promise<Response>;
  event(event: Record<string, unknown>, opts?: Partial<SignedPost> & { eventId?: string }): Promise<Response>;
  interactive(payload: Record<string, unknown>): Promise<Response>;
  stop(): Promise<void>;
}

export async function startHarness(
  options: {
    commands?: AnyCommand[];
    socketMode?: boolean;
    overrides?: Record<string, unknown>;
    /** Image memory (embeddings: the fake colour embedder). */
    imageIndex?: ImageIndex;
    /** Models; default: caption and vqa that "see" the image's colour, and the colour embedder. */
    registry?: BackendProvider;
  } = {},
): Promise<Harness> {
  const fake = await new FakeSlack().start();
  const config = loadConfig({
    env: {
      SLACK_BOT_TOKEN: fake.tokens.bot,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_APP_TOKEN: options.socketMode ? fake.tokens.app : undefined,
      SLACK_API_URL: fake.apiUrl,
      SLACK_PORT: '0',
      IRIS_ALLOW_HOSTS: `127.0.0.1:${fake.port}`,
    },
    overrides: { 'platforms.slack.altText.channels': [ALT_CHANNEL], ...options.overrides },
  });
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const log = createLogger({ level: 'debug', secrets: [fake.tokens.bot, SECRET], destination });
  const commands = options.commands ?? testCommands();
  const settings = new MemorySettingsStore();
  const scheduler = new Scheduler(config.scheduler);
  const dispatcher = new Dispatcher({
    settings,
    commands,
    executor: scheduler,
    // What the models "see": the image's colour. The VQA answer lists the earlier questions it was given,
    // so a test can tell that a follow-up's history reached the model.
    registry:
      options.registry ??
      fakeBackends({
        caption: async ({ image }) => ({ caption: `a ${await colourOf(image)} square` }),
        vqa: async ({ images, history }) => ({
          answer: `${images[0] ? await colourOf(images[0]) : 'no image'}; earlier: ${history.map((t) => t.question).join(' | ') || 'nothing'}`,
        }),
        embed: colourEmbed,
      }),
    ...(options.imageIndex && { imageIndex: options.imageIndex }),
    config,
    log,
    media: mediaSettings(config),
    memory: new MemoryMapStore(config.memory),
  });
  const adapter = new SlackAdapter({
    slack: config.platforms.slack,
    commands,
    log,
    settings,
    progressIntervalMs: 20,
    retryConfig: { retries: 3, minTimeout: 10, maxTimeout: 50 },
    stopGraceMs: 500,
  });
  const deletions: MessageDeleted[] = [];
  const hooks: AdapterHooks = {
    async messageDeleted(e) {
      await dispatcher.hooks.messageDeleted(e);
      deletions.push(e);
    },
  };
  await adapter.start(dispatcher.handle, hooks);
  const eventsUrl = `http://127.0.0.1:${adapter.port}/slack/events`;
  const base = { secret: SECRET };
  return {
    fake,
    scheduler,
    adapter,
    logs,
    deletions,
    eventsUrl,
    command: (cmd, opts) =>
      postSigned(eventsUrl, slashCommandBody({ user_id: 'UALICE', channel_id: 'CGEN', ...cmd }), {
        ...base,
        contentType: 'application/x-www-form-urlencoded',
        ...opts,
      }),
    event: (event, opts) =>
      postSigned(eventsUrl, eventCallbackBody(event, opts?.eventId), {
        ...base,
        contentType: 'application/json',
        ...opts,
      }),
    interactive: (payload) =>
      postSigned(eventsUrl, interactiveBody(payload), {
        ...base,
        contentType: 'application/x-www-form-urlencoded',
      }),
    async stop() {
      await adapter.stop();
      await fake.stop();
    },
  };
}
