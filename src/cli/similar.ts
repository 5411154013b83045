import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { App } from '../app.js';
import { similarCommand } from '../commands/similar.js';
import type { ImageRef } from '../contracts/request.js';
import { argsOf } from './flags.js';
import { dataOf, exitCodeOf, runCliRequest } from './request.js';

export interface SimilarCliOptions {
  channel: string;
  text?: string;
  top?: number;
  json?: boolean;
  out: (line: string) => void;
  err: (line: string) => void;
}

/**
 * `iris similar --channel KEY (IMAGE | --text TEXT)`: the channel's most similar stored images, one per
 * line (score, link or file, author), or `{"hits":[…]}` with --json. An image searched for is stored in
 * the channel's index (with its absolute path as the link), as it would be in chat. Returns the exit code.
 */
export async function similarCli(
  app: App,
  image: string | undefined,
  opts: SimilarCliOptions,
): Promise<number> {
  if ((image === undefined) === (opts.text === undefined)) {
    opts.err('error: give an image file or --text, not both');
    return 2;
  }
  const images: ImageRef[] = [];
  if (image !== undefined) {
    try {
      images.push({ name: image, data: await readFile(image) });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      opts.err(
        `error: ${image}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder' : (e as Error).message}.`,
      );
      return 2;
    }
  }
  const args = argsOf(similarCommand, { ...opts }, ['image']);
  const reply = await runCliRequest(app, {
    command: similarCommand,
    args,
    images,
    conversation: opts.channel,
    ...(image !== undefined && { messageLink: resolve(image) }),
  });
  if (reply.error) {
    opts.err(`error: ${reply.text ?? 'failed'}`);
    return exitCodeOf(reply);
  }
  const { hits } = dataOf(reply);
  if (opts.json) opts.out(JSON.stringify({ hits }));
  else for (const h of hits) opts.out(`${h.score.toFixed(3)}\t${h.link || h.name}\t${h.author}`);
  return 0;
}
