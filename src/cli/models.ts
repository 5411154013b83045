import { existsSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import cliProgress from 'cli-progress';
import type { Config } from '../config.js';
import { UserError } from '../errors.js';
import type { DtypeProfile } from '../models/files.js';
import {
  formatBytes,
  type ModelTarget,
  modelRows,
  removeModels,
  resolveTargets,
} from '../models/hub/manager.js';
import {
  type HubSettings,
  missingFilesError,
  type PullPlan,
  type PullProgress,
  planPull,
  pullModel,
} from '../models/hub/pull.js';

export interface ModelsIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Draw a live bar (a terminal); otherwise progress is printed as lines at each quarter. */
  tty?: boolean;
  /** Injected in tests. */
  fetch?: typeof fetch;
}

export interface PullIo extends ModelsIo {
  /** `--yes`: no question before downloading the configured defaults. */
  yes?: boolean;
  /** `--dtype`: fetch this profile's files for every backend whose files depend on its dtype. */
  dtype?: DtypeProfile;
  /** A person can answer a question (stdin and stderr are terminals). */
  interactive?: boolean;
  /** Asks the question; true to go on. */
  confirm?: (question: string) => Promise<boolean>;
  /** Free bytes on the filesystem holding `dir` (default: statfs); injected in tests. */
  freeBytes?: (dir: string) => Promise<number>;
}

/** Progress as log lines (the start log, pipes): one line at 0, 25, 50, 75 and 100 % of each file. */
export function progressLines(print: (line: string) => void): (p: PullProgress) => void {
  const last = new Map<string, number>();
  return (p) => {
    const key = `${p.model}/${p.file}`;
    const quarter = p.total === 0 ? 4 : Math.floor((p.received / p.total) * 4);
    if (last.get(key) === quarter) return;
    last.set(key, quarter);
    print(`  ${key}: ${formatBytes(p.received)} of ${formatBytes(p.total)} (${quarter * 25}%)`);
  };
}

