/**
 * The shape of the task table (tasks.ts `TASKS`): each backend row declares its options schema
 * (options.ts), and `defineBackend` ties that schema's output to the factory's and the file list's types.
 * Also the checks of configured or requested options against a row, with the messages that name the key.
 */
import type { z } from 'zod';
import type { Backend, TaskName } from '../contracts/backend.js';
import { listChoices } from '../errors.js';
import type { ModelFiles } from './files.js';
import type { OptionsSchema } from './options.js';
import type { BackendFactory, BackendLoadOptions } from './types.js';

/** A backend row as written in the table: its options schema types its factory and its file list. */
export interface BackendSpec<T extends TaskName, S extends OptionsSchema> {
  /** Hugging Face model id used when config names none. */
  defaultModel: string;
  /** Its options (config `tasks.<task>.options`), checked at config load and on every override. */
  options: S;
  /** Loaded lazily so an unused backend costs nothing at start-up. */
  load: () => Promise<BackendFactory<T, z.output<S>>>;
  /** false: the backend needs no model folder (a remote API, or weights shipped in an npm package); it gets modelDir ''. */
  modelFolder?: false;
  /** Scheduler queue when it differs from the task's (a remote API beside local models). */
  queue?: string;
  /** The repo files this backend reads, for its options (`iris models pull` fetches only these). */
  files?: (options: z.output<S>) => ModelFiles;
}

/** A backend row of the table, whatever its options' type: each member takes options as given and parses them. */
export interface BackendEntry<T extends TaskName> {
  defaultModel: string;
  options: OptionsSchema;
  modelFolder?: false;
  queue?: string;
  /** Loads the factory and builds the backend with the options parsed by `options`. */
  create(load: BackendLoadOptions<unknown>): Promise<Backend<T>>;
  files?(options: unknown): ModelFiles;
}

/** A table row: the spec's types stay tied together here, so nothing else needs a cast. */
export function defineBackend<T extends TaskName, S extends OptionsSchema>(
  spec: BackendSpec<T, S>,
): BackendEntry<T> {
  const { load, files, ...row } = spec;
  return {
    ...row,
    create: async (o) => (await load())({ ...o, options: spec.options.parse(o.options) }),
    ...(files && { files: (options: unknown) => files(spec.options.parse(options)) }),
  };
}

export interface TaskEntry<T extends TaskName> {
  description: string;
  /** Scheduler queue its jobs run on. */
  queue: string;
  backends: Record<string, BackendEntry<T>>;
}

export type TaskTable = { [T in TaskName]?: TaskEntry<T> };

/**
 * What is wrong with a task's configured backend and options: nothing ([]), an unknown backend, or what its
 * options schema refuses. Paths start at the task (`['vqa', 'options', 'maxNewTokens']`); config load
 * reports these with the rest of the config's errors.
 */
export function taskConfigIssues(
  task: TaskName,
  configured: { backend: string; options: unknown },
  table: TaskTable,
): z.core.$ZodIssue[] {
  const backends = (table[task] as TaskEntry<TaskName> | undefined)?.backends;
  if (!backends) return [];
  const entry = backends[configured.backend];
  if (!entry) {
    return [
      {
        code: 'custom',
        path: [task, 'backend'],
        message: `unknown backend; valid backends: ${listChoices(Object.keys(backends))}`,
        input: configured.backend,
      },
    ];
  }
  const parsed = entry.options.safeParse(configured.options);
  return parsed.success ? [] : parsed.error.issues.map((i) => ({ ...i, path: [task, 'options', ...i.path] }));
}

/** "tasks.vqa.options.maxNewTokens: expected a positive integer", "tasks.vqa.options: unknown key foo". */
export function optionIssueText(task: TaskName, issue: z.core.$ZodIssue): string {
  const path = ['tasks', task, 'options', ...issue.path].join('.');
  return issue.code === 'unrecognized_keys'
    ? `${path}: unknown key ${issue.keys.join(', ')}`
    : `${path}: ${issue.message}`;
}
