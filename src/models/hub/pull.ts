/**
 * Downloads the files a backend needs from a Hugging Face hub (or a mirror) into the models folder:
 * listed with the hub's tree API, fetched with @huggingface/hub's `downloadFile` (a lazy blob whose slices
 * are HTTP Range requests — that is how a dropped download resumes), checked against the size and the
 * hash the hub lists (sha256 for LFS files, the git blob sha1 otherwise), then renamed into place, so a
 * model folder never holds a partial or corrupt file. Partial files wait in `<modelsDir>/.partial/`.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { downloadFile, type ListFileEntry, listFiles } from '@huggingface/hub';
import { listChoices, UserError } from '../../errors.js';
import type { ModelFiles } from '../files.js';

export interface HubSettings {
  /** Hub base URL (config providers.huggingface.endpoint / HF_ENDPOINT). */
  endpoint: string;
  /** HF_TOKEN; sent as a bearer token, never printed. */
  token?: string;
  /** Injected in tests. */
  fetch?: typeof fetch;
}

export interface PullProgress {
  model: string;
  file: string;
  /** Bytes of this file on disk so far (a resumed file starts above 0). */
  received: number;
  total: number;
}

export interface PullOptions {
  modelId: string;
  files: ModelFiles;
  modelsDir: string;
  hub: HubSettings;
  revision?: string;
  /** Further attempts after a dropped connection, each resuming where the last stopped (default 3). */
  retries?: number;
  onProgress?: (p: PullProgress) => void;
  /** Opens a partial file for appending (default: fs.createWriteStream); tests inject a failing disk. */
  createWriteStream?: (path: string, options: { flags: 'a' }) => Writable;
  /** The listing planPull made (so a pull that showed its plan first does not list the repo again). */
  plan?: PullPlan;
}

export interface PlannedFile {
  path: string;
  size: number;
  /** Already complete in the model folder (same size as listed): not fetched again. */
  present: boolean;
  /** Bytes of an interrupted download of it waiting in the partial folder. */
  partial: number;
}

export interface PullPlan {
  modelId: string;
  files: PlannedFile[];
  /** Bytes still to download (what is neither present nor already partly there). */
  download: number;
  /** The hub's entries for the files, in order. */
  entries: ListFileEntry[];
  /** Required files the repo does not have (then nothing can be pulled), and the ONNX files it does have. */
  missing: string[];
  onnxListed: string[];
}

/** Errors that mean the disk (or the user's quota on it) is full: retrying cannot help. */
const DISK_FULL = new Set(['ENOSPC', 'EDQUOT']);

export interface PulledFile {
  path: string;
  size: number;
  /** false: it was already complete on disk. */
  fetched: boolean;
  /** Bytes that were already on disk from an earlier, interrupted download. */
  resumedFrom: number;
}

export interface PullResult {
  dir: string;
  files: PulledFile[];
}

