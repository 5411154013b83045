/**
 * OCR with tesseract.js (backend id 'tesseract'; the registry's model id is the language, e.g. 'eng'). Fully offline: the WebAssembly core comes from the tesseract.js-core package and the
 * trained data from the `@tesseract.js-data/<lang>` package in node_modules (`langPath` is always that
 * local folder, so the worker never falls back to its CDN); nothing is cached to disk
 * (`cacheMethod: 'none'`; tesseract.js would otherwise write `<lang>.traineddata` into the working
 * directory). A language needs its package: `npm install @tesseract.js-data/deu` for 'deu'.
 *
 * The image is decoded by media's `toRgb` (EXIF orientation, transparency onto white, corrupt files
 * caught there) and handed over as a PNG; images larger than `maxSide` are scaled down first.
 *
 * Options (config `tasks.read.options`):
 * - `maxSide` (default 3000): longest side, in pixels, the image is shrunk to before OCR.
 * - `psm` (default 3 = automatic page segmentation): tesseract's page segmentation mode.
 * - `langPath` (default: the package's `4.0.0_best_int` folder): a local folder holding
 *   `<lang>.traineddata.gz` (own or fine-tuned models; never a URL).
 * - `dpi` (default 300): the resolution tesseract assumes (images from chat carry none worth trusting).
 * Schema `tesseractOptions` in ../options.ts.
 *
 * tesseract.js throws from its message handler when a job fails and no `errorHandler` is set, which
 * would take the whole process down: the handler here only records the failure; the job's promise
 * rejects on its own.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { createWorker, OEM, type Worker } from 'tesseract.js';
import type { Backend, RunOptions } from '../../contracts/backend.js';
import type { LoadedImage } from '../../contracts/request.js';
import { encodePng, toRgb } from '../../core/media.js';
import { BackendError, UserError } from '../../errors.js';
import type { TesseractOptions } from '../options.js';
import type { BackendFactory } from '../types.js';

const WHO = 'read/tesseract';
const require = createRequire(import.meta.url);

/** `@tesseract.js-data/<lang>/4.0.0_best_int`: the LSTM-only integer models (what OEM.LSTM_ONLY reads). */
export function languageDataDir(lang: string): string {
  if (!/^[a-z_]{3,16}$/i.test(lang)) {
    throw new UserError(
      'model_missing',
      `${WHO}: "${lang}" is not a tesseract language code (e.g. eng, deu, fra)`,
    );
  }
  try {
    return join(dirname(require.resolve(`@tesseract.js-data/${lang}/package.json`)), '4.0.0_best_int');
  } catch (cause) {
    throw new UserError(
      'model_missing',
      `${WHO}: no trained data for "${lang}": install it with \`npm install @tesseract.js-data/${lang}\``,
      { cause },
    );
  }
}

const gunzipAsync = promisify(gunzip);
/** TessdataManager's entry index of the LSTM model (tessdatamanager.h: TESSDATA_LSTM). */
const TESSDATA_LSTM = 17;

/**
 * Checks a `.traineddata` file's table of contents (int32 entry count, then one int64 offset per entry,
 * −1 for "absent") and that it holds the LSTM model OEM.LSTM_ONLY needs. tesseract.js 7 answers a file
 * it cannot initialise with both a reject and a resolve, and the second message throws inside its
 * message handler — an uncaught exception that ends the process — so bad data must never reach it.
 * Returns what is wrong, or null.
 */
export function checkTrainedData(data: Buffer): string | null {
  if (data.length < 4) return 'too short';
  const entries = data.readInt32LE(0);
  if (entries < 1 || entries > 64 || 4 + 8 * entries > data.length) return 'no table of contents';
  let previous = 0;
  for (let i = 0; i < entries; i++) {
    const offset = Number(data.readBigInt64LE(4 + 8 * i));
    if (offset === -1) continue;
    if (offset < 4 + 8 * entries || offset >= data.length || offset < previous)
      return 'a broken table of contents';
    previous = offset;
  }
  if (entries <= TESSDATA_LSTM || Number(data.readBigInt64LE(4 + 8 * TESSDATA_LSTM)) === -1) {
    return 'it has no LSTM model';
  }
  return null;
}

/** Size that fits in maxSide × maxSide, keeping the aspect ratio. */
function fitInside(image: LoadedImage, maxSide: number): { width: number; height: number } {
  const scale = Math.min(1, maxSide / Math.max(image.width, image.height));
  return {
    width: Math.max(1, Math.round(image.width * scale)),
    height: Math.max(1, Math.round(image.height * scale)),
  };
}

