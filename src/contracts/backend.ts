import type { LoadedImage } from './request.js';
import type { CaptionIO } from './tasks/caption.js';
import type { EmbedIO } from './tasks/embed.js';
import type { FindIO } from './tasks/find.js';
import type { ImagineIO } from './tasks/imagine.js';
import type { ReadIO } from './tasks/read.js';
import type { SafetyIO } from './tasks/safety.js';
import type { VqaIO } from './tasks/vqa.js';

export interface Scored {
  label: string;
  score: number;
}

/**
 * Input and output of every task; each task's shapes live in src/models/<task>/types.ts.
 * A backend file implements exactly one of them.
 */
export interface TaskIO {
  tag: {
    in: {
      images: LoadedImage[];
      labels: string[];
      /** softmax: labels compete (one best label); sigmoid: each label scored on its own. */
      mode?: 'softmax' | 'sigmoid';
    };
    /** One entry per input image, labels sorted by score, highest first. */
    out: { labels: Scored[] }[];
  };
  caption: CaptionIO;
  vqa: VqaIO;
  read: ReadIO;
  imagine: ImagineIO;
  embed: EmbedIO;
  find: FindIO;
  safety: SafetyIO;
}

export type TaskName = keyof TaskIO;

export interface RunOptions {
  signal: AbortSignal;
  /** Epoch ms by which the job must be done (its timeout): a batching backend never waits past it. */
  deadline?: number;
  onProgress?: (p: { step?: number; total?: number; message?: string; preview?: Buffer }) => void;
}

export interface Backend<T extends TaskName> {
  task: T;
  /** Backend id as in the registry table, e.g. 'clip'. */
  id: string;
  /** Model id or folder it was loaded from. */
  model: string;
  /** vqa: how many images one question may be about (compare sends several); absent means 1. */
  maxImages?: number;
  run(input: TaskIO[T]['in'], opts: RunOptions): Promise<TaskIO[T]['out']>;
  /** Frees sessions and caches. */
  dispose(): Promise<void>;
}

export interface TaskSelection {
  backend: string;
  model: string;
  options: Record<string, unknown>;
}

export type ModelState = 'loaded' | 'loading' | 'ready' | 'missing';

export interface ModelStatus {
  task: TaskName;
  backend: string;
  model: string;
  state: ModelState;
  dir?: string;
}

/** The queue a task's jobs run on with the named backend (the backend's own, else the task's). */
export type QueueOf = (task: TaskName, backend: string) => string | undefined;

/** What commands need from the registry; tests pass a fake. */
export interface BackendProvider {
  queueOf: QueueOf;
  get<T extends TaskName>(task: T, override?: Partial<TaskSelection>): Promise<Backend<T>>;
  status(): ModelStatus[];
}
