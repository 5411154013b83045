import { type Command, InvalidArgumentError, Option } from 'commander';
import { askCommand } from '../commands/ask.js';
import { captionCommand } from '../commands/caption.js';
import { compareCommand } from '../commands/compare.js';
import { findCommand } from '../commands/find.js';
import { imagineCommand } from '../commands/imagine.js';
import { readCommand } from '../commands/read.js';
import { similarCommand } from '../commands/similar.js';
import { tagsCommand } from '../commands/tags.js';
import type { Config } from '../config.js';
import type { AnyCommand } from '../contracts/command.js';
import { TASKS } from '../models/tasks.js';
import { withApp } from './app.js';
import { configFrom, err, exitWith, type ModelFlags, out } from './common.js';
import { argsOf, jsonFlag, modelsFlag, specFlags } from './flags.js';

/**
 * The image and text commands of `iris` (tag, caption, read, find, ask, compare, similar, imagine). Each
 * is one row: the command spec it runs, whose options become its flags (flags.ts), the arguments it
 * takes instead, and the few flags only the CLI has (a model folder, an output file, a backend). The
 * shared flags (`--models`, `--json`) are added by `addTaskCommands`.
 */

type Flags = ModelFlags & Record<string, unknown>;

interface TaskCli {
  name: string;
  description: string;
  spec: AnyCommand;
  /** Commander arguments: `<name>`, `[name]`, `<name...>`, with their help. */
  args: readonly [string, string][];
  /** Spec options that are not flags: taken as arguments, or spelled the CLI's own way. */
  except?: readonly string[];
  /** Flags only the CLI has. */
  extra?: () => Option[];
  /** What --json prints. */
  json: string;
  modelsHelp?: string;
  /** Runs the command; `flags` holds iris's own flags too; returns the exit code. */
  run(argv: string[], flags: Flags, args: Record<string, unknown>): Promise<number>;
}

const NO_QUOTAS = { 'scheduler.perUser.jobs': 0, 'scheduler.perChannel.jobs': 0 };

const VQA_BACKENDS = ['local', 'blip2', 'smolvlm', 'groq'] as const;

function backendChoice(value: string): string {
  if (!(VQA_BACKENDS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`expected ${VQA_BACKENDS.join(', ')}`);
  }
  return value;
}

const vqaBackendFlag = () =>
  new Option('--backend <name>', 'local (the configured local model), blip2, smolvlm or groq').argParser(
    backendChoice,
  );

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

function vqaConfig(flags: Flags): Config {
  return configFrom(flags, vqaOverrides(configFrom(flags), flags.backend as string | undefined));
}

const modelFlag = (what: string) =>
  new Option('--model <id-or-folder>', `${what} model id (in the models folder) or a folder path`);