/** Lines trimmed, runs of blank lines collapsed to one, no blank lines at either end. */
export function tidyOcrText(text: string): string {
  return text
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

export const createTesseractReader: BackendFactory<'read', TesseractOptions> = async (
  load,
): Promise<Backend<'read'>> => {
  const lang = load.modelId;
  const { maxSide, psm, dpi } = load.options;
  const langPath = load.options.langPath ?? languageDataDir(lang);
  const file = join(langPath, `${lang}.traineddata.gz`);
  let problem: string | null;
  try {
    problem = checkTrainedData(await gunzipAsync(await readFile(file)));
  } catch (cause) {
    throw new UserError('model_missing', `${WHO}: cannot read ${file}: ${(cause as Error).message}`, {
      cause,
    });
  }
  if (problem) throw new UserError('model_missing', `${WHO}: ${file} is not usable trained data: ${problem}`);

  /** The job that currently reports progress (one at a time: the worker runs jobs in order). */
  let onProgress: RunOptions['onProgress'];
  let lastFailure = '';

  async function startWorker(): Promise<Worker> {
    try {
      const worker = await createWorker(lang, OEM.LSTM_ONLY, {
        langPath,
        cacheMethod: 'none',
        gzip: true,
        logger: (m) => {
          if (m.status === 'recognizing text')
            onProgress?.({ step: Math.round(m.progress * 100), total: 100 });
        },
        errorHandler: (e: unknown) => {
          lastFailure = String(e);
        },
      });
      // A set DPI keeps tesseract from guessing it (and from printing warnings about the PNG's 72 dpi).
      await worker.setParameters({
        tessedit_pageseg_mode: String(psm) as never,
        user_defined_dpi: String(dpi),
      });
      return worker;
    } catch (cause) {
      throw new UserError(
        'model_missing',
        `${WHO}: cannot start tesseract for ${load.modelId}: ${String(cause)}`,
        {
          cause,
        },
      );
    }
  }

  let worker: Promise<Worker> | undefined = startWorker();
  await worker;
  let disposed = false;
  let queue: Promise<void> = Promise.resolve();
  const cancelled = () => new UserError('cancelled', 'the request was cancelled');

  async function recognise(
    image: LoadedImage,
    opts: RunOptions,
  ): Promise<{ text: string; confidence?: number }> {
    if (disposed) throw new BackendError('disposed', `${WHO}: backend was disposed`, { isRetryable: true });
    if (opts.signal.aborted) throw cancelled();
    const size = fitInside(image, maxSide);
    const rgb = await toRgb(image, { ...size, fit: 'fill' });
    const png = await encodePng({ ...rgb, channels: 3 });
    worker ??= startWorker();
    const current = await worker;
    if (opts.signal.aborted) throw cancelled();
    onProgress = opts.onProgress;
    const job = current.recognize(png);
    job.catch(() => {});
    // A cancel (or the job timeout) cannot stop a running recognition: the worker is terminated and a
    // new one starts with the next job.
    let abort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      abort = () => {
        worker = undefined;
        void current.terminate();
        reject(cancelled());
      };
      opts.signal.addEventListener('abort', abort, { once: true });
    });
    try {
      const result = await Promise.race([job, aborted]);
      const text = tidyOcrText(result.data.text ?? '');
      const confidence = Number.isFinite(result.data.confidence) ? result.data.confidence / 100 : undefined;
      return confidence === undefined || !text ? { text } : { text, confidence };
    } catch (cause) {
      if (cause instanceof UserError) throw cause;
      throw new BackendError('model_failed', `${WHO}: recognition failed: ${lastFailure || String(cause)}`, {
        isRetryable: false,
        cause,
      });
    } finally {
      opts.signal.removeEventListener('abort', abort as () => void);
      onProgress = undefined;
    }
  }

  return {
    task: 'read',
    id: 'tesseract',
    model: load.modelId,
    run(input, opts) {
      // One job at a time: the worker runs them in order anyway, and a cancel then ends only its own job.
      const turn = queue.then(() => recognise(input.image, opts));
      queue = turn.then(
        () => undefined,
        () => undefined,
      );
      return turn;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      const w = worker;
      worker = undefined;
      await (await w?.catch(() => undefined))?.terminate();
    },
  };
};
