import type { Config } from '../config.js';
import type { Logger } from '../core/log.js';
import type { SettingsStore } from '../core/settings.js';
import type { AnyCommand } from './command.js';
import type { BotRequest, ConversationKey, Responder } from './request.js';

/** A platform message was deleted; `link` is the same link its requests carried as `messageLink`. */
export interface MessageDeleted {
  /** The conversation key the adapter gives requests from that message's channel or thread. */
  conversation: ConversationKey;
  link: string;
}

/**
 * Platform events that are not requests, reported by adapters (which only translate) to the core. Every
 * hook logs its own failures and never throws.
 */
export interface AdapterHooks {
  messageDeleted(e: MessageDeleted): Promise<void>;
}

export interface PlatformAdapter {
  name: string;
  start(handle: (req: BotRequest, res: Responder) => Promise<void>, hooks?: AdapterHooks): Promise<void>;
  stop(): Promise<void>;
}

/** What an adapter gets from the app it serves (src/app.ts's App satisfies it). */
export interface AdapterHost {
  config: Config;
  log: Logger;
  settings: SettingsStore;
  dispatcher: { commands: readonly AnyCommand[] };
}

/** A notice for the people using iris (the playground shows it above its messages). */
export interface PageBanner {
  title: string;
  lines: string[];
  /** The one command that fixes what the banner is about. */
  command: string;
}

/** What `iris start` hands an adapter beside the app. */
export interface StartContext {
  banner?: PageBanner;
}

/** What `iris start` needs to know about one platform adapter. */
export interface AdapterEntry {
  name: string;
  /** Whether config asks for this adapter (credentials present, or enabled). */
  enabled(config: Config): boolean;
  /** One line for the start-up block when the adapter is off: how to turn it on. */
  howToEnable: string;
  /** Loaded lazily so an unused platform library costs nothing. */
  create(app: AdapterHost, start?: StartContext): Promise<PlatformAdapter & { describe?(): string }>;
}
