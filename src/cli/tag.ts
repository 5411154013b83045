import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { App } from '../app.js';
import { MAX_TAG_IMAGES, tagsCommand } from '../commands/tags.js';
import type { ImageRef, Reply } from '../contracts/request.js';
import { dataOf, runCliRequest } from './request.js';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif']);
/** Chunks in flight: the next chunk's files are read and validated while the current one runs. */
const IN_FLIGHT = 2;

export interface TagCliOptions {
  /** The request's options (labels, top), from the command's flags. */
  args: Record<string, unknown>;
  json?: boolean;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Files as given; a folder contributes its image files (sorted, not recursive). */
export async function expandImagePaths(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    const info = await stat(p).catch(() => undefined);
    if (info?.isDirectory()) {
      const names = (await readdir(p)).filter((n) => IMAGE_EXTENSIONS.has(extname(n).toLowerCase())).sort();
      files.push(...names.map((n) => join(p, n)));
    } else {
      files.push(p);
    }
  }
  return files;
}

interface Outcome {
  file: string;
  labels?: unknown;
  text?: string;
  error?: Reply;
}

async function tagChunk(app: App, files: string[], args: Record<string, unknown>): Promise<Outcome[]> {
  const images: ImageRef[] = [];
  const outcomes: Outcome[] = [];
  for (const file of files) {
    try {
      images.push({ name: file, data: await readFile(file) });
    } catch (e) {
      const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
      outcomes.push({
        file,
        error: { text: `${file}: ${reason}.`, error: { code: 'bad_image', internal: false, ref: '' } },
      });
    }
  }
  if (images.length === 0) return outcomes;
  const reply = await runCliRequest(app, { command: tagsCommand, args, images });
  if (reply.error) {
    // One bad image fails its whole request: retry the others one by one so each gets its own answer.
    if (images.length > 1 && !reply.error.internal) {
      for (const image of images) outcomes.push(...(await tagChunk(app, [image.name], args)));
      return outcomes;
    }
    return [...outcomes, ...images.map((i) => ({ file: i.name, error: reply }))];
  }
  const data = dataOf(reply);
  const texts = (reply.text ?? '').split('\n');
  return [...outcomes, ...data.map((d, i) => ({ file: d.file, labels: d.labels, text: texts[i] }))];
}

/** `iris tag IMAGE…`: JSON Lines (one object per image) or a line of top labels per image. Returns the exit code. */
export async function tagCli(app: App, paths: string[], opts: TagCliOptions): Promise<number> {
  const files = await expandImagePaths(paths);
  if (files.length === 0) {
    opts.err('error: no image files given');
    return 2;
  }
  const args = opts.args;
  const chunks: string[][] = [];
  for (let i = 0; i < files.length; i += MAX_TAG_IMAGES) chunks.push(files.slice(i, i + MAX_TAG_IMAGES));

  let sawUserError = false;
  let sawInternalError = false;
  const pending: Promise<Outcome[]>[] = [];
  for (let i = 0; i < chunks.length || pending.length > 0; ) {
    while (pending.length < IN_FLIGHT && i < chunks.length)
      pending.push(tagChunk(app, chunks[i++] as string[], args));
    for (const o of await (pending.shift() as Promise<Outcome[]>)) {
      if (o.error) {
        opts.err(`error: ${o.error.text ?? 'failed'}`);
        if (o.error.error?.internal) sawInternalError = true;
        else sawUserError = true;
      } else if (opts.json) {
        opts.out(JSON.stringify({ file: o.file, labels: o.labels }));
      } else {
        opts.out(files.length > 1 ? (o.text ?? '') : `${o.file}: ${(o.text ?? '').replace(/^Tags: /, '')}`);
      }
    }
  }
  // An internal error outranks a user error: exit 1 says "iris's fault", 2 "fix your input".
  return sawInternalError ? 1 : sawUserError ? 2 : 0;
}
