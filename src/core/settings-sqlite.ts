/**
 * Preferences in SQLite: a `settings` table in the same database file as conversation memory
 * (memory.path), so /alttext opt-outs and channel switches survive restarts.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { SettingsStore } from './settings.js';

export class SqliteSettingsStore implements SettingsStore {
  readonly #db: Database.Database;
  readonly #get: Database.Statement<[string], { value: string }>;
  readonly #put: Database.Statement<[string, string]>;
  readonly #delete: Database.Statement<[string]>;

  /** `path`: the database file (its folder is created), or ':memory:'. */
  constructor(options: { path: string }) {
    if (options.path !== ':memory:') mkdirSync(dirname(resolve(options.path)), { recursive: true });
    this.#db = new Database(options.path);
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('journal_mode = WAL');
    this.#db.exec('CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    this.#get = this.#db.prepare('SELECT value FROM settings WHERE key = ?');
    this.#put = this.#db.prepare(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    this.#delete = this.#db.prepare('DELETE FROM settings WHERE key = ?');
  }

  async get(key: string): Promise<string | undefined> {
    return this.#get.get(key)?.value;
  }

  async set(key: string, value: string | undefined): Promise<void> {
    if (value === undefined) this.#delete.run(key);
    else this.#put.run(key, value);
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}
