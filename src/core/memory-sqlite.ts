/**
 * SQLite conversation memory (better-sqlite3): the embedded default, survives restarts.
 *
 * One table of turns; every statement is bound to exactly one conversation key, so one conversation can
 * never read another's turns. Expired turns are filtered out on read and deleted on write (for every
 * conversation, via the `at` index), and each conversation keeps at most `maxTurns` rows.
 * better-sqlite3 is synchronous: each call is one short indexed statement on a local file (WAL mode),
 * so it does not hold the event loop for long.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { MemoryOptions, MemoryStore, Turn } from './memory.js';

interface TurnRow {
  question: string;
  answer: string;
  image_key: string | null;
  image_url: string | null;
  user_id: string | null;
  at: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS turns (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation TEXT NOT NULL,
  question TEXT NOT NULL,
  answer TEXT NOT NULL,
  image_key TEXT,
  image_url TEXT,
  user_id TEXT,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns (conversation, id);
CREATE INDEX IF NOT EXISTS turns_by_time ON turns (at);
`;

export interface SqliteMemoryOptions extends MemoryOptions {
  /** Database file (its folder is created), or ':memory:'. */
  path: string;
  /** Open an existing file read-only (inspection, tests): reads work, writes fail with SQLITE_READONLY. */
  readonly?: boolean;
}

export class SqliteMemoryStore implements MemoryStore {
  readonly #db: Database.Database;
  readonly #options: SqliteMemoryOptions;
  readonly #recent: Database.Statement<[string, number, number], TurnRow>;
  readonly #insert: Database.Statement<[Record<string, unknown>]>;
  readonly #trim: Database.Statement<[string, string, number]>;
  readonly #expire: Database.Statement<[number]>;
  readonly #clear: Database.Statement<[string]>;
  readonly #append: (key: string, turn: Turn) => void;

  constructor(options: SqliteMemoryOptions) {
    this.#options = options;
    if (options.path !== ':memory:') mkdirSync(dirname(resolve(options.path)), { recursive: true });
    this.#db = new Database(options.path, { readonly: options.readonly ?? false });
    // several processes (CLI calls, workers) may open the same file: wait for locks before anything else
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('journal_mode = WAL');
    this.#db.exec(SCHEMA);
    this.#recent = this.#db.prepare(
      `SELECT question, answer, image_key, image_url, user_id, at FROM turns
       WHERE conversation = ? AND at >= ? ORDER BY id DESC LIMIT ?`,
    );
    this.#insert = this.#db.prepare(
      `INSERT INTO turns (conversation, question, answer, image_key, image_url, user_id, at)
       VALUES (@conversation, @question, @answer, @imageKey, @imageUrl, @userId, @at)`,
    );
    this.#trim = this.#db.prepare(
      `DELETE FROM turns WHERE conversation = ? AND id NOT IN
       (SELECT id FROM turns WHERE conversation = ? ORDER BY id DESC LIMIT ?)`,
    );
    this.#expire = this.#db.prepare('DELETE FROM turns WHERE at < ?');
    this.#clear = this.#db.prepare('DELETE FROM turns WHERE conversation = ?');
    this.#append = this.#db.transaction((key: string, turn: Turn) => {
      this.#insert.run({
        conversation: key,
        question: turn.question,
        answer: turn.answer,
        imageKey: turn.imageKey ?? null,
        imageUrl: turn.imageUrl ?? null,
        userId: turn.userId ?? null,
        at: turn.at,
      });
      this.#trim.run(key, key, this.#options.maxTurns);
      this.#expire.run(this.#cutoff());
    });
  }

  #cutoff(): number {
    return (this.#options.now?.() ?? Date.now()) - this.#options.ttlSeconds * 1000;
  }

  async recent(key: string, n: number): Promise<Turn[]> {
    if (n <= 0) return [];
    const rows = this.#recent.all(key, this.#cutoff(), Math.min(n, this.#options.maxTurns));
    return rows.reverse().map((r) => ({
      question: r.question,
      answer: r.answer,
      at: r.at,
      ...(r.image_key !== null && { imageKey: r.image_key }),
      ...(r.image_url !== null && { imageUrl: r.image_url }),
      ...(r.user_id !== null && { userId: r.user_id }),
    }));
  }

  async append(key: string, turn: Turn): Promise<void> {
    this.#append(key, turn);
  }

  async clear(key: string): Promise<void> {
    this.#clear.run(key);
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
