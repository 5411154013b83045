/**
 * Preferences in SQLite: a `settings` table in the same database file as conversation memory
 * (memory.path), so /alttext opt-outs and channel switches survive restarts. A value set with a TTL
 * carries its expiry; expired rows read as absent and are deleted when the next value with a TTL is set.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { type Clock, expiryOf, type SettingOptions, type SettingsStore } from './settings.js';

export class SqliteSettingsStore implements SettingsStore {
  readonly #db: Database.Database;
  readonly #now: Clock;
  readonly #get: Database.Statement<[string, number], { value: string }>;
  readonly #put: Database.Statement<[string, string, number | null]>;
  readonly #delete: Database.Statement<[string]>;
  readonly #purge: Database.Statement<[number]>;

  /** `path`: the database file (its folder is created), or ':memory:'. */
  constructor(options: { path: string; now?: Clock }) {
    if (options.path !== ':memory:') mkdirSync(dirname(resolve(options.path)), { recursive: true });
    this.#now = options.now ?? Date.now;
    this.#db = new Database(options.path);
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('journal_mode = WAL');
    this.#db.exec('CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    // Files written before values could expire lack the column.
    const columns = this.#db.prepare('PRAGMA table_info(settings)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'expires_at')) {
      this.#db.exec('ALTER TABLE settings ADD COLUMN expires_at INTEGER');
    }
    this.#db.exec('CREATE INDEX IF NOT EXISTS settings_expiry ON settings (expires_at)');
    this.#get = this.#db.prepare(
      'SELECT value FROM settings WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)',
    );
    this.#put = this.#db.prepare(
      'INSERT INTO settings (key, value, expires_at) VALUES (?, ?, ?) ' +
        'ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at',
    );
    this.#delete = this.#db.prepare('DELETE FROM settings WHERE key = ?');
    this.#purge = this.#db.prepare('DELETE FROM settings WHERE expires_at IS NOT NULL AND expires_at <= ?');
  }

  async get(key: string): Promise<string | undefined> {
    return this.#get.get(key, this.#now())?.value;
  }

  async set(key: string, value: string | undefined, options?: SettingOptions): Promise<void> {
    if (value === undefined) {
      this.#delete.run(key);
      return;
    }
    const now = this.#now();
    const expiresAt = expiryOf(options, now);
    if (expiresAt !== undefined) this.#purge.run(now);
    this.#put.run(key, value, expiresAt ?? null);
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}
