import { writeFile } from 'node:fs/promises';
import type { App } from '../app.js';
import { findCommand } from '../commands/find.js';
import type { ImageCliOptions } from './caption.js';
import { dataOf, exitCodeOf, runOnImageFile } from './request.js';

export interface FindCliOptions extends ImageCliOptions {
  /** The PNG to write the boxes to (not written when nothing is found). */
  file: string;
}

/**
 * `iris find IMAGE OBJECT --out FILE`: draws the boxes into FILE and prints one line per box
 * ("red: right half (x 50–100%, y 0–100%)"), or with --json `{"object","boxes":[{label,box,where}],"file"}`
 * (`file` null when nothing was found). Nothing found is not an error: exit 0, no file. Returns the exit code.
 */
export async function findCli(
  app: App,
  image: string,
  object: string,
  opts: FindCliOptions,
): Promise<number> {
  const reply = await runOnImageFile(app, { command: findCommand, file: image, args: { object } });
  if (reply.error) {
    opts.err(`error: ${reply.text ?? 'failed'}`);
    return exitCodeOf(reply);
  }
  const data = dataOf(reply);
  const png = reply.images?.[0]?.png;
  if (png) {
    try {
      await writeFile(opts.file, png);
    } catch (e) {
      opts.err(
        `error: cannot write ${opts.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`,
      );
      return 2;
    }
  }
  const file = png ? opts.file : null;
  if (opts.json) {
    opts.out(JSON.stringify({ object: data.object, boxes: data.hits, file }));
    return 0;
  }
  for (const hit of data.hits) opts.out(`${hit.label}: ${hit.where}`);
  opts.err(png ? `boxes drawn in ${opts.file}` : (reply.text ?? `Found no "${object}" in ${image}.`));
  return 0;
}
