/**
 * Image memory on Redis (memory on Redis: queue.kind redis or memory.store redis), so every adapter and
 * worker searches the same channels' images; same contract and behaviour as SqliteImageIndex.
 *
 * Per key (`<prefix>:images:<key>`), three Redis keys:
 * - `…:e`   hash, entry id → packed entry (f64 `at`, u32 header length, JSON header, float32 vector bytes)
 * - `…:at`  sorted set, entry id scored by `at` (for the TTL and the cap: oldest go first)
 * - `…:seq` the id counter
 * An insert (with its TTL and cap trims) is one Lua script, so concurrent writers never overshoot the cap;
 * all three keys expire `ttlSeconds` after the last insert, so an idle channel leaves nothing behind.
 * Search is one HGETALL: `at` and the vector are read straight from the bytes (no JSON per entry), the
 * header is parsed only for the k winners.
 */
import type { Redis } from 'ioredis';
import {
  dotBlob,
  type ImageIndex,
  type ImageIndexOptions,
  type IndexedImage,
  type IndexedImageInfo,
  type SimilarHit,
  TopK,
} from '../image-index.js';
import { userFacing } from './connection.js';

export interface RedisImageIndexOptions extends ImageIndexOptions {
  client: Redis;
  prefix: string;
  /** Whether close() also quits the client (false when the client is shared). Default false. */
  ownsClient?: boolean;
}

/** KEYS: entries hash, time zset, id counter. ARGV: packed entry, at, cutoff, maxPerChannel, ttlSeconds. */
const ADD_SCRIPT = `
local id = string.format('%012d', redis.call('INCR', KEYS[3]))
redis.call('HSET', KEYS[1], id, ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], id)
local function drop(ids)
  for i = 1, #ids, 500 do
    local chunk = {}
    for j = i, math.min(i + 499, #ids) do chunk[#chunk + 1] = ids[j] end
    redis.call('HDEL', KEYS[1], unpack(chunk))
    redis.call('ZREM', KEYS[2], unpack(chunk))
  end
end
drop(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3]))
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if extra > 0 then drop(redis.call('ZRANGE', KEYS[2], 0, extra - 1)) end
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
return id
`;

const HEAD = 12; // f64 at + u32 header length

function pack(image: IndexedImage): Buffer {
  const { vector, ...info } = image;
  const header = Buffer.from(JSON.stringify(info));
  const out = Buffer.alloc(HEAD + header.length + vector.byteLength);
  out.writeDoubleLE(image.at, 0);
  out.writeUInt32LE(header.length, 8);
  header.copy(out, HEAD);
  Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).copy(out, HEAD + header.length);
  return out;
}

/** The parts of a packed entry, or undefined when it is damaged (a damaged entry costs itself only). */
function unpack(bytes: Buffer): { at: number; header: Buffer; vector: Buffer } | undefined {
  if (bytes.length < HEAD) return undefined;
  const length = bytes.readUInt32LE(8);
  if (HEAD + length > bytes.length) return undefined;
  return {
    at: bytes.readDoubleLE(0),
    header: bytes.subarray(HEAD, HEAD + length),
    vector: bytes.subarray(HEAD + length),
  };
}

function toInfo(header: Buffer): IndexedImageInfo | undefined {
  try {
    const r = JSON.parse(header.toString()) as IndexedImageInfo;
    return {
      link: r.link,
      author: r.author,
      name: r.name,
      at: r.at,
      hash: r.hash,
      ...(typeof r.dhash === 'string' && { dhash: r.dhash }),
    };
  } catch {
    return undefined;
  }
}

export class RedisImageIndex implements ImageIndex {
  readonly #options: RedisImageIndexOptions;

  constructor(options: RedisImageIndexOptions) {
    this.#options = options;
  }

  #keys(key: string): [entries: string, times: string, seq: string] {
    const base = `${this.#options.prefix}:images:${key}`;
    return [`${base}:e`, `${base}:at`, `${base}:seq`];
  }

  #cutoff(): number {
    return (this.#options.now?.() ?? Date.now()) - this.#options.ttlSeconds * 1000;
  }

  #call<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
    const { client } = this.#options;
    return userFacing(client, () => fn(client));
  }

  async add(key: string, image: IndexedImage): Promise<void> {
    const { maxPerChannel, ttlSeconds } = this.#options;
    const keys = this.#keys(key);
    await this.#call((c) =>
      c.eval(ADD_SCRIPT, 3, ...keys, pack(image), image.at, this.#cutoff(), maxPerChannel, ttlSeconds),
    );
  }

  async search(key: string, query: Float32Array, k: number): Promise<SimilarHit[]> {
    if (k <= 0) return [];
    const [entries] = this.#keys(key);
    const all = await this.#call((c) => c.hgetallBuffer(entries));
    const cutoff = this.#cutoff();
    const top = new TopK(k);
    const scratch = new Float32Array(query.length);
    const want = query.length * 4;
    const headers: Buffer[] = [];
    for (const bytes of Object.values(all)) {
      const entry = unpack(bytes);
      if (!entry || entry.at < cutoff) continue;
      if (entry.vector.length !== want) continue; // written by another model (other dim): not comparable
      headers.push(entry.header);
      top.offer(dotBlob(query, entry.vector, scratch), headers.length - 1);
    }
    return top.ids.flatMap((id, i) => {
      const image = toInfo(headers[id] as Buffer);
      return image ? [{ image, score: top.scores[i] as number }] : [];
    });
  }

  async count(key: string): Promise<number> {
    const [, times] = this.#keys(key);
    return this.#call((c) => c.zcount(times, this.#cutoff(), '+inf'));
  }

  async removeLink(key: string, link: string): Promise<number> {
    const [entries, times] = this.#keys(key);
    const all = await this.#call((c) => c.hgetallBuffer(entries));
    const ids = Object.entries(all).flatMap(([id, bytes]) => {
      const header = unpack(bytes)?.header;
      return header && toInfo(header)?.link === link ? [id] : [];
    });
    if (ids.length === 0) return 0;
    const results = await this.#call((c) =>
      c
        .multi()
        .hdel(entries, ...ids)
        .zrem(times, ...ids)
        .exec(),
    );
    return Number(results?.[0]?.[1] ?? 0);
  }

  async clear(key: string): Promise<void> {
    await this.#call((c) => c.del(...this.#keys(key)));
  }

  async close(): Promise<void> {
    if (this.#options.ownsClient) await this.#options.client.quit().catch(() => {});
  }
}
