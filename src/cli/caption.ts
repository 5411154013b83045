import type { App } from '../app.js';
import type { CaptionData } from '../commands/caption.js';
import { exitCodeOf, runOnImageFile } from './request.js';

export interface ImageCliOptions {
  json?: boolean;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** `iris caption IMAGE`: alt text and caption, or `{"altText":…,"caption":…}` with --json. Returns the exit code. */
export async function captionCli(app: App, file: string, opts: ImageCliOptions): Promise<number> {
  const reply = await runOnImageFile(app, { command: 'caption', file });
  if (reply.error) {
    opts.err(`error: ${reply.text ?? 'failed'}`);
    return exitCodeOf(reply);
  }
  const { altText, caption } = reply.data as CaptionData;
  if (opts.json) opts.out(JSON.stringify({ altText, caption }));
  else opts.out(reply.text ?? '');
  return 0;
}
