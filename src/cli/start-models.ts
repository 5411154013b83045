import { join, resolve } from 'node:path';
import type { Config } from '../config.js';
import type { PageBanner } from '../contracts/adapter.js';
import type { TaskName } from '../contracts/backend.js';
import type { ModelRegistry } from '../models/registry.js';
import { queueOf } from '../models/tasks.js';

/** One task `iris start` would serve, and whether what it needs is here. */
export interface ModelCheck {
  task: TaskName;
  backend: string;
  model: string;
  /** Whether the backend reads a model folder (tesseract's data and remote APIs need none). */
  folder: boolean;
  /** What is missing, in the operator's terms; undefined when ready. */
  missing?: string;
}

/** The task class of a task's jobs on a Redis queue (the rule of src/core/redis/protocol.ts). */
function taskClassOf(task: TaskName, backend: string): string {
  if (queueOf(task, backend) === 'remote') return 'llm';
  return task === 'imagine' ? 'imagine' : 'vision';
}

/**
 * Whether this process runs the task at all: embeddings serve only image memory, which is off until an
 * admin lists channels; on a Redis queue, models run on `iris worker` processes unless queue.localWorkers
 * names their class.
 */
function servedHere(config: Config, task: TaskName, backend: string): boolean {
  if (task === 'embed' && config.imageIndex.channels.length === 0) return false;
  if (config.queue.kind === 'redis') {
    return (config.queue.localWorkers as string[]).includes(taskClassOf(task, backend));
  }
  return true;
}

async function missingWithoutFolder(config: Config, check: ModelCheck): Promise<string | undefined> {
  if (check.backend === 'groq' && config.providers.groq.apiKey === '') return 'GROQ_API_KEY is not set';
  if (check.backend === 'tesseract') {
    const { languageDataDir } = await import('../models/read/tesseract.js');
    try {
      languageDataDir(check.model);
    } catch {
      return `npm package @tesseract.js-data/${check.model} is not installed`;
    }
  }
  return undefined;
}

/** Every task this process would serve with its configured backend, and what each one lacks. */
export async function checkModels(config: Config, registry: ModelRegistry): Promise<ModelCheck[]> {
  const checks: ModelCheck[] = [];
  for (const s of registry.status()) {
    if (!servedHere(config, s.task, s.backend)) continue;
    const folder = s.dir !== '';
    const check: ModelCheck = { task: s.task, backend: s.backend, model: s.model, folder };
    check.missing =
      s.state === 'missing'
        ? `no folder ${join(resolve(config.models.dir), s.model)}`
        : folder
          ? undefined
          : await missingWithoutFolder(config, check);
    checks.push(check);
  }
  return checks;
}

/** `/imagine model:NAME` choices whose folders are not on disk (only the default one is required). */
export function missingImagineModels(config: Config, registry: ModelRegistry): string[] {
  return Object.entries(config.tasks.imagine.models)
    .filter(([, m]) => m.id !== config.tasks.imagine.model)
    .filter(([, m]) => {
      try {
        registry.resolveModelDir(m.id);
        return false;
      } catch {
        return true;
      }
    })
    .map(([name, m]) => `${name} (${m.id})`);
}

/** No model folder this process would read is on disk: a fresh clone, before `iris models pull`. */
export function noModelsAtAll(checks: ModelCheck[]): boolean {
  const folders = checks.filter((c) => c.folder);
  return folders.length > 0 && folders.every((c) => c.missing);
}

/**
 * The one message `iris start` exits 2 with when a platform would connect and some of its tasks could not
 * answer: which models, where they were looked for, and the commands that fix it.
 */
export function missingModelsMessage(config: Config, missing: ModelCheck[]): string {
  const names = missing.map((c) =>
    c.folder ? `${c.task} (${c.model})` : `${c.task} (${c.backend} ${c.model}: ${c.missing})`,
  );
  const folders = missing.some((c) => c.folder);
  return (
    `iris would connect with ${missing.length === 1 ? 'a task' : `${missing.length} tasks`} unable to answer: ` +
    `missing ${names.join(', ')}${folders ? ` in ${resolve(config.models.dir)}` : ''}. ` +
    (folders
      ? 'Run `iris models pull` to download the configured models (or point --models / IRIS_MODELS_DIR at ' +
        'the folder that has them), then start again; `iris start --demo` runs the colour-world demo models instead.'
      : 'Fix the above, then start again.')
  );
}

export function demoBanner(colours: readonly string[]): PageBanner {
  return {
    title: 'Demo models',
    lines: [
      `iris is running its tiny colour-world demo models, not real ones. They see only the average colour of an image and know eight colours: ${colours.join(', ')}.`,
      'Try: upload a solid-colour image (alt text), /tags on it, reply "what colour is it?", /read, /find red, /imagine a red square. Anything else gets an answer about colours, and other prompts draw noise.',
      'For real models, stop iris, run this, then start it again:',
    ],
    command: 'npx iris models pull',
  };
}

export function missingBanner(missing: ModelCheck[]): PageBanner {
  return {
    title: 'Some models are missing',
    lines: [
      `These tasks cannot answer yet: ${missing.map((c) => `${c.task} (${c.model})`).join(', ')}.`,
      'To download them, stop iris, run this, then start it again:',
    ],
    command: 'npx iris models pull',
  };
}
