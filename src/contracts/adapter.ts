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
