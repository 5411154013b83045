import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

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

/**
 * Settings in one JSON file, read once and rewritten whole on each change (write to a temp file, then
 * rename, so a crash never leaves half a file). Preferences change rarely; a file is plenty.
 */
export class SettingsFileStore implements SettingsStore {
  readonly #path: string;
  #values?: Promise<Map<string, string>>;
  #writing: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.#path = path;
  }

  #load(): Promise<Map<string, string>> {
    this.#values ??= readFile(this.#path, 'utf8').then(
      (text) => {
        const parsed = JSON.parse(text) as unknown;
        const entries = typeof parsed === 'object' && parsed !== null ? Object.entries(parsed) : [];
        return new Map(entries.filter((e): e is [string, string] => typeof e[1] === 'string'));
      },
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return new Map<string, string>();
        throw err;
      },
    );
    return this.#values;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#load()).get(key);
  }

  async set(key: string, value: string | undefined): Promise<void> {
    const values = await this.#load();
    if (value === undefined) values.delete(key);
    else values.set(key, value);
    const text = `${JSON.stringify(Object.fromEntries(values), null, 2)}\n`;
    this.#writing = this.#writing.then(async () => {
      await mkdir(dirname(this.#path), { recursive: true });
      const tmp = `${this.#path}.${process.pid}.tmp`;
      await writeFile(tmp, text);
      await rename(tmp, this.#path);
    });
    await this.#writing;
  }

  async close(): Promise<void> {
    await this.#writing.catch(() => {});
  }
}
