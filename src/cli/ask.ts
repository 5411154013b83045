import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { App } from '../app.js';
import { askCommand } from '../commands/ask.js';
import { compareCommand } from '../commands/compare.js';
import type { ImageRef, Reply } from '../contracts/request.js';
import { runCliRequest } from './request.js';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Reads image files for a request; a missing file is a user error naming it. */
export async function readImageFiles(paths: string[]): Promise<ImageRef[] | { error: string }> {
  const refs: ImageRef[] = [];
  for (const path of paths) {
    try {
      refs.push({ name: path, data: await readFile(path) });
    } catch (e) {
      const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
      return { error: `${path}: ${reason}.` };
    }
  }
  return refs;
}

/** Prints a reply (text, or its data as one JSON line) and returns the exit code: 0, 2 user error, 1 internal. */
export function printReply(reply: Reply, json: boolean | undefined, io: CliIo): number {
  if (reply.error) {
    io.err(`error: ${(reply.text ?? 'failed').split('\n')[0]}`);
    return reply.error.internal ? 1 : 2;
  }
  io.out(json ? JSON.stringify(reply.data) : (reply.text ?? ''));
  return 0;
}

export interface AskCliOptions extends CliIo {
  conversation?: string;
  json?: boolean;
  structured?: boolean;
}

/**
 * `iris ask IMAGE QUESTION`: one turn of a conversation. With --conversation KEY the turn is remembered
 * (config memory.store, SQLite by default) and the next call with the same KEY continues it; without it
 * the question stands alone.
 */
export async function askCli(
  app: App,
  image: string,
  question: string,
  opts: AskCliOptions,
): Promise<number> {
  const images = await readImageFiles([image]);
  if ('error' in images) {
    opts.err(`error: ${images.error}`);
    return 2;
  }
  const conversation = `cli:${opts.conversation ?? `once:${randomUUID()}`}`;
  const args: Record<string, unknown> = { question };
  if (opts.structured) args.format = 'json';
  try {
    const reply = await runCliRequest(app, { command: askCommand, args, images, conversation });
    return printReply(reply, opts.json, opts);
  } finally {
    if (opts.conversation === undefined) await app.memory.clear(conversation);
  }
}

export interface CompareCliOptions extends CliIo {
  /** The request's options (question), from the command's flags. */
  args: Record<string, unknown>;
  json?: boolean;
}

/** `iris compare A B [C D]`: which image is which is in the answer; --json prints {answer, images}. */
export async function compareCli(app: App, paths: string[], opts: CompareCliOptions): Promise<number> {
  if (paths.length < 2 || paths.length > 4) {
    opts.err(`error: compare takes 2 to 4 images (got ${paths.length}).`);
    return 2;
  }
  const images = await readImageFiles(paths);
  if ('error' in images) {
    opts.err(`error: ${images.error}`);
    return 2;
  }
  const reply = await runCliRequest(app, { command: compareCommand, args: opts.args, images });
  return printReply(reply, opts.json, opts);
}
