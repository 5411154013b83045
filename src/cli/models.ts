import cliProgress from 'cli-progress';
import type { Config } from '../config.js';
import { UserError } from '../errors.js';
import { formatBytes, modelRows, removeModels, resolveTargets } from '../models/hub/manager.js';
import { type PullProgress, pullModel } from '../models/hub/pull.js';

export interface ModelsIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Draw a live bar (a terminal); otherwise progress is printed as lines at each quarter. */
  tty?: boolean;
  /** Injected in tests. */
  fetch?: typeof fetch;
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

/** `iris models pull [task|id…]` — nothing configured is fetched twice; offline refuses with the reason. */
export async function pullCli(config: Config, names: readonly string[], io: ModelsIo): Promise<void> {
  if (config.models.offline) {
    throw new UserError(
      'not_available',
      'models.offline is true: nothing is downloaded. Set models.offline: false (config/local.yaml) to pull, or copy the model folders into models.dir.',
    );
  }
  const targets = resolveTargets(config, names);
  if (!targets.length) return io.out('Nothing to pull: no configured backend reads a model folder.');
  const endpoint = config.providers.huggingface.endpoint;
  const token = config.providers.huggingface.token || undefined;
  for (const target of targets) {
    io.err(`${target.model} (${target.tasks.join(', ')}) from ${endpoint}${token ? ' with HF_TOKEN' : ''}`);
    const progress = progressBar(io);
    try {
      const result = await pullModel({
        modelId: target.model,
        files: target.files,
        modelsDir: config.models.dir,
        hub: { endpoint, ...(token && { token }), ...(io.fetch && { fetch: io.fetch }) },
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
