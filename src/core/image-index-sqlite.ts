/**
 * SQLite image index (better-sqlite3), in the same database file as conversation memory.
 *
 * Search is a plain exact cosine scan over the conversation's vectors (one indexed range read, a dot
 * product per row, a running top-k). `npm run bench -- similar` measures it at 1k/10k/100k rows beside an
 * in-memory matrix scan; see docs/image-memory.md for the numbers and why no ANN index (yet).
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import {
  dotBlob,
  type ImageIndex,
  type ImageIndexOptions,
  type IndexedImage,
  type IndexedImageInfo,
  type SimilarHit,
  TopK,
} from './image-index.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS image_embeddings (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation TEXT NOT NULL,
  link TEXT NOT NULL,
  author TEXT NOT NULL,
  name TEXT NOT NULL,
  at INTEGER NOT NULL,
  hash TEXT NOT NULL,
  dhash TEXT,
  vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS image_embeddings_by_conversation ON image_embeddings (conversation, id);
CREATE INDEX IF NOT EXISTS image_embeddings_by_time ON image_embeddings (at);
CREATE INDEX IF NOT EXISTS image_embeddings_by_link ON image_embeddings (conversation, link);
`;

interface InfoRow {
  link: string;
  author: string;
  name: string;
  at: number;
  hash: string;
  dhash: string | null;
}

export interface SqliteImageIndexOptions extends ImageIndexOptions {
  /** Database file (its folder is created), or ':memory:'. */
  path: string;
}

export class SqliteImageIndex implements ImageIndex {
  readonly #db: Database.Database;
  readonly #options: SqliteImageIndexOptions;
  readonly #add: (key: string, images: readonly IndexedImage[]) => void;
  readonly #scan: Database.Statement<[string, number], [number, Buffer]>;
  readonly #info: Database.Statement<[number], InfoRow>;

  constructor(options: SqliteImageIndexOptions) {
    this.#options = options;
    if (options.path !== ':memory:') mkdirSync(dirname(resolve(options.path)), { recursive: true });
    this.#db = new Database(options.path);
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('journal_mode = WAL');
    this.#db.exec(SCHEMA);
    const insert = this.#db.prepare(
      `INSERT INTO image_embeddings (conversation, link, author, name, at, hash, dhash, vector)
       VALUES (@conversation, @link, @author, @name, @at, @hash, @dhash, @vector)`,
    );
    // keeps the newest maxPerChannel rows: everything at or below the id just past them goes
    const trim = this.#db.prepare(
      `DELETE FROM image_embeddings WHERE conversation = ? AND id <=
       (SELECT id FROM image_embeddings WHERE conversation = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
    );
    const expire = this.#db.prepare('DELETE FROM image_embeddings WHERE at < ?');
    this.#add = this.#db.transaction((key: string, images: readonly IndexedImage[]) => {
      for (const image of images)
        insert.run({
          conversation: key,
          link: image.link,
          author: image.author,
          name: image.name,
          at: image.at,
          hash: image.hash,
          dhash: image.dhash ?? null,
          vector: Buffer.from(image.vector.buffer, image.vector.byteOffset, image.vector.byteLength),
        });
      trim.run(key, key, this.#options.maxPerChannel);
      expire.run(this.#cutoff());
    });
    this.#scan = this.#db
      .prepare<[string, number], [number, Buffer]>(
        'SELECT id, vector FROM image_embeddings WHERE conversation = ? AND at >= ?',
      )
      .raw(true);
    this.#info = this.#db.prepare(
      'SELECT link, author, name, at, hash, dhash FROM image_embeddings WHERE id = ?',
    );
  }

  #cutoff(): number {
    return (this.#options.now?.() ?? Date.now()) - this.#options.ttlSeconds * 1000;
  }

  async add(key: string, image: IndexedImage): Promise<void> {
    this.#add(key, [image]);
  }

  /** Several images in one transaction (imports, the bench). */
  async addMany(key: string, images: readonly IndexedImage[]): Promise<void> {
    this.#add(key, images);
  }

  async search(key: string, query: Float32Array, k: number): Promise<SimilarHit[]> {
    if (k <= 0) return [];
    const top = new TopK(k);
    const scratch = new Float32Array(query.length);
    const want = query.length * 4;
    for (const [id, vector] of this.#scan.iterate(key, this.#cutoff())) {
      if (vector.length !== want) continue; // written by another model (other dim): not comparable
      top.offer(dotBlob(query, vector, scratch), id);
    }
    return top.ids.map((id, i) => ({
      image: toInfo(this.#info.get(id) as InfoRow),
      score: top.scores[i] as number,
    }));
  }

  async count(key: string): Promise<number> {
    const row = this.#db
      .prepare('SELECT count(*) AS n FROM image_embeddings WHERE conversation = ? AND at >= ?')
      .get(key, this.#cutoff()) as { n: number };
    return row.n;
  }

  async removeLink(key: string, link: string): Promise<number> {
    return this.#db.prepare('DELETE FROM image_embeddings WHERE conversation = ? AND link = ?').run(key, link)
      .changes;
  }

  async clear(key: string): Promise<void> {
    this.#db.prepare('DELETE FROM image_embeddings WHERE conversation = ?').run(key);
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}

function toInfo(r: InfoRow): IndexedImageInfo {
  return {
    link: r.link,
    author: r.author,
    name: r.name,
    at: r.at,
    hash: r.hash,
    ...(r.dhash !== null && { dhash: r.dhash }),
  };
}
