/**
 * `iris models pull|list|remove`: which models the config uses, which files each needs, what is on disk.
 * Targets are task names (the configured backend's model) or model ids (the files of whichever backend
 * row uses that id).
 */
import { existsSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { Config } from '../../config.js';
import type { TaskName } from '../../contracts/backend.js';
import { listChoices, UserError } from '../../errors.js';
import type { DtypeProfile, ModelFiles } from '../files.js';
import { ModelRegistry } from '../registry.js';
import type { BackendEntry, TaskEntry, TaskTable } from '../table.js';
import { TASKS, taskNames } from '../tasks.js';

export interface ModelTarget {
  /** Tasks that use this model (one model may serve caption and read). */
  tasks: TaskName[];
  backend: string;
  model: string;
  /** The files the configured options read. */
  files: ModelFiles;
  /** With a dtype profile (`pull --dtype`): its files, where they differ from the configured ones. */
  profile?: { dtype: DtypeProfile; files: ModelFiles };
}

export interface TargetOptions {
  /** A dtype profile for every backend whose files depend on its `dtype` option. */
  dtype?: DtypeProfile;
}

export interface ModelRow {
  task: TaskName;
  backend: string;
  model: string;
  /** '' for backends without a model folder (remote APIs, npm-shipped data). */
  dir: string;
  state: 'ready' | 'missing' | 'incomplete' | 'no folder';
  missingFiles: string[];
  bytesOnDisk: number;
}

function registryFor(config: Config, table: TaskTable): ModelRegistry {
  return new ModelRegistry({
    modelsDir: config.models.dir,
    executionProviders: config.models.executionProviders,
    tasks: config.tasks,
    table,
  });
}

function entryOf(table: TaskTable, task: TaskName, backend: string): BackendEntry<TaskName> | undefined {
  return (table[task] as TaskEntry<TaskName> | undefined)?.backends[backend];
}

function merge(a: ModelFiles, b: ModelFiles): ModelFiles {
  const required = [...new Set([...a.required, ...b.required])];
  const optional = [...new Set([...(a.optional ?? []), ...(b.optional ?? [])])].filter(
    (f) => !required.includes(f),
  );
  return { required, optional };
}

/**
 * `entry`'s files for `options`, and for the dtype profile when that changes which files it reads (only
 * backends with a `dtype` option have profiles).
 */
function targetFiles(
  entry: BackendEntry<TaskName>,
  options: Record<string, unknown>,
  dtype: DtypeProfile | undefined,
): Pick<ModelTarget, 'files' | 'profile'> {
  const fileList = (o: Record<string, unknown>): ModelFiles => entry.files?.(o) ?? { required: [] };
  const files = fileList(options);
  if (!dtype || !('dtype' in entry.options.shape)) return { files };
  const profiled = fileList({ ...options, dtype });
  const same = JSON.stringify(profiled) === JSON.stringify(files);
  return same ? { files } : { files, profile: { dtype, files: profiled } };
}

/** Every configured task's model that lives in a folder and has a file list, deduplicated by model id. */
export function configuredTargets(
  config: Config,
  table: TaskTable = TASKS,
  o: TargetOptions = {},
): ModelTarget[] {
  const registry = registryFor(config, table);
  const byModel = new Map<string, ModelTarget>();
  for (const task of taskNames(table)) {
    const sel = registry.selection(task);
    const entry = entryOf(table, task, sel.backend);
    if (!entry?.files || entry.modelFolder === false) continue;
    const { files, profile } = targetFiles(entry, sel.options, o.dtype);
    const known = byModel.get(sel.model);
    if (known) {
      known.tasks.push(task);
      known.files = merge(known.files, files);
      if (profile) {
        known.profile = {
          dtype: profile.dtype,
          files: merge(known.profile?.files ?? known.files, profile.files),
        };
      } else if (known.profile) known.profile.files = merge(known.profile.files, files);
    } else {
      byModel.set(sel.model, {
        tasks: [task],
        backend: sel.backend,
        model: sel.model,
        files,
        ...(profile && { profile }),
      });
    }
  }
  return [...byModel.values()];
}

/** `pull tag` / `pull org/name` / `pull` (everything configured) → what to fetch. */
export function resolveTargets(
  config: Config,
  names: readonly string[],
  table: TaskTable = TASKS,
  o: TargetOptions = {},
): ModelTarget[] {
  const configured = configuredTargets(config, table, o);
  if (names.length === 0) return configured;
  const tasks = taskNames(table);
  const out: ModelTarget[] = [];
  for (const name of names) {
    const byTask = tasks.includes(name as TaskName);
    const found = byTask
      ? configured.find((t) => t.tasks.includes(name as TaskName))
      : (configured.find((t) => t.model === name) ?? defaultTarget(name, table, o));
    if (!found) {
      if (byTask) {
        throw new UserError(
          'not_available',
          `${name} uses a backend without a model folder (a remote API or an npm package): nothing to pull.`,
        );
      }
      throw new UserError(
        'unknown_model',
        `iris does not know which files ${name} needs. Name a task (${listChoices(tasks)}) after setting ` +
          `tasks.<task>.model to it, or one of the configured models: ${listChoices(configured.map((t) => t.model))}.`,
      );
    }
    if (!out.includes(found)) out.push(found);
  }
  return out;
}

/** A model id that is some backend's default, with that backend's default files. */
function defaultTarget(model: string, table: TaskTable, o: TargetOptions): ModelTarget | undefined {
  for (const task of taskNames(table)) {
    for (const [backend, entry] of Object.entries((table[task] as TaskEntry<TaskName>).backends)) {
      if (entry.defaultModel === model && entry.files && entry.modelFolder !== false) {
        return { tasks: [task], backend, model, ...targetFiles(entry, {}, o.dtype) };
      }
    }
  }
  return undefined;
}

async function sizeOnDisk(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    total += e.isDirectory()
      ? await sizeOnDisk(p)
      : await stat(p).then(
          (s) => s.size,
          () => 0,
        );
  }
  return total;
}

