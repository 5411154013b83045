import { readFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import cliProgress from 'cli-progress';
import type { App } from '../app.js';
import { imagineCommand } from '../commands/imagine.js';
import type { ImageRef, Progress } from '../contracts/request.js';
import { dataOf, runCliRequest } from './request.js';

export interface ImagineCliOptions {
  /** The request's options but the prompt (seed, steps, size …), from the command's flags. */
  args: Record<string, unknown>;
  out: string;
  /** Image file to start from (a variation). */
  image?: string;
  json?: boolean;
  /** Draw a progress bar (stderr is a TTY). */
  progress?: boolean;
  signal?: AbortSignal;
  print: (line: string) => void;
  err: (line: string) => void;
}

/** out.png, out-2.png, out-3.png … for several images. */
export function outputFile(out: string, index: number): string {
  if (index === 0) return out;
  const ext = extname(out);
  return `${ext ? out.slice(0, -ext.length) : out}-${index + 1}${ext || '.png'}`;
}

/** `iris imagine PROMPT --out FILE`: writes the PNG(s); prints {"file","seed","altText"} per image with --json. Returns the exit code. */
export async function imagineCli(app: App, prompt: string, opts: ImagineCliOptions): Promise<number> {
  const args = { ...opts.args, prompt };
  const images: ImageRef[] = [];
  if (opts.image) {
    try {
      images.push({ name: opts.image, data: await readFile(opts.image) });
    } catch {
      opts.err(`error: ${opts.image}: no such file.`);
      return 2;
    }
  }
  const bar = opts.progress
    ? new cliProgress.SingleBar(
        { format: 'imagine [{bar}] {value}/{total} steps', hideCursor: true, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let started = false;
  const onProgress = (p: Progress) => {
    if (!bar || p.kind !== 'running' || p.total === undefined || p.step === undefined) return;
    if (!started) {
      bar.start(p.total, 0);
      started = true;
    }
    bar.setTotal(p.total);
    bar.update(p.step);
  };
  const reply = await runCliRequest(
    app,
    { command: imagineCommand, args, images, signal: opts.signal },
    onProgress,
  ).finally(() => {
    if (started) bar?.stop();
  });
  if (reply.error) {
    opts.err(`error: ${reply.text ?? 'failed'}`);
    return reply.error.internal ? 1 : 2;
  }
  const data = dataOf(reply);
  for (const [i, image] of (reply.images ?? []).entries()) {
    const file = outputFile(opts.out, i);
    await writeFile(file, image.png);
    const seed = data.images[i]?.seed;
    if (opts.json) opts.print(JSON.stringify({ file, seed, altText: image.altText }));
    else opts.print(`${file}: seed ${seed}`);
  }
  if (!opts.json && reply.text) opts.err(reply.text);
  return 0;
}
