import type { Backend, TaskName } from '../contracts/backend.js';
import type { SharedModels } from './shared-models.js';
import type { BatchingSettings } from './tag/clip-towers.js';

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
  /** Dynamic batching of encoder calls across requests (config `scheduler.batching`); absent: off. */
  batching?: BatchingSettings;
}

export type BackendFactory<T extends TaskName, O> = (opts: BackendLoadOptions<O>) => Promise<Backend<T>>;
