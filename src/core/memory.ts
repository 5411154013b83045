/**
 * Conversation memory: what was asked and answered about which image, per conversation.
 *
 * A conversation key is `platform:channel[:thread]` (BotRequest.conversation). Memory of one conversation
 * is never visible in another: every call takes exactly one key, and stores must not offer a way to read
 * across keys. The SQLite store (embedded default) and the Redis store (scale-out) implement this
 * interface; MemoryMapStore is the in-process one used by tests and `memory.store: memory`.
 */

export interface Turn {
  question: string;
  answer: string;
  /** Content hash of the image the turn was about (LoadedImage → sha256 hex), when there was one. */
  imageKey?: string;
  /** Where that image can be fetched again (platform URL), so a follow-up without an image can reuse it. */
  imageUrl?: string;
  userId?: string;
  /** Epoch milliseconds. */
  at: number;
}

export interface MemoryStore {
  /** The last `n` turns of this conversation, oldest first; expired turns are left out. */
  recent(key: string, n: number): Promise<Turn[]>;
  append(key: string, turn: Turn): Promise<void>;
  /** `/forget`: removes everything stored for this conversation. */
  clear(key: string): Promise<void>;
  close(): Promise<void>;
}

export interface MemoryOptions {
  /** Turns older than this are forgotten. */
  ttlSeconds: number;
  /** Turns kept per conversation; older ones are dropped on append. */
  maxTurns: number;
  now?: () => number;
}

/** In-process store: for tests and single-process setups that need no persistence. */
export class MemoryMapStore implements MemoryStore {
  readonly #turns = new Map<string, Turn[]>();
  readonly #options: MemoryOptions;

  constructor(options: MemoryOptions) {
    this.#options = options;
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }

  #live(key: string): Turn[] {
    const cutoff = this.#now() - this.#options.ttlSeconds * 1000;
    const live = (this.#turns.get(key) ?? []).filter((t) => t.at >= cutoff);
    if (live.length) this.#turns.set(key, live);
    else this.#turns.delete(key);
    return live;
  }

  async recent(key: string, n: number): Promise<Turn[]> {
    return n <= 0 ? [] : this.#live(key).slice(-n);
  }

  async append(key: string, turn: Turn): Promise<void> {
    const turns = [...this.#live(key), turn].slice(-this.#options.maxTurns);
    this.#turns.set(key, turns);
  }

  async clear(key: string): Promise<void> {
    this.#turns.delete(key);
  }

  async close(): Promise<void> {
    this.#turns.clear();
  }
}