/** One row per task: configured backend and model, folder, ready / missing / incomplete, size on disk. */
export async function modelRows(config: Config, table: TaskTable = TASKS): Promise<ModelRow[]> {
  const registry = registryFor(config, table);
  const rows: ModelRow[] = [];
  for (const task of taskNames(table)) {
    const sel = registry.selection(task);
    const entry = entryOf(table, task, sel.backend);
    const base = { task, backend: sel.backend, model: sel.model };
    if (entry?.modelFolder === false) {
      rows.push({ ...base, dir: '', state: 'no folder', missingFiles: [], bytesOnDisk: 0 });
      continue;
    }
    const looksLikePath = sel.model.startsWith('.') || sel.model.startsWith('/');
    const dir = resolve(looksLikePath ? sel.model : join(config.models.dir, sel.model));
    if (!existsSync(dir)) {
      rows.push({ ...base, dir, state: 'missing', missingFiles: [], bytesOnDisk: 0 });
      continue;
    }
    const required = entry?.files?.(sel.options).required ?? [];
    const missingFiles = required.filter((f) => !existsSync(join(dir, f)));
    const state = missingFiles.length ? 'incomplete' : 'ready';
    rows.push({ ...base, dir, state, missingFiles, bytesOnDisk: await sizeOnDisk(dir) });
  }
  return rows;
}

/** Deletes model folders (and their partial downloads) inside the models folder; never anything outside it. */
export async function removeModels(
  config: Config,
  names: readonly string[],
  table: TaskTable = TASKS,
): Promise<string[]> {
  if (names.length === 0)
    throw new UserError('bad_option', 'Name the models to remove: task names or model ids.');
  const root = resolve(config.models.dir);
  const tasks = taskNames(table);
  const registry = registryFor(config, table);
  const removed: string[] = [];
  for (const name of names) {
    const model = tasks.includes(name as TaskName) ? registry.selection(name as TaskName).model : name;
    const dir = resolve(root, model);
    const inside = relative(root, dir);
    if (
      !inside ||
      inside.startsWith('..') ||
      inside.startsWith(sep) ||
      model.startsWith('/') ||
      model.startsWith('.')
    ) {
      throw new UserError('bad_option', `${name}: only model folders inside ${root} are removed.`);
    }
    if (!existsSync(dir))
      throw new UserError('model_missing', `${model} is not in ${root}: nothing to remove.`);
    await rm(dir, { recursive: true, force: true });
    await rm(join(root, '.partial', model), { recursive: true, force: true });
    removed.push(model);
  }
  return removed;
}

/** "1.2 GB" */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
