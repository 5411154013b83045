/**
 * Small per-user / per-channel preferences (e.g. alt-text opt-out, channels with auto alt text), kept
 * apart from conversation memory. Keys are namespaced by the caller (`alttext:user:discord:123`).
 * MemorySettingsStore keeps them in-process (forgotten on restart); a persistent store (SQLite, Redis)
 * implements the same interface.
 */
export interface SettingsStore {
  get(key: string): Promise<string | undefined>;
  /** `undefined` removes the key. */
  set(key: string, value: string | undefined): Promise<void>;
  close(): Promise<void>;
}

export class MemorySettingsStore implements SettingsStore {
  readonly #values = new Map<string, string>();

  async get(key: string): Promise<string | undefined> {
    return this.#values.get(key);
  }

  async set(key: string, value: string | undefined): Promise<void> {
    if (value === undefined) this.#values.delete(key);
    else this.#values.set(key, value);
  }

  async close(): Promise<void> {
    this.#values.clear();
  }
}