const TASK_CLIS: readonly TaskCli[] = [
  {
    name: 'tag',
    description: 'Tag images (files or folders) with the labels that fit best; JSON Lines with --json',
    spec: tagsCommand,
    args: [['<images...>', 'image files or folders']],
    except: ['image'],
    extra: () => [modelFlag('CLIP')],
    json: 'one JSON object per image per line, all labels sorted by score',
    async run([...images], flags, args) {
      // A folder is many requests from one user: quotas are for chat, not for the local CLI.
      const config = configFrom(flags, { 'tasks.tag.model': flags.model, ...NO_QUOTAS });
      const { tagCli } = await import('./tag.js');
      return withApp(config, flags, (app) =>
        tagCli(app, images, { args, json: flags.json === true, out, err }),
      );
    },
  },
  {
    name: 'imagine',
    description: 'Draw a picture from a prompt (Stable Diffusion); --json prints {"file","seed","altText"}',
    spec: imagineCommand,
    args: [['<prompt>', 'what to draw; --ar 3:2 --seed 7 --no text style parameters work inside it too']],
    except: ['prompt'],
    extra: () => [
      new Option('--out <file>', 'PNG to write (several images: FILE, FILE-2.png, …)').makeOptionMandatory(),
    ],
    json: 'one JSON object per image: {"file","seed","altText"}',
    async run([prompt = ''], flags, args) {
      const { imagineCli } = await import('./imagine.js');
      const config = configFrom(flags, NO_QUOTAS);
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      try {
        return await withApp(config, flags, (app) =>
          imagineCli(app, prompt, {
            args,
            out: String(flags.out),
            image: flags.image as string | undefined,
            json: flags.json === true,
            progress: process.stderr.isTTY && !flags.json,
            signal: abort.signal,
            print: out,
            err,
          }),
        );
      } finally {
        process.off('SIGINT', onSignal);
      }
    },
  },
  {
    name: 'caption',
    description: 'Describe an image: alt text (under the alt-text policy) and a long caption',
    spec: captionCommand,
    args: [['<image>', 'image file']],
    except: ['image'],
    extra: () => [modelFlag('caption')],
    json: 'print {"altText":…,"caption":…}',
    async run([image = ''], flags) {
      const { captionCli } = await import('./caption.js');
      const config = configFrom(flags, { 'tasks.caption.model': flags.model });
      return withApp(config, flags, (app) => captionCli(app, image, { json: flags.json === true, out, err }));
    },
  },
  {
    name: 'read',
    description: 'Read the text in an image (OCR)',
    spec: readCommand,
    args: [['<image>', 'image file']],
    except: ['image'],
    extra: () => [
      new Option('--backend <name>', 'tesseract (default) or florence2'),
      new Option('--model <id>', 'tesseract language (e.g. eng) or Florence-2 model id / folder'),
    ],
    json: 'print {"text":…}',
    modelsHelp: 'models folder (florence2)',
    async run([image = ''], flags) {
      const { readCli } = await import('./read.js');
      const backend = flags.backend as string | undefined;
      // Another backend than the configured one runs on its own default model unless --model names one,
      // and without the configured backend's options (its schema is another's).
      const configured = configFrom(flags).tasks.read.backend;
      const switched = backend !== undefined && backend !== configured;
      const fallback = switched
        ? (TASKS.read.backends as Record<string, { defaultModel: string }>)[backend]?.defaultModel
        : undefined;
      const config = configFrom(flags, {
        'tasks.read.backend': backend,
        'tasks.read.model': flags.model ?? fallback,
        'tasks.read.options': switched ? {} : undefined,
      });
      return withApp(config, flags, (app) => readCli(app, image, { json: flags.json === true, out, err }));
    },
  },
  {
    name: 'find',
    description: 'Find something in an image: draws boxes around it into a PNG (Florence-2 grounding)',
    spec: findCommand,
    args: [
      ['<image>', 'image file'],
      ['<object>', 'what to find, in a few words (e.g. "red car")'],
    ],
    except: ['image', 'object'],
    extra: () => [
      new Option(
        '--out <file>',
        'PNG to write the boxes to (not written when nothing is found)',
      ).makeOptionMandatory(),
      modelFlag('Florence-2'),
    ],
    json: 'print {"object","boxes":[{label,box,where}],"file"}',
    async run([image = '', object = ''], flags) {
      const { findCli } = await import('./find.js');
      const config = configFrom(flags, { 'tasks.find.model': flags.model });
      return withApp(config, flags, (app) =>
        findCli(app, image, object, { json: flags.json === true, file: String(flags.out), out, err }),
      );
    },
  },
  {
    name: 'ask',
    description: 'Ask a question about an image; --conversation KEY continues an earlier conversation',
    spec: askCommand,
    args: [
      ['<image>', 'image file'],
      ['<question>', 'the question'],
    ],
    // `format: json` is spelled --structured here.
    except: ['image', 'question', 'format'],
    extra: () => [
      new Option('--conversation <key>', 'conversation to continue (remembered between calls)'),
      vqaBackendFlag(),
      new Option('--structured', 'answer as {description, funny_story} (groq)'),
    ],
    json: 'print {"answer": …} as JSON',
    async run([image = '', question = ''], flags) {
      const config = vqaConfig(flags);
      const { askCli } = await import('./ask.js');
      return withApp(config, flags, (app) =>
        askCli(app, image, question, {
          conversation: flags.conversation as string | undefined,
          structured: flags.structured === true,
          json: flags.json === true,
          out,
          err,
        }),
      );
    },
  },
  {
    name: 'compare',
    description: 'Compare 2–4 images (optionally answering a question about them)',
    spec: compareCommand,
    args: [['<images...>', '2 to 4 image files']],
    except: ['image1', 'image2', 'image3', 'image4'],
    extra: () => [vqaBackendFlag()],
    json: 'print {"answer": …, "images": […]} as JSON',
    async run(images, flags, args) {
      const config = vqaConfig(flags);
      const { compareCli } = await import('./ask.js');
      return withApp(config, flags, (app) =>
        compareCli(app, images, { args, json: flags.json === true, out, err }),
      );
    },
  },
  {
    name: 'similar',
    description: "Find a channel's stored images most like an image or a text (the image is stored too)",
    spec: similarCommand,
    args: [['[image]', 'image file to search with']],
    except: ['image'],
    extra: () => [
      new Option(
        '--channel <key>',
        'conversation key, e.g. discord:123456789012345678',
      ).makeOptionMandatory(),
    ],
    json: 'print {"hits":[…]} as JSON',
    async run([image], flags) {
      const { similarCli } = await import('./similar.js');
      const channel = String(flags.channel);
      // the CLI is the local admin: the channel it names is opted in for this call
      const channels = [...configFrom(flags).imageIndex.channels, channel];
      const config = configFrom(flags, { 'imageIndex.channels': channels });
      return withApp(config, flags, (app) =>
        similarCli(app, image, {
          channel,
          text: flags.text as string | undefined,
          top: flags.top as number | undefined,
          json: flags.json === true,
          out,
          err,
        }),
      );
    },
  },
];

/** Adds the task commands to `program`; `global()` reads iris's own flags (--config, --verbose). */
export function addTaskCommands(program: Command): void {
  for (const task of TASK_CLIS) {
    const cli = program.command(task.name).description(task.description);
    for (const [name, help] of task.args) cli.argument(name, help);
    for (const flag of specFlags(task.spec, task.except)) cli.addOption(flag);
    for (const flag of task.extra?.() ?? []) cli.addOption(flag);
    cli.addOption(modelsFlag(task.modelsHelp)).addOption(jsonFlag(task.json));
    cli.action(async () => {
      const argv = (cli.processedArgs as (string | string[] | undefined)[]).flatMap((a) =>
        a === undefined ? [] : a,
      );
      const flags: Flags = { ...program.opts(), ...cli.opts() };
      exitWith(await task.run(argv, flags, argsOf(task.spec, cli.opts(), task.except)));
    });
  }
}
