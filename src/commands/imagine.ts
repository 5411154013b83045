import type { Config } from '../config.js';
import { type AnyCommand, type Command, defineCommand, type OptionSpec } from '../contracts/command.js';
import type { Button, LoadedImage, Reply, ReplyImage } from '../contracts/request.js';
import {
  type ImagineIO,
  MAX_SEED,
  randomSeed,
  SCHEDULER_LABELS,
  SCHEDULER_NAMES,
  type SchedulerName,
} from '../contracts/tasks/imagine.js';
import { validateArgs } from '../core/options.js';
import { listChoices, UserError } from '../errors.js';
import {
  decodeImagineButton,
  encodeImagineButton,
  type ImagineButtonAction,
  type ImagineButtonParams,
  keepButtonPrompt,
  keptButtonPrompt,
} from './imagine-buttons.js';
import {
  checkMemoryBudget,
  findBlocked,
  imagineAltText,
  parseInlineParams,
  parseSize,
  sizeForAspect,
} from './imagine-params.js';
import {
  blurred,
  captionGenerated,
  FLAGGED_DESCRIPTION,
  screenGenerated,
  sealed,
  spoilerOrBlur,
} from './imagine-trust.js';

const MAX_PROMPT = 1000;

export const IMAGINE_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'prompt',
    type: 'string',
    required: true,
    maxLength: MAX_PROMPT,
    description: 'What to draw. Midjourney-style --ar 3:2 --seed 7 --no text work inside it too.',
  },
  {
    name: 'negative',
    type: 'string',
    maxLength: MAX_PROMPT,
    description: 'What to keep out of the picture.',
  },
  {
    name: 'seed',
    type: 'integer',
    min: 0,
    max: MAX_SEED,
    description: 'Same seed and options → same image.',
  },
  { name: 'steps', type: 'integer', min: 1, max: 1000, description: 'Denoising steps (turbo: 1–4).' },
  {
    name: 'guidance',
    type: 'number',
    min: 0,
    max: 25,
    description: 'How closely to follow the prompt (turbo: 0).',
  },
  {
    name: 'size',
    type: 'string',
    maxLength: 20,
    description: 'width x height, multiples of 64, e.g. 512x512.',
  },
  { name: 'model', type: 'string', maxLength: 20, description: 'turbo (fast) or v1-5 (slower, guided).' },
  { name: 'count', type: 'integer', min: 1, max: 4, description: 'How many images (1–4).' },
  {
    name: 'scheduler',
    type: 'string',
    choices: SCHEDULER_NAMES,
    description: 'Sampler (default: the model’s).',
  },
  {
    name: 'strength',
    type: 'number',
    min: 0.05,
    max: 1,
    description: 'With an image: how much to change it.',
  },
  { name: 'image', type: 'image', description: 'Start from this image (a variation).' },
  {
    name: 'variation_of',
    type: 'integer',
    min: 0,
    max: MAX_SEED,
    hidden: true,
    description: 'Seed of the image to vary (buttons).',
  },
  {
    name: 'prompt_hash',
    type: 'string',
    maxLength: 16,
    hidden: true,
    description: 'Stored full prompt (buttons).',
  },
];

export interface ImagineInput {
  modelName: string;
  modelId: string;
  prompt: string;
  negative?: string;
  seed: number;
  steps: number;
  guidance: number;
  width: number;
  height: number;
  count: number;
  scheduler?: SchedulerName;
  variation?: { seed?: number; image?: LoadedImage; strength: number };
  notes: string[];
}

type Args = Record<string, string | number | boolean | undefined>;

function modelNameFor(config: Config): string {
  const entry = Object.entries(config.tasks.imagine.models).find(
    ([, m]) => m.id === config.tasks.imagine.model,
  );
  return entry?.[0] ?? (Object.keys(config.tasks.imagine.models)[0] as string);
}

/** Request options + inline `--x` parameters (inline wins; `--no` adds to `negative`). */
function mergeInline(args: Args): { prompt: string; args: Args; ar?: string } {
  const inline = parseInlineParams(String(args.prompt ?? ''));
  const { ar, ...rest } = inline.params;
  const pseudo = { name: 'imagine', options: IMAGINE_OPTIONS.map((o) => ({ ...o, required: false })) };
  const typed = validateArgs(pseudo as unknown as AnyCommand, rest, 0);
  const negative = [args.negative, typed.negative]
    .filter((v) => typeof v === 'string' && v !== '')
    .join(', ');
  return { prompt: inline.prompt, args: { ...args, ...typed, negative: negative || undefined }, ar };
}

/** What a Reroll or Vary button of this request carries. */
function buttonParamsOf(input: ImagineInput): ImagineButtonParams {
  return {
    prompt: input.prompt,
    negative: input.negative,
    steps: input.steps,
    guidance: input.guidance,
    width: input.width,
    height: input.height,
    count: input.count,
    model: input.modelName,
    scheduler: input.scheduler,
  };
}

