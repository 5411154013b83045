import { existsSync, readdirSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type {
  Backend,
  BackendProvider,
  ModelState,
  ModelStatus,
  QueueOf,
  TaskName,
  TaskSelection,
} from '../contracts/backend.js';
import { listChoices, UserError } from '../errors.js';
import { SharedModels } from './shared-models.js';
import { type BackendEntry, optionIssueText, type TaskEntry, type TaskTable } from './table.js';
import type { BatchingSettings } from './tag/clip-towers.js';
import { queueOf, TASKS, taskNames } from './tasks.js';
import type { BackendLoadOptions } from './types.js';

export interface RegistryOptions {
  modelsDir: string;
  executionProviders: string[];
  /** Per task: chosen backend, model id or folder, backend options (config `tasks`). */
  tasks: { [T in TaskName]?: TaskSelection };
  /** The task table; tests pass their own. */
  table?: TaskTable;
  /** Remote API settings handed to backends (config `providers`). */
  providers?: BackendLoadOptions<unknown>['providers'];
  /** Where backends share loaded models; tests pass their own to count loads. */
  shared?: SharedModels;
  /** Dynamic batching for backends whose models take a batch (config `scheduler.batching`). */
  batching?: BatchingSettings;
  /**
   * How many jobs of a queue this process runs at once. A backend whose queue runs one job at a time gets
   * no batching: nothing could join its batches, and each call would wait out the window alone.
   * Absent: every backend that can batch does.
   */
  jobsAtOnce?(queue: string): number;
}

/** Model ids (`org/name` or `name`) found in a models folder: any folder holding a config.json. */
export function localModels(modelsDir: string): string[] {
  const found: string[] = [];
  const subdirs = (dir: string) => {
    try {
      return readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch {
      return [];
    }
  };
  for (const first of subdirs(modelsDir)) {
    if (existsSync(join(modelsDir, first, 'config.json'))) found.push(first);
    for (const second of subdirs(join(modelsDir, first))) {
      if (existsSync(join(modelsDir, first, second, 'config.json'))) found.push(`${first}/${second}`);
    }
  }
  return found.sort();
}

/** A model given as a folder path rather than a model id (`org/name`). */
function isModelPath(model: string): boolean {
  return isAbsolute(model) || model.startsWith('.') || model.includes('\\');
}

/** "The caption model (org/name)", or without the name when config gave a folder path (no paths in chat). */
function theModel(task: TaskName, model: string): string {
  return isModelPath(model) ? `The ${task} model` : `The ${task} model (${model})`;
}

/**
 * A backend that failed to load from its model folder (corrupt or incompatible .onnx, unreadable companion
 * file): one message naming the task and model, without the folder path or the runtime's text (those go
 * to the log through `cause`). Other UserErrors pass through as they are (e.g. a missing API key), and so
 * do those of backends without a folder (e.g. "install @tesseract.js-data/xyz"): they name no path.
 */
function loadFailed(o: { task: TaskName; model: string; folder: boolean }, cause: unknown): unknown {
  if (cause instanceof UserError && (cause.code !== 'model_missing' || !o.folder)) return cause;
  return new UserError(
    'model_load_failed',
    `${theModel(o.task, o.model)} could not be loaded, so this is unavailable right now; the reason is in iris's log for the admin.`,
    { cause },
  );
}

/**
 * A model folder that is not there: chat hears which task's model and the fix, the operator's terminal
 * (and the log) also where iris looked and what that folder holds.
 */
function notInstalled(o: { task: TaskName; model: string }, cause: UserError): UserError {
  const pull = isModelPath(o.model) ? 'iris models pull' : `iris models pull ${o.model}`;
  return new UserError(
    'model_missing',
    `${theModel(o.task, o.model)} is not installed on this server, so this is unavailable right now. An admin can get it with \`${pull}\`.`,
    { cause, detail: cause.message },
  );
}

/**
 * Resolves task → backend → model folder, loads backends on first use, caches them and releases them.
 * Backends of different tasks on one model folder (caption, read and find on Florence-2; tag and embed on
 * CLIP) share one loaded model through `SharedModels`: it is loaded once and freed with the last of them.
 * Unknown tasks, backends or models produce errors that list the valid choices.
 */
export class ModelRegistry implements BackendProvider {
  readonly #options: RegistryOptions;
  readonly #loaded = new Map<string, Promise<Backend<TaskName>>>();
  readonly #settled = new Set<string>();
  readonly #table: TaskTable;
  readonly #shared: SharedModels;

  /** Whether a backend gets `batching`: only where jobs of its queue can run side by side. */
  #batches(task: TaskName, backend: string): boolean {
    if (!this.#options.batching) return false;
    const queue = this.queueOf(task, backend);
    return queue === undefined || (this.#options.jobsAtOnce?.(queue) ?? 2) > 1;
  }

  /** The queue of a task's jobs with that backend, from this registry's table. */
  readonly queueOf: QueueOf = (task, backend) => queueOf(task, backend, this.#table);

  constructor(options: RegistryOptions) {
    this.#options = options;
    this.#table = options.table ?? TASKS;
    this.#shared = options.shared ?? new SharedModels();
  }

  #backendsOf(task: TaskName): Record<string, BackendEntry<TaskName>> {
    const row = this.#table[task] as TaskEntry<TaskName> | undefined;
    if (!row) throw new UserError('not_available', `${task} is not available in this build of iris.`);
    return row.backends;
  }

  /** The backend/model this registry would use for a task, after applying config and an optional override. */
  selection(task: TaskName, override?: Partial<TaskSelection>): TaskSelection {
    if (!(task in this.#table)) {
      throw new UserError(
        'not_available',
        `${task} is not available in this build of iris. Available: ${listChoices(taskNames(this.#table))}.`,
      );
    }
    const configured = this.#options.tasks[task];
    const backend = override?.backend ?? configured?.backend ?? Object.keys(this.#backendsOf(task))[0];
    const entry = backend === undefined ? undefined : this.#backendsOf(task)[backend];
    if (!entry || backend === undefined) {
      throw new UserError(
        'unknown_backend',
        `Unknown ${task} backend ${backend}. Valid backends: ${listChoices(Object.keys(this.#backendsOf(task)))}.`,
      );
    }
    const sameBackend = configured?.backend === backend;
    const options = { ...(sameBackend ? configured?.options : {}), ...override?.options };
    const parsed = entry.options.safeParse(options);
    if (!parsed.success) {
      throw new UserError(
        'bad_option',
        `The ${backend} backend's options are not valid: ${parsed.error.issues.map((i) => optionIssueText(task, i)).join('; ')}.`,
      );
    }
    return {
      backend,
      model: override?.model ?? (sameBackend ? configured?.model : undefined) ?? entry.defaultModel,
      options: parsed.data,
    };
  }

  /** Model id or path → absolute folder. A folder path is used as is; an id is looked up in the models dir. */
  resolveModelDir(model: string): string {
    const looksLikePath = isModelPath(model);
    const dir = looksLikePath ? resolve(model) : resolve(this.#options.modelsDir, model);
    if (!existsSync(dir)) {
      const here = looksLikePath ? [] : localModels(this.#options.modelsDir);
      const where = looksLikePath
        ? `${dir} does not exist`
        : `model ${model} is not in ${resolve(this.#options.modelsDir)}`;
      const found = here.length ? ` Models there: ${listChoices(here)}.` : '';
      throw new UserError(
        'model_missing',
        `${where}.${found} Run \`iris models pull${looksLikePath ? '' : ` ${model}`}\` to download it, point --models / IRIS_MODELS_DIR ` +
          'at the folder that has it, or run `iris models synth --out DIR` for the offline colour-world models.',
      );
    }
    return dir;
  }

  async get<T extends TaskName>(task: T, override?: Partial<TaskSelection>): Promise<Backend<T>> {
    const sel = this.selection(task, override);
    const noFolder = this.#backendsOf(task)[sel.backend]?.modelFolder === false;
    let modelDir = '';
    if (!noFolder) {
      try {
        modelDir = this.resolveModelDir(sel.model);
      } catch (err) {
        throw err instanceof UserError ? notInstalled({ task, model: sel.model }, err) : err;
      }
    }
    const key = `${task}\0${sel.backend}\0${modelDir}\0${JSON.stringify(sel.options)}`;
    let pending = this.#loaded.get(key);
    if (!pending) {
      const entry = this.#backendsOf(task)[sel.backend] as BackendEntry<TaskName>;
      pending = entry
        .create({
          modelDir,
          modelId: sel.model,
          executionProviders: this.#options.executionProviders,
          options: sel.options,
          shared: this.#shared,
          ...(this.#batches(task, sel.backend) && { batching: this.#options.batching }),
          ...(this.#options.providers && { providers: this.#options.providers }),
        })
        .catch((cause: unknown) => {
          throw loadFailed({ task, model: sel.model, folder: !noFolder }, cause);
        });
      this.#loaded.set(key, pending);
      // A failed load is forgotten so the next request tries again (the folder may have been fixed).
      pending.then(
        () => this.#settled.add(key),
        () => this.#loaded.delete(key),
      );
    }
    return (await pending) as unknown as Backend<T>;
  }

  /** What each configured task would run, and whether its model is loaded, ready on disk or missing. */
  status(): ModelStatus[] {
    return taskNames(this.#table).map((task) => {
      const sel = this.selection(task);
      let dir: string | undefined;
      try {
        dir =
          this.#backendsOf(task)[sel.backend]?.modelFolder === false ? '' : this.resolveModelDir(sel.model);
      } catch {
        return { task, backend: sel.backend, model: sel.model, state: 'missing' as const };
      }
      const prefix = `${task}\0${sel.backend}\0${dir}\0`;
      const keys = [...this.#loaded.keys()].filter((k) => k.startsWith(prefix));
      const state: ModelState = keys.some((k) => this.#settled.has(k))
        ? 'loaded'
        : keys.length
          ? 'loading'
          : 'ready';
      return { task, backend: sel.backend, model: sel.model, state, dir };
    });
  }

  /** Disposes loaded backends (of one task, or all). */
  async release(task?: TaskName): Promise<void> {
    const keys = [...this.#loaded.keys()].filter((k) => task === undefined || k.startsWith(`${task}\0`));
    await Promise.allSettled(
      keys.map(async (k) => {
        const pending = this.#loaded.get(k);
        this.#loaded.delete(k);
        this.#settled.delete(k);
        await (await pending)?.dispose();
      }),
    );
  }
}
