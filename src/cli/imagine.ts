import { readFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import cliProgress from 'cli-progress';
import type { App } from '../app.js';
import type { ImageRef, Progress } from '../contracts/request.js';
import { runCliRequest } from './request.js';

export interface ImagineCliOptions {
  out: string;
  seed?: number;
  steps?: number;
  size?: string;
  negative?: string;
  model?: string;
  guidance?: number;
  count?: number;
  scheduler?: string;
  image?: string;
  strength?: number;
  json?: boolean;
  /** Draw a progress bar (stderr is a TTY). */
  progress?: boolean;
  signal?: AbortSignal;
  print: (line: string) => void;
  err: (line: string) => void;
}

interface ImagineData {
  images: { seed: number; altText: string }[];
}

/** out.png, out-2.png, out-3.png … for several images. */
export function outputFile(out: string, index: number): string {
  if (index === 0) return out;
  const ext = extname(out);
  return `${ext ? out.slice(0, -ext.length) : out}-${index + 1}${ext || '.png'}`;
}

/** `iris imagine PROMPT --out FILE`: writes the PNG(s); prints {"file","seed","altText"} per image with --json. Returns the exit code. */
export async function imagineCli(app: App, prompt: string, opts: ImagineCliOptions): Promise<number> {
  const args: Record<string, unknown> = { prompt };
  for (const key of [
    'seed',
    'steps',
    'size',
    'negative',
    'model',
    'guidance',
    'count',
    'scheduler',
    'strength',
  ] as const) {
    if (opts[key] !== undefined) args[key] = opts[key];
  }
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
    { command: 'imagine', args, images, signal: opts.signal },
    onProgress,
  ).finally(() => {
    if (started) bar?.stop();
  });
  if (reply.error) {
    opts.err(`error: ${reply.text ?? 'failed'}`);
    return reply.error.internal ? 1 : 2;
  }
  const data = reply.data as ImagineData;
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
