import type { Config } from '../config.js';
import type { PlatformAdapter } from '../core/types.js';
import type { App } from '../main.js';
import { discordEntry } from './discord/index.js';
import { playgroundEntry } from './playground/index.js';

/** What `iris start` needs to know about one platform adapter. */
export interface AdapterEntry {
  name: string;
  /** Whether config asks for this adapter (credentials present, or enabled). */
  enabled(config: Config): boolean;
  /** One line for the start-up block when the adapter is off: how to turn it on. */
  howToEnable: string;
  /** Loaded lazily so an unused platform library costs nothing. */
  create(app: App): Promise<PlatformAdapter & { describe?(): string }>;
}

/**
 * Every platform adapter `iris start` knows, in start order. Each adapter issue adds its row at its
 * placeholder. The console channel is the fallback when nothing else runs (see src/cli/start.ts).
 */
export const ADAPTERS: readonly AdapterEntry[] = [
  discordEntry,
  // slack: src/bot/slack/ (issue 7)
  playgroundEntry,
];
