/**
 * Image memory: the CLIP embeddings of images posted in a channel, so /similar can find earlier posts and
 * duplicates can be noticed. Like MemoryStore, every call takes exactly one key and no call reads across
 * keys. The key is the channel (`imageChannel`), not the conversation: iris answers uploads in a thread
 * on Slack, and those images were still posted in the channel. Only channels that opted in
 * (config imageIndex.channels) are ever written.
 */
import type { ConversationKey } from '../contracts/request.js';

/** `platform:channel[:thread]` → `platform:channel`: the unit of image memory. */
export function imageChannel(conversation: ConversationKey): string {
  return conversation.split(':').slice(0, 2).join(':');
}

export interface IndexedImage {
  /** Link to the message that carried the image ('' where the platform has none, e.g. the CLI). */
  link: string;
  /** Who posted it (platform user id). */
  author: string;
  /** File name as posted. */
  name: string;
  /** Epoch milliseconds. */
  at: number;
  /** sha256 hex of the image bytes. */
  hash: string;
  /** Perceptual hash (dHash, 16 hex digits), when computed. */
  dhash?: string;
  /** L2-normalised embedding. */
  vector: Float32Array;
}

export type IndexedImageInfo = Omit<IndexedImage, 'vector'>;

export interface SimilarHit {
  image: IndexedImageInfo;
  /** Cosine similarity with the query, in [−1, 1]. */
  score: number;
}

export interface ImageIndex {
  add(key: string, image: IndexedImage): Promise<void>;
  /** The `k` stored images of this conversation closest to `query` (normalised), best first. */
  search(key: string, query: Float32Array, k: number): Promise<SimilarHit[]>;
  count(key: string): Promise<number>;
  /** Message deleted: its entries go. Returns how many were removed. */
  removeLink(key: string, link: string): Promise<number>;
  /** `/forget`: everything stored for this conversation. */
  clear(key: string): Promise<void>;
  close(): Promise<void>;
}

export interface ImageIndexOptions {
  /** Entries older than this are dropped. */
  ttlSeconds: number;
  /** Entries kept per conversation; the oldest go first. */
  maxPerChannel: number;
  now?: () => number;
}

/** Keeps the `k` best (score, id) pairs seen; k is small (≤ 50), so a sorted array beats a heap. */
export class TopK {
  readonly scores: number[] = [];
  readonly ids: number[] = [];
  constructor(readonly k: number) {}
  offer(score: number, id: number): void {
    const n = this.scores.length;
    if (n === this.k && score <= (this.scores[n - 1] as number)) return;
    let i = n;
    while (i > 0 && (this.scores[i - 1] as number) < score) i--;
    this.scores.splice(i, 0, score);
    this.ids.splice(i, 0, id);
    if (this.scores.length > this.k) {
      this.scores.pop();
      this.ids.pop();
    }
  }
}

/** Dot product of `q` with the float32 vector stored little-endian in `bytes`. */
export function dotBlob(q: Float32Array, bytes: Uint8Array, scratch: Float32Array): number {
  let v: Float32Array;
  if (bytes.byteOffset % 4 === 0) v = new Float32Array(bytes.buffer, bytes.byteOffset, q.length);
  else {
    new Uint8Array(scratch.buffer).set(bytes.subarray(0, q.length * 4));
    v = scratch;
  }
  let s = 0;
  for (let d = 0; d < q.length; d++) s += (q[d] as number) * (v[d] as number);
  return s;
}
