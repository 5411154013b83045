#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { isUserError, UserError } from '../errors.js';
import { DTYPE_PROFILES, type DtypeProfile } from '../models/files.js';
import { TASKS } from '../models/registry.js';
import { withApp } from './app.js';
import type { ImagineCliOptions } from './imagine.js';
import { tagCli } from './tag.js';

/**
 * `iris` — exit codes: 0 ok, 2 user error (one line `error: …` on stderr), 1 internal error.
 */

class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

function wholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number of at least 0');
  return n;
}

interface ModelFlags {
  config?: string;
  models?: string;
}

function configFrom(flags: ModelFlags, overrides: Record<string, unknown> = {}): Config {
  return loadConfig({ file: flags.config, overrides: { 'models.dir': flags.models, ...overrides } });
}

function dtypeProfile(value: string): DtypeProfile {
  if (!(DTYPE_PROFILES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected ${DTYPE_PROFILES.join(', ')}`);
  }
  return value as DtypeProfile;
}

const VQA_BACKENDS = ['local', 'blip2', 'smolvlm', 'groq'] as const;

function backendChoice(value: string): string {
  if (!(VQA_BACKENDS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected ${VQA_BACKENDS.join(', ')}`);
  }
  return value;
}

/**
 * --backend → config overrides for tasks.vqa: `local` keeps a configured local backend (else smolvlm), a
 * backend name picks it with its default model; the configured model and options stay when the backend does.
 */
function vqaOverrides(config: Config, backend: string | undefined): Record<string, unknown> {
  const configured = config.tasks.vqa.backend;
  const wanted = backend === 'local' ? (configured === 'groq' ? 'smolvlm' : configured) : backend;
  if (!wanted || wanted === configured) return {};
  const entry = TASKS.vqa.backends[wanted as keyof typeof TASKS.vqa.backends];
  return { 'tasks.vqa': { backend: wanted, model: entry.defaultModel, options: {} } };
}

