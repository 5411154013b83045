import type { App } from '../app.js';
import { captionCommand } from '../commands/caption.js';
import { dataOf, exitCodeOf, runOnImageFile } from './request.js';

export interface ImageCliOptions {
  json?: boolean;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** `iris caption IMAGE`: alt text and caption, or `{"altText":…,"caption":…}` with --json. Returns the exit code. */
export async function captionCli(app: App, file: string, opts: ImageCliOptions): Promise<number> {
  const reply = await runOnImageFile(app, { command: captionCommand, file });
  if (reply.error) {
    opts.err(`error: ${reply.text ?? 'failed'}`);
    return exitCodeOf(reply);
  }
  const { altText, caption } = dataOf(reply);
  if (opts.json) opts.out(JSON.stringify({ altText, caption }));
  else opts.out(reply.text ?? '');
  return 0;
}