/** Where `<id>` lives, and where its partial downloads wait (same filesystem, so the rename is atomic). */
export function modelPaths(modelsDir: string, modelId: string): { dir: string; partial: string } {
  return { dir: join(modelsDir, modelId), partial: join(modelsDir, '.partial', modelId) };
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

async function hashFile(path: string, kind: 'sha256' | 'git-sha1', size: number): Promise<string> {
  const hash = createHash(kind === 'sha256' ? 'sha256' : 'sha1');
  if (kind === 'git-sha1') hash.update(`blob ${size}\0`);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function hubError(err: unknown, opts: { modelId: string; endpoint: string }): UserError {
  const status = (err as { statusCode?: number }).statusCode;
  if (status === 401 || status === 403) {
    return new UserError(
      'download_failed',
      `${opts.modelId}: the hub at ${opts.endpoint} refused access (HTTP ${status}). Gated or private models need HF_TOKEN with access to the repo.`,
    );
  }
  if (status === 404) {
    return new UserError(
      'download_failed',
      `${opts.modelId} was not found on ${opts.endpoint}. Check the model id (tasks.<task>.model), or set HF_TOKEN for a private repo.`,
    );
  }
  const why = status
    ? `HTTP ${status}`
    : ((err as Error).cause as Error | undefined)?.message || (err as Error).message;
  return new UserError(
    'download_failed',
    `${opts.modelId}: could not reach ${opts.endpoint} (${why}). Check the network, or set HF_ENDPOINT to a mirror.`,
  );
}

/**
 * The wanted files' entries: the required ones, the optional ones the repo has, and each ONNX graph's
 * external-data files (`<graph>.onnx_data`, `<graph>.onnx.data`, …) it lists; and the required ones it lacks.
 */
async function listWanted(
  o: PullOptions,
): Promise<{ entries: ListFileEntry[]; missing: string[]; onnxListed: string[] }> {
  const listed = new Map<string, ListFileEntry>();
  try {
    for await (const entry of listFiles({
      repo: { type: 'model', name: o.modelId },
      recursive: true,
      revision: o.revision,
      hubUrl: o.hub.endpoint,
      ...(o.hub.token && { accessToken: o.hub.token }),
      ...(o.hub.fetch && { fetch: o.hub.fetch }),
    })) {
      if (entry.type === 'file') listed.set(entry.path, entry);
    }
  } catch (err) {
    throw hubError(err, { modelId: o.modelId, endpoint: o.hub.endpoint });
  }
  const missing = o.files.required.filter((f) => !listed.has(f));
  const onnxListed = [...listed.keys()].filter((f) => f.endsWith('.onnx'));
  const wanted = [...o.files.required, ...(o.files.optional ?? [])].filter((f) => listed.has(f));
  const external = wanted
    .filter((f) => f.endsWith('.onnx'))
    .flatMap((f) => [...listed.keys()].filter((p) => p.startsWith(`${f}_data`) || p.startsWith(`${f}.data`)));
  const entries = [...new Set([...wanted, ...external])].map((f) => listed.get(f) as ListFileEntry);
  return { entries, missing, onnxListed };
}

/** The error for a plan whose repo lacks required files: which ones, and the ONNX files it has. */
export function missingFilesError(plan: PullPlan, endpoint: string): UserError {
  return new UserError(
    'download_failed',
    `${plan.modelId} on ${endpoint} has no ${listChoices(plan.missing)}.` +
      (plan.onnxListed.length
        ? ` Its ONNX files: ${listChoices(plan.onnxListed)} — pick the dtype option that matches.`
        : ' It has no ONNX export.'),
  );
}

const sizeOfEntry = (entry: ListFileEntry) => entry.lfs?.size ?? entry.size;

/** What a pull of this model would fetch: the repo's listing against what is already on disk. */
export async function planPull(o: PullOptions): Promise<PullPlan> {
  const { entries, missing, onnxListed } = await listWanted(o);
  const { dir, partial } = modelPaths(o.modelsDir, o.modelId);
  const files: PlannedFile[] = [];
  for (const entry of entries) {
    const size = sizeOfEntry(entry);
    const present = (await sizeOf(join(dir, entry.path))) === size;
    const part = present ? 0 : Math.min(size, (await sizeOf(`${join(partial, entry.path)}.part`)) ?? 0);
    files.push({ path: entry.path, size, present, partial: part });
  }
  const download = files.reduce((n, f) => n + (f.present ? 0 : f.size - f.partial), 0);
  return { modelId: o.modelId, files, download, entries, missing, onnxListed };
}

/** Counts bytes as they pass, for the progress bar. */
function counter(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
}

async function fetchFile(o: PullOptions, entry: ListFileEntry, partial: string): Promise<number> {
  const total = sizeOfEntry(entry);
  const retries = o.retries ?? 3;
  let resumedFrom = -1;
  for (let attempt = 0; ; attempt++) {
    let offset = (await sizeOf(partial)) ?? 0;
    if (offset > total) {
      await rm(partial, { force: true });
      offset = 0;
    }
    if (resumedFrom < 0) resumedFrom = offset;
    if (offset === total) return resumedFrom;
    let received = offset;
    o.onProgress?.({ model: o.modelId, file: entry.path, received, total });
    try {
      const blob = await downloadFile({
        repo: { type: 'model', name: o.modelId },
        path: entry.path,
        revision: o.revision,
        hubUrl: o.hub.endpoint,
        xet: false,
        ...(o.hub.token && { accessToken: o.hub.token }),
        ...(o.hub.fetch && { fetch: o.hub.fetch }),
      });
      if (!blob) throw new UserError('download_failed', `${o.modelId}/${entry.path} vanished from the hub.`);
      // A slice past 0 is a Range request: only the missing tail travels.
      const body = (offset > 0 ? blob.slice(offset) : blob).stream() as WebReadableStream<Uint8Array>;
      await mkdir(dirname(partial), { recursive: true });
      await pipeline(
        Readable.fromWeb(body),
        counter((n) => {
          received += n;
          o.onProgress?.({ model: o.modelId, file: entry.path, received, total });
        }),
        (o.createWriteStream ?? createWriteStream)(partial, { flags: 'a' }),
      );
      if (((await sizeOf(partial)) ?? 0) >= total) return resumedFrom;
    } catch (err) {
      if (err instanceof UserError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code && DISK_FULL.has(code)) {
        // The partial file is removed to give the space back; the next pull starts this file again.
        const have = (await sizeOf(partial)) ?? 0;
        await rm(partial, { force: true });
        throw new UserError(
          'download_failed',
          `${o.modelId}/${entry.path}: the disk holding ${o.modelsDir} is full (${code}) after ${have} of ${total} bytes; ` +
            'the partial file was removed. Free some space and run the same command again.',
          { cause: err },
        );
      }
      const status = (err as { statusCode?: number }).statusCode;
      if (status !== undefined && status < 500)
        throw hubError(err, { modelId: o.modelId, endpoint: o.hub.endpoint });
      if (attempt >= retries) {
        const have = (await sizeOf(partial)) ?? 0;
        throw new UserError(
          'download_failed',
          `${o.modelId}/${entry.path}: the download broke off at ${have} of ${total} bytes (${(err as Error).message}). ` +
            'Run the same command again to resume.',
        );
      }
    }
  }
}

/** Downloads what is missing of one model; files already complete are kept. */
export async function pullModel(o: PullOptions): Promise<PullResult> {
  const { dir, partial } = modelPaths(o.modelsDir, o.modelId);
  const plan = o.plan ?? (await planPull(o));
  if (plan.missing.length) throw missingFilesError(plan, o.hub.endpoint);
  const { entries } = plan;
  const files: PulledFile[] = [];
  for (const entry of entries) {
    const total = sizeOfEntry(entry);
    const target = join(dir, entry.path);
    if ((await sizeOf(target)) === total) {
      files.push({ path: entry.path, size: total, fetched: false, resumedFrom: 0 });
      continue;
    }
    const part = `${join(partial, entry.path)}.part`;
    const resumedFrom = await fetchFile(o, entry, part);
    const size = (await sizeOf(part)) ?? 0;
    const expected = entry.lfs
      ? { kind: 'sha256' as const, hex: entry.lfs.oid }
      : entry.oid
        ? { kind: 'git-sha1' as const, hex: entry.oid }
        : undefined;
    const actual = expected && size === total ? await hashFile(part, expected.kind, size) : undefined;
    if (size !== total || (expected && actual !== expected.hex)) {
      await rm(part, { force: true });
      const what =
        size !== total
          ? `${size} bytes instead of ${total}`
          : `${expected?.kind} ${actual} instead of ${expected?.hex}`;
      throw new UserError(
        'download_failed',
        `${o.modelId}/${entry.path} failed verification (${what}); it was discarded and nothing was added to ${dir}. Run the command again; if it repeats, the hub or a proxy is serving a corrupt file.`,
      );
    }
    await mkdir(dirname(target), { recursive: true });
    await rename(part, target);
    files.push({ path: entry.path, size: total, fetched: true, resumedFrom });
  }
  await rm(partial, { recursive: true, force: true });
  // Empty parents of the partial folder go too (rmdir refuses non-empty ones: other models' partials stay).
  for (let d = dirname(partial); d.length > o.modelsDir.length; d = dirname(d)) {
    if (
      !(await rmdir(d).then(
        () => true,
        () => false,
      ))
    )
      break;
  }
  return { dir, files };
}