function progressBar(io: ModelsIo): { onProgress: (p: PullProgress) => void; stop: () => void } {
  if (!io.tty) return { onProgress: progressLines(io.err), stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { format: '  {file} [{bar}] {percentage}% {done}/{size}', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let current = '';
  return {
    onProgress: (p) => {
      const payload = {
        file: `${p.model}/${p.file}`,
        done: formatBytes(p.received),
        size: formatBytes(p.total),
      };
      if (current !== payload.file) {
        if (current) bar.stop();
        current = payload.file;
        bar.start(p.total, p.received, payload);
      } else bar.update(p.received, payload);
    },
    stop: () => {
      if (current) bar.stop();
    },
  };
}

/** A yes/no question on the terminal (stderr), default no. */
export async function askYesNo(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** Free bytes for an unprivileged user on the filesystem that holds `dir` (or would, once created). */
export async function freeBytesAt(dir: string): Promise<number> {
  let at = resolve(dir);
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  const fs = await statfs(at);
  return fs.bavail * fs.bsize;
}

interface Planned {
  target: ModelTarget;
  plan: PullPlan;
  /** The dtype profile's files are the ones planned. */
  profiled: boolean;
  /** Why the profile's files were not used (the repo lacks them). */
  note?: string;
}

/** Lists each target's repo; a profile whose files the repo lacks falls back to the configured files. */
async function planAll(config: Config, targets: ModelTarget[], hub: HubSettings): Promise<Planned[]> {
  const planned: Planned[] = [];
  const base = { modelsDir: config.models.dir, hub };
  for (const target of targets) {
    if (target.profile) {
      const plan = await planPull({ ...base, modelId: target.model, files: target.profile.files });
      if (!plan.missing.length) {
        planned.push({ target, plan, profiled: true });
        continue;
      }
      const fallback = await planPull({ ...base, modelId: target.model, files: target.files });
      if (fallback.missing.length) throw missingFilesError(fallback, hub.endpoint);
      const note = `${target.model} has no ${target.profile.dtype} files (no ${plan.missing.join(', ')}): keeping the configured ones.`;
      planned.push({ target, plan: fallback, profiled: false, note });
      continue;
    }
    const plan = await planPull({ ...base, modelId: target.model, files: target.files });
    if (plan.missing.length) throw missingFilesError(plan, hub.endpoint);
    planned.push({ target, plan, profiled: false });
  }
  return planned;
}

/** What will be fetched, model by model and file by file, with sizes. */
function printPlan(planned: Planned[], io: PullIo): void {
  for (const { target, plan, note } of planned) {
    const todo = plan.files.filter((f) => !f.present);
    const here = plan.files.length - todo.length;
    io.out(
      `${target.model} (${target.tasks.join(', ')}): ${todo.length ? `${todo.length} files, ${formatBytes(plan.download)}` : 'complete'}` +
        (here && todo.length ? ` (${here} already here)` : ''),
    );
    for (const f of todo) {
      const resumed = f.partial ? ` (${formatBytes(f.partial)} already downloaded)` : '';
      io.out(`  ${f.path}  ${formatBytes(f.size)}${resumed}`);
    }
    if (note) io.out(`  note: ${note}`);
  }
}

/** After a profile pull: the config lines that make iris load the files just fetched. */
function profileHint(planned: Planned[], dtype: DtypeProfile, io: PullIo): void {
  const tasks = planned.filter((p) => p.profiled).flatMap((p) => p.target.tasks);
  if (!tasks.length) return;
  io.out(`iris loads the ${dtype} files once the config says so (config/local.yaml):`);
  io.out('tasks:');
  for (const task of tasks) io.out(`  ${task}: { options: { dtype: ${dtype} } }`);
}

/**
 * `iris models pull [task|id…] [--yes] [--dtype q8|fp16|fp32]` — lists what it will fetch (sizes from the
 * hub's listing, free disk) first; the configured defaults (no names) need a yes on a terminal or `--yes`.
 * Refuses before downloading anything when the disk is too small; nothing configured is fetched twice.
 */
export async function pullCli(config: Config, names: readonly string[], io: PullIo): Promise<void> {
  if (config.models.offline) {
    throw new UserError(
      'not_available',
      'models.offline is true: nothing is downloaded. Set models.offline: false (config/local.yaml) to pull, or copy the model folders into models.dir.',
    );
  }
  const targets = resolveTargets(config, names, undefined, io.dtype ? { dtype: io.dtype } : {});
  if (!targets.length) return io.out('Nothing to pull: no configured backend reads a model folder.');
  const endpoint = config.providers.huggingface.endpoint;
  const token = config.providers.huggingface.token || undefined;
  const hub: HubSettings = { endpoint, ...(token && { token }), ...(io.fetch && { fetch: io.fetch }) };
  io.out(`From ${endpoint}${token ? ' (with HF_TOKEN)' : ''}:`);
  const planned = await planAll(config, targets, hub);
  printPlan(planned, io);
  const total = planned.reduce((n, p) => n + p.plan.download, 0);
  const free = await (io.freeBytes ?? freeBytesAt)(config.models.dir);
  io.out(
    `Total to download: ${formatBytes(total)}; free on the disk holding ${resolve(config.models.dir)}: ${formatBytes(free)}.`,
  );
  if (total > free) {
    throw new UserError(
      'download_failed',
      `the models need ${formatBytes(total)} but the disk holding ${resolve(config.models.dir)} has ${formatBytes(free)} free. ` +
        'Nothing was downloaded: free some space, set models.dir (IRIS_MODELS_DIR) to a larger disk, or pull fewer models (--dtype q8 fetches smaller files).',
    );
  }
  if (total > 0 && names.length === 0 && !io.yes) {
    if (!io.interactive || !io.confirm) {
      throw new UserError(
        'bad_option',
        `iris models pull downloads every configured model (${formatBytes(total)}): confirm on a terminal, or run it with --yes.`,
      );
    }
    if (!(await io.confirm(`Download ${formatBytes(total)}? [y/N] `))) {
      io.out('Nothing was downloaded.');
      return;
    }
  }
  for (const { target, plan, profiled } of planned) {
    io.err(`${target.model} (${target.tasks.join(', ')})`);
    const progress = progressBar(io);
    try {
      const result = await pullModel({
        modelId: target.model,
        files: profiled && target.profile ? target.profile.files : target.files,
        modelsDir: config.models.dir,
        hub,
        plan,
        onProgress: progress.onProgress,
      });
      progress.stop();
      const fetched = result.files.filter((f) => f.fetched);
      const bytes = fetched.reduce((n, f) => n + f.size, 0);
      io.out(
        `${target.model}: ready in ${result.dir} (${fetched.length ? `${fetched.length} files, ${formatBytes(bytes)} downloaded` : 'already complete'})`,
      );
    } finally {
      progress.stop();
    }
  }
  if (io.dtype) profileHint(planned, io.dtype, io);
}

/** `iris models list` — configured model per task, where it is, size on disk, ready or not. */
export async function listCli(config: Config, io: ModelsIo & { json?: boolean }): Promise<void> {
  const rows = await modelRows(config);
  if (io.json) {
    io.out(JSON.stringify(rows));
    return;
  }
  const table = rows.map((r) => [
    r.task,
    `${r.backend} ${r.model}`,
    r.state === 'incomplete' ? `incomplete (no ${r.missingFiles.join(', ')})` : r.state,
    r.bytesOnDisk ? formatBytes(r.bytesOnDisk) : '-',
    r.dir || '-',
  ]);
  const head = ['task', 'backend / model', 'state', 'size', 'folder'];
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] as string).length)));
  for (const row of [head, ...table])
    io.out(
      row
        .map((c, i) => c.padEnd(widths[i] as number))
        .join('  ')
        .trimEnd(),
    );
  if (rows.some((r) => r.state === 'missing' || r.state === 'incomplete')) {
    io.out(
      config.models.offline
        ? 'models.offline is true: copy the missing folders into models.dir (or set it to false and run `iris models pull`).'
        : 'Run `iris models pull` to download what is missing (or `iris start --demo` for the colour-world models).',
    );
  }
}

/** `iris models remove <task|id…>` */
export async function removeCli(config: Config, names: readonly string[], io: ModelsIo): Promise<void> {
  for (const model of await removeModels(config, names)) io.out(`removed ${model}`);
}
