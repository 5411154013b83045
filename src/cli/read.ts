import type { App } from '../app.js';
import { readCommand } from '../commands/read.js';
import type { ImageCliOptions } from './caption.js';
import { dataOf, exitCodeOf, runOnImageFile } from './request.js';

/**
 * `iris read IMAGE`: the text, or `{"text":…}` with --json. No text found is not an error: an empty
 * text (plain mode: nothing on stdout, a note on stderr) and exit 0. Returns the exit code.
 */
export async function readCli(app: App, file: string, opts: ImageCliOptions): Promise<number> {
  const reply = await runOnImageFile(app, { command: readCommand, file });
  if (reply.error) {
    opts.err(`error: ${reply.text ?? 'failed'}`);
    return exitCodeOf(reply);
  }
  const { text } = dataOf(reply);
  if (opts.json) opts.out(JSON.stringify({ text }));
  else if (text) opts.out(text);
  else opts.err(reply.text ?? `No text found in ${file}.`);
  return 0;
}
