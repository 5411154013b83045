import type { LoadedImage } from '../core/types.js';
import type { CaptionIO } from './caption/types.js';
import type { EmbedIO } from './embed/types.js';
import type { FindIO } from './find/types.js';
import type { ImagineIO } from './imagine/types.js';
import type { ReadIO } from './read/types.js';
import type { SafetyIO } from './safety/types.js';
import type { SharedModels } from './shared-models.js';
import type { VqaIO } from './vqa/types.js';

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

/** What a backend factory gets from the registry; `O` is its options schema's output (options.ts). */
export interface BackendLoadOptions<O> {
  /** Absolute path of the resolved model folder. */
  modelDir: string;
  modelId: string;
  executionProviders: string[];
  /** Backend-specific settings (config tasks.<task>.options), checked and defaulted by the backend's schema. */
  options: O;
  /** Remote API settings (config `providers`): keys and base URLs; never logged. */
  providers?: { groq?: { apiKey: string; baseUrl: string } };
  /**
   * Models loaded once for every task that uses them (the registry's); a backend whose model other tasks
   * share acquires it here. Absent (a factory called on its own): the backend loads a model of its own.
   */
  shared?: SharedModels;
}

export type BackendFactory<T extends TaskName, O> = (opts: BackendLoadOptions<O>) => Promise<Backend<T>>;