export interface ImagineCommandDeps {
  /** Seed source for requests without a seed (tests). */
  random?: () => number;
}

/** /imagine's machine-readable result (the CLI's --json). */
export interface ImagineData {
  prompt: string;
  negative: string | null;
  model: string;
  steps: number;
  scheduler: string;
  guidance: number;
  images: { seed: number; width: number; height: number; name: string; altText: string }[];
  notes: string[];
}

export function createImagineCommand(deps: ImagineCommandDeps = {}): Command<ImagineInput, ImagineData> {
  return defineCommand<ImagineInput, ImagineData>({
    name: 'imagine',
    description: 'Draw a picture from a text prompt (Stable Diffusion, on this server).',
    options: IMAGINE_OPTIONS,
    queue: 'gpu',
    priority: 'normal',
    // Adapters deliver a press as { button: id }; the id carries every option (see imagine-buttons.ts).
    fromButton: (id) => decodeImagineButton(id).args,

    async parse({ args: rawArgs, config, settings, loadImages, request }) {
      const cfg = config.tasks.imagine;
      if (request.images.length > 1) {
        throw new UserError(
          'bad_option',
          `/imagine takes one image to start from (got ${request.images.length}).`,
        );
      }
      const notes: string[] = [];
      const merged = mergeInline(rawArgs);
      const args = merged.args;
      let prompt = merged.prompt;
      let negative = typeof args.negative === 'string' ? args.negative : undefined;
      if (typeof args.prompt_hash === 'string') {
        const kept = settings ? await keptButtonPrompt(settings, args.prompt_hash) : undefined;
        if (kept?.prompt.startsWith(prompt)) {
          prompt = kept.prompt;
          negative = kept.negative || undefined;
        } else notes.push('The full prompt of that button has expired; used its first words.');
      }
      if (prompt === '') {
        throw new UserError(
          'bad_option',
          'Describe the picture you want: /imagine needs a prompt, e.g. "a red square --ar 3:2".',
        );
      }
      const blocked =
        config.safety.imagine.mode === 'off'
          ? undefined
          : findBlocked(prompt, [...cfg.blocklist, ...cfg.blocklistExtra]);
      if (blocked) {
        throw new UserError(
          'blocked',
          `The prompt contains "${blocked}", which is not allowed here. Change the prompt and try again.`,
        );
      }
      const modelName = typeof args.model === 'string' ? args.model : modelNameFor(config);
      const profile = cfg.models[modelName];
      if (!profile) {
        throw new UserError(
          'bad_option',
          `Unknown model ${modelName}. Models: ${listChoices(Object.keys(cfg.models))}.`,
        );
      }
      const steps = typeof args.steps === 'number' ? args.steps : profile.steps;
      if (steps > profile.maxSteps) {
        throw new UserError(
          'bad_option',
          `steps must be from 1 to ${profile.maxSteps} for ${modelName} (got ${steps}).`,
        );
      }
      const count = typeof args.count === 'number' ? args.count : 1;
      if (count > cfg.limits.maxCount) {
        throw new UserError('bad_option', `count must be from 1 to ${cfg.limits.maxCount} (got ${count}).`);
      }
      let size = parseSize(typeof args.size === 'string' ? args.size : cfg.size, cfg.limits);
      if (merged.ar) size = sizeForAspect(merged.ar, size, cfg.limits);
      const guidance = typeof args.guidance === 'number' ? args.guidance : profile.guidance;
      if (negative && guidance <= 1) {
        notes.push(
          `The negative prompt has no effect at guidance ${guidance}; give guidance above 1 to use it.`,
        );
      }
      const strength = typeof args.strength === 'number' ? args.strength : cfg.strength;
      const images = await loadImages();
      const variation =
        images[0] !== undefined
          ? { image: images[0], strength }
          : typeof args.variation_of === 'number'
            ? { seed: args.variation_of, strength }
            : undefined;
      checkMemoryBudget({ ...size, count: variation ? 1 : count, guidance }, cfg.limits.memoryMB);
      const input: ImagineInput = {
        modelName,
        modelId: profile.id,
        prompt,
        negative,
        seed: typeof args.seed === 'number' ? args.seed : randomSeed(deps.random),
        steps,
        guidance,
        ...size,
        count: variation ? 1 : count,
        scheduler: (typeof args.scheduler === 'string' ? args.scheduler : profile.scheduler) as
          | SchedulerName
          | undefined,
        variation,
        notes,
      };
      // Kept here, not after the run: parse runs where the adapter's settings store is, and a worker
      // (scale-out) runs the job elsewhere.
      // A store that cannot be written costs only the full prompt: the buttons carry its first words.
      if (settings) {
        await keepButtonPrompt(settings, buttonParamsOf(input), {
          strength: cfg.strength,
          ttlSeconds: cfg.buttonTtlSeconds,
        }).catch(() => {});
      }
      return input;
    },

    async run(input, ctx) {
      const { config } = ctx;
      const backend = await ctx.backend('imagine', { model: input.modelId });
      const base: ImagineIO['in'] = {
        prompt: input.prompt,
        negative: input.negative,
        seed: input.seed,
        steps: input.steps,
        guidance: input.guidance,
        width: input.width,
        height: input.height,
        count: input.count,
        scheduler: input.scheduler,
        modelName: input.modelName,
      };
      const report = (p: { step?: number; total?: number; message?: string; preview?: Buffer }) => {
        ctx.progress({ kind: 'running', ...p }).catch(() => {});
      };
      let init: ImagineIO['in']['init'];
      const v = input.variation;
      if (v?.image) init = { image: v.image, strength: v.strength };
      else if (v?.seed !== undefined) {
        report({ message: 'recreating the image to vary' });
        const src = await backend.run({ ...base, seed: v.seed, count: 1 }, { signal: ctx.signal });
        const png = src.images[0]?.png as Buffer;
        init = {
          image: { name: 'source.png', bytes: png, format: 'png', width: input.width, height: input.height },
          strength: v.strength,
        };
      }
      const out = await backend.run(
        { ...base, init, previewEvery: config.tasks.imagine.previewEvery },
        { signal: ctx.signal, onProgress: report },
      );

      const images: ReplyImage[] = [];
      const kept: { seed: number; width: number; height: number; name: string; altText: string }[] = [];
      const notes = [...input.notes];
      for (const [i, img] of out.images.entries()) {
        const verdict = await screenGenerated(img, ctx);
        const treatment = verdict?.flagged ? spoilerOrBlur(config, ctx.request.platform) : undefined;
        if (verdict?.flagged && config.safety.imagine.action === 'block') {
          notes.push(
            `Image ${i + 1} was withheld by the safety check (it may not be suitable to post here).`,
          );
          continue;
        }
        // A hidden image's alt text must not describe what the spoiler or blur hides.
        const caption = treatment
          ? FLAGGED_DESCRIPTION
          : await captionGenerated(img, { ...ctx, language: config.altText.language });
        const altText = imagineAltText(
          { prompt: input.prompt, caption },
          { policy: config.altText, platform: ctx.request.platform, index: i, count: out.images.length },
        );
        const name = `iris-${img.seed}.png`;
        const posted = treatment === 'blur' ? await blurred(img.png) : img.png;
        const png = await sealed(posted, { model: input.modelId, seed: img.seed }, config);
        if (treatment === 'spoiler') {
          notes.push(
            `Image ${i + 1} is behind a spoiler: the safety check flagged it as possibly sensitive.`,
          );
        } else if (treatment === 'blur') {
          notes.push(`Image ${i + 1} is blurred: the safety check flagged it as possibly sensitive.`);
        }
        images.push({ png, altText, name, ...(treatment === 'spoiler' && { spoiler: true }) });
        kept.push({ seed: img.seed, width: img.width, height: img.height, name, altText });
      }
      if (images.length === 0) throw new UserError('blocked', notes.join(' '));

      const params = buttonParamsOf(input);
      const actions: [string, ImagineButtonAction][] = [['Reroll', { action: 'reroll' }]];
      kept.forEach((k, i) => {
        const label = kept.length > 1 ? `Vary ${i + 1}` : 'Vary';
        actions.push([label, { action: 'vary', seed: k.seed, strength: config.tasks.imagine.strength }]);
      });
      const buttons: Button[] = [];
      for (const [label, action] of actions) {
        const encoded = encodeImagineButton(params, action);
        buttons.push({ id: encoded.id, label, style: action.action === 'reroll' ? 'primary' : 'secondary' });
      }

      const sampler = SCHEDULER_LABELS[out.scheduler as SchedulerName] ?? out.scheduler;
      const seeds = kept.map((k) => k.seed).join(', ');
      const stepsText = `${out.steps} step${out.steps === 1 ? '' : 's'}`;
      const guidanceText = input.guidance > 1 ? `, guidance ${input.guidance}` : '';
      const varied = init ? `, variation (strength ${init.strength})` : '';
      const line = `"${input.prompt}" — seed ${seeds}, ${stepsText}, ${sampler}${guidanceText}, ${input.modelName}, ${input.width}x${input.height}${varied}`;
      const reply: Reply<ImagineData> = {
        text: [line, ...notes].join('\n'),
        images,
        buttons,
        data: {
          prompt: input.prompt,
          negative: input.negative ?? null,
          model: input.modelName,
          steps: out.steps,
          scheduler: out.scheduler,
          guidance: input.guidance,
          images: kept,
          notes,
        },
      };
      return reply;
    },
  });
}

export const imagineCommand = createImagineCommand();