export function buildProgram(): Command {
  const program = new Command('iris')
    .description('iris — a self-hosted multimodal bot for Discord and Slack')
    .option(
      '--config <file>',
      'YAML file layered over config/default.yaml (default: $IRIS_CONFIG or config/local.yaml)',
    )
    .option(
      '--verbose',
      'task commands also print their log lines on stderr (always in $IRIS_LOG_DIR when set)',
    )
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('start')
    .description('Start the bot: every platform with credentials, else the local playground')
    .option(
      '--demo',
      'use the colour-world demo models (offline, seconds to start; chosen by itself when no platform token is set and no model is on disk)',
    )
    .option('--no-demo', 'never choose the demo models by itself')
    .option('--models <dir>', 'models folder')
    .action(async (flags: ModelFlags & { demo?: boolean }) => {
      const { startCli } = await import('./start.js');
      await startCli({ ...program.opts(), ...flags }, { out, err });
    });

  program
    .command('tag')
    .description('Tag images (files or folders) with the labels that fit best; JSON Lines with --json')
    .argument('<images...>', 'image files or folders')
    .option('--labels <list>', 'comma-separated labels (default: tasks.tag.labels)')
    .option('--top <n>', 'labels shown per image without --json', positiveInt)
    .option('--models <dir>', 'models folder')
    .option('--model <id-or-folder>', 'CLIP model id (in the models folder) or a folder path')
    .option('--json', 'one JSON object per image per line, all labels sorted by score')
    .action(
      async (
        images: string[],
        flags: ModelFlags & { labels?: string; top?: number; model?: string; json?: boolean },
      ) => {
        // A folder is many requests from one user: quotas are for chat, not for the local CLI.
        const config = configFrom(
          { ...program.opts(), ...flags },
          { 'tasks.tag.model': flags.model, 'scheduler.perUser.jobs': 0, 'scheduler.perChannel.jobs': 0 },
        );
        const code = await withApp(config, program.opts(), (app) =>
          tagCli(app, images, { ...flags, out, err }),
        );
        if (code !== 0) throw new ExitCode(code);
      },
    );

  program
    .command('imagine')
    .description('Draw a picture from a prompt (Stable Diffusion); --json prints {"file","seed","altText"}')
    .argument('<prompt>', 'what to draw; --ar 3:2 --seed 7 --no text style parameters work inside it too')
    .requiredOption('--out <file>', 'PNG to write (several images: FILE, FILE-2.png, …)')
    .option('--seed <n>', 'same seed and options → same image', wholeNumber)
    .option('--steps <n>', 'denoising steps', positiveInt)
    .option('--size <WxH>', 'width x height, multiples of 64 (e.g. 512x512)')
    .option('--negative <text>', 'what to keep out of the picture')
    .option('--model <name>', 'turbo | v1-5 (names from tasks.imagine.models)')
    .option('--guidance <g>', 'classifier-free guidance scale', Number)
    .option('--count <n>', 'images (1–4)', positiveInt)
    .option('--scheduler <name>', 'euler | euler_a | lms | ddim | pndm')
    .option('--image <file>', 'start from this image (a variation)')
    .option('--strength <s>', 'with --image: how much to change it (0.05–1)', Number)
    .option('--models <dir>', 'models folder')
    .option('--json', 'one JSON object per image: {"file","seed","altText"}')
    .action(async (prompt: string, flags: ModelFlags & Omit<ImagineCliOptions, 'print' | 'err'>) => {
      const { imagineCli } = await import('./imagine.js');
      const config = configFrom(
        { ...program.opts(), ...flags },
        { 'scheduler.perUser.jobs': 0, 'scheduler.perChannel.jobs': 0 },
      );
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      try {
        const code = await withApp(config, program.opts(), (app) =>
          imagineCli(app, prompt, {
            ...flags,
            progress: process.stderr.isTTY && !flags.json,
            signal: abort.signal,
            print: out,
            err,
          }),
        );
        if (code !== 0) throw new ExitCode(code);
      } finally {
        process.off('SIGINT', onSignal);
      }
    });

  program
    .command('worker')
    .description(
      'Run backends for jobs from the Redis queue (scale-out; needs IRIS_REDIS_URL or queue.kind: redis)',
    )
    .requiredOption('--tasks <list>', 'task classes to serve: comma list of imagine, vision, llm')
    .option('--slots <n>', 'jobs run at once per task class (default: queue.slots)', positiveInt)
    .option('--models <dir>', 'models folder')
    .action(async (flags: ModelFlags & { tasks: string; slots?: number }) => {
      const { parseTaskClasses, workerCli } = await import('./worker.js');
      const tasks = parseTaskClasses(flags.tasks);
      const config = configFrom({ ...program.opts(), ...flags });
      await workerCli({ config, tasks, slots: flags.slots ?? config.queue.slots }, { out, err });
    });

  program
    .command('caption')
    .description('Describe an image: alt text (under the alt-text policy) and a long caption')
    .argument('<image>', 'image file')
    .option('--models <dir>', 'models folder')
    .option('--model <id-or-folder>', 'caption model id (in the models folder) or a folder path')
    .option('--json', 'print {"altText":…,"caption":…}')
    .action(async (image: string, flags: ModelFlags & { model?: string; json?: boolean }) => {
      const { captionCli } = await import('./caption.js');
      const config = configFrom({ ...program.opts(), ...flags }, { 'tasks.caption.model': flags.model });
      const code = await withApp(config, program.opts(), (app) =>
        captionCli(app, image, { ...flags, out, err }),
      );
      if (code !== 0) throw new ExitCode(code);
    });

  program
    .command('read')
    .description('Read the text in an image (OCR)')
    .argument('<image>', 'image file')
    .option('--backend <name>', 'tesseract (default) or florence2')
    .option('--models <dir>', 'models folder (florence2)')
    .option('--model <id>', 'tesseract language (e.g. eng) or Florence-2 model id / folder')
    .option('--json', 'print {"text":…}')
    .action(
      async (image: string, flags: ModelFlags & { backend?: string; model?: string; json?: boolean }) => {
        const { readCli } = await import('./read.js');
        const { TASKS } = await import('../models/registry.js');
        // Another backend than the configured one runs on its own default model unless --model names one,
        // and without the configured backend's options (its schema is another's).
        const configured = configFrom({ ...program.opts(), ...flags }).tasks.read.backend;
        const switched = flags.backend !== undefined && flags.backend !== configured;
        const fallback = switched
          ? (TASKS.read.backends as Record<string, { defaultModel: string }>)[flags.backend as string]
              ?.defaultModel
          : undefined;
        const config = configFrom(
          { ...program.opts(), ...flags },
          {
            'tasks.read.backend': flags.backend,
            'tasks.read.model': flags.model ?? fallback,
            'tasks.read.options': switched ? {} : undefined,
          },
        );
        const code = await withApp(config, program.opts(), (app) =>
          readCli(app, image, { ...flags, out, err }),
        );
        if (code !== 0) throw new ExitCode(code);
      },
    );

  program
    .command('find')
    .description('Find something in an image: draws boxes around it into a PNG (Florence-2 grounding)')
    .argument('<image>', 'image file')
    .argument('<object>', 'what to find, in a few words (e.g. "red car")')
    .requiredOption('--out <file>', 'PNG to write the boxes to (not written when nothing is found)')
    .option('--models <dir>', 'models folder')
    .option('--model <id-or-folder>', 'Florence-2 model id (in the models folder) or a folder path')
    .option('--json', 'print {"object","boxes":[{label,box,where}],"file"}')
    .action(
      async (
        image: string,
        object: string,
        flags: ModelFlags & { out: string; model?: string; json?: boolean },
      ) => {
        const { findCli } = await import('./find.js');
        const config = configFrom({ ...program.opts(), ...flags }, { 'tasks.find.model': flags.model });
        const code = await withApp(config, program.opts(), (app) =>
          findCli(app, image, object, { json: flags.json, file: flags.out, out, err }),
        );
        if (code !== 0) throw new ExitCode(code);
      },
    );

  program
    .command('ask')
    .description('Ask a question about an image; --conversation KEY continues an earlier conversation')
    .argument('<image>', 'image file')
    .argument('<question>', 'the question')
    .option('--conversation <key>', 'conversation to continue (remembered between calls)')
    .option('--backend <name>', 'local (the configured local model), blip2, smolvlm or groq', backendChoice)
    .option('--structured', 'answer as {description, funny_story} (groq)')
    .option('--models <dir>', 'models folder')
    .option('--json', 'print {"answer": …} as JSON')
    .action(
      async (
        image: string,
        question: string,
        flags: ModelFlags & { conversation?: string; backend?: string; structured?: boolean; json?: boolean },
      ) => {
        const base = configFrom({ ...program.opts(), ...flags });
        const config = configFrom({ ...program.opts(), ...flags }, vqaOverrides(base, flags.backend));
        const { askCli } = await import('./ask.js');
        const code = await withApp(config, program.opts(), (app) =>
          askCli(app, image, question, { ...flags, out, err }),
        );
        if (code !== 0) throw new ExitCode(code);
      },
    );

  program
    .command('compare')
    .description('Compare 2–4 images (optionally answering a question about them)')
    .argument('<images...>', '2 to 4 image files')
    .option('--question <text>', 'what to compare')
    .option('--backend <name>', 'local (the configured local model), blip2, smolvlm or groq', backendChoice)
    .option('--models <dir>', 'models folder')
    .option('--json', 'print {"answer": …, "images": […]} as JSON')
    .action(
      async (
        images: string[],
        flags: ModelFlags & { question?: string; backend?: string; json?: boolean },
      ) => {
        const base = configFrom({ ...program.opts(), ...flags });
        const config = configFrom({ ...program.opts(), ...flags }, vqaOverrides(base, flags.backend));
        const { compareCli } = await import('./ask.js');
        const code = await withApp(config, program.opts(), (app) =>
          compareCli(app, images, { ...flags, out, err }),
        );
        if (code !== 0) throw new ExitCode(code);
      },
    );

  program
    .command('similar')
    .description("Find a channel's stored images most like an image or a text (the image is stored too)")
    .argument('[image]', 'image file to search with')
    .requiredOption('--channel <key>', 'conversation key, e.g. discord:123456789012345678')
    .option('--text <text>', 'search by description instead of an image')
    .option('--top <n>', 'how many results', positiveInt)
    .option('--models <dir>', 'models folder')
    .option('--json', 'print {"hits":[…]} as JSON')
    .action(
      async (
        image: string | undefined,
        flags: ModelFlags & { channel: string; text?: string; top?: number; json?: boolean },
      ) => {
        const { similarCli } = await import('./similar.js');
        // the CLI is the local admin: the channel it names is opted in for this call
        const base = configFrom({ ...program.opts(), ...flags });
        const channels = [...base.imageIndex.channels, flags.channel];
        const config = configFrom({ ...program.opts(), ...flags }, { 'imageIndex.channels': channels });
        const code = await withApp(config, program.opts(), (app) =>
          similarCli(app, image, { ...flags, out, err }),
        );
        if (code !== 0) throw new ExitCode(code);
      },
    );

  program
    .command('discord')
    .description('Discord: the invite link for your bot')
    .command('invite')
    .description('Print the link that adds the bot to a server, with the scopes and permissions iris needs')
    .action(async () => {
      const { applicationIdOf, inviteUrl } = await import('../bot/discord/invite.js');
      const config = configFrom(program.opts());
      out(inviteUrl(await applicationIdOf(config.platforms.discord)));
    });

  program
    .command('check')
    .description('Score images with the safety classifier (tasks.safety): classes, scores, flagged or safe')
    .argument('<image...>', 'image files')
    .option('--json', 'print {"file":…,"safe":…,"scores":{…}} per image')
    .action(async (images: string[], flags: ModelFlags & { json?: boolean }) => {
      const { checkCli } = await import('./check.js');
      await checkCli(configFrom({ ...program.opts(), ...flags }), images, { ...flags, out });
    });

  program
    .command('verify')
    .description('Read back the provenance iris wrote into a generated PNG (XMP, model, seed, prompt)')
    .argument('<file>', 'PNG file')
    .option('--json', 'print what was found as JSON')
    .action(async (file: string, flags: { json?: boolean }) => {
      const { verifyCli } = await import('./verify.js');
      const code = await verifyCli(file, { ...flags, out, err });
      if (code !== 0) throw new ExitCode(code);
    });

  program
    .command('doctor')
    .description('Check Node, onnxruntime providers, sharp, config, models, tokens (format only) and Redis')
    .option('--models <dir>', 'models folder')
    .action(async (flags: ModelFlags) => {
      const { doctorCli } = await import('./doctor.js');
      const code = await doctorCli({ ...program.opts(), ...flags }, { out });
      if (code !== 0) throw new ExitCode(code);
    });

  program
    .command('slack')
    .description('Slack app setup')
    .command('manifest')
    .description('Print a Slack app manifest (JSON) with the slash commands, shortcuts, scopes and events')
    .option('--url <base>', 'public base URL of the HTTP receiver (without it: Socket Mode)')
    .option('--name <name>', 'app and bot name', 'iris')
    .action(async (flags: { url?: string; name: string }) => {
      const { COMMANDS } = await import('../commands/index.js');
      const { slackManifest } = await import('../bot/slack/manifest.js');
      const config = configFrom(program.opts());
      if (flags.url !== undefined && !/^https?:\/\/[^/\s]+/.test(flags.url)) {
        throw new UserError(
          'bad_option',
          `--url must be an http(s) URL such as https://iris.example.com (got ${flags.url})`,
        );
      }
      const manifest = slackManifest({
        commands: COMMANDS,
        slashConfig: config.platforms.slack.commands,
        url: flags.url,
        name: flags.name,
      });
      out(JSON.stringify(manifest, null, 2));
    });

  const models = program.command('models').description('Model folders: pull, list, remove, synth');
  models
    .command('synth')
    .description('Write the colour-world test models (tiny ONNX graphs with the real layouts)')
    .requiredOption('--out <dir>', 'folder to write them into')
    .action(async (flags: { out: string }) => {
      const { synthAll } = await import('../demo/colourworld/index.js');
      await synthAll(flags.out);
      out(`colour-world models written to ${flags.out}`);
    });
  models
    .command('pull')
    .description(
      'Download the models the config uses (or the named tasks / model ids) from the Hugging Face hub',
    )
    .argument(
      '[targets...]',
      `task names (${Object.keys(TASKS).join(', ')}) or model ids; default: every configured model`,
    )
    .option('--models <dir>', 'models folder')
    .option('--yes', 'do not ask before downloading the configured models')
    .option('--dtype <profile>', 'fetch smaller or larger ONNX files: q8, fp16 or fp32', dtypeProfile)
    .action(async (targets: string[], flags: ModelFlags & { yes?: boolean; dtype?: DtypeProfile }) => {
      const { askYesNo, pullCli } = await import('./models.js');
      await pullCli(configFrom({ ...program.opts(), ...flags }), targets, {
        out,
        err,
        tty: process.stderr.isTTY,
        interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
        confirm: askYesNo,
        ...(flags.yes && { yes: true }),
        ...(flags.dtype && { dtype: flags.dtype }),
      });
    });
  models
    .command('list')
    .description('Configured model per task: where it is, size on disk, ready or not')
    .option('--models <dir>', 'models folder')
    .option('--json', 'JSON output')
    .action(async (flags: ModelFlags & { json?: boolean }) => {
      const { listCli } = await import('./models.js');
      await listCli(configFrom({ ...program.opts(), ...flags }), { out, err, json: flags.json });
    });
  models
    .command('remove')
    .description('Delete downloaded model folders (task names or model ids)')
    .argument('<targets...>', 'task names or model ids')
    .option('--models <dir>', 'models folder')
    .action(async (targets: string[], flags: ModelFlags) => {
      const { removeCli } = await import('./models.js');
      await removeCli(configFrom({ ...program.opts(), ...flags }), targets, { out, err });
    });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof ExitCode) return e.code;
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander already printed the message
    if (e instanceof ConfigError || isUserError(e)) {
      err(`error: ${(e as Error).message}`);
      return 2;
    }
    err(`error: internal error: ${(e as Error)?.message ?? e}`);
    return 1;
  }
}

process.exitCode = await main(process.argv);
