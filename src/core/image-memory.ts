/**
 * Remembering one posted image in a conversation's index, and noticing when it was posted before.
 *
 * A duplicate is the same bytes (sha256), or an earlier image that is close both in CLIP space (cosine
 * ≥ minSimilarity: same content) and in dHash (≤ maxBits differing: same layout). Either test alone
 * misfires: CLIP puts two different photos of one scene close together, and dHash cannot tell flat
 * areas apart (every solid colour hashes to zero).
 */
import { createHash } from 'node:crypto';
import type { LoadedImage } from '../contracts/request.js';
import { dHash, hammingDistance } from './dhash.js';
import type { ImageIndex, IndexedImageInfo } from './image-index.js';

export interface DuplicatePolicy {
  maxBits: number;
  minSimilarity: number;
}

export interface RememberOptions {
  index: ImageIndex;
  key: string;
  image: LoadedImage;
  /** The image's normalised embedding. */
  vector: Float32Array;
  link: string;
  author: string;
  at: number;
  /** Look for an earlier post of the same image first (duplicate notices opted in). */
  duplicates?: DuplicatePolicy;
}

/** Earlier posts compared for a duplicate: the nearest few in CLIP space. */
const CANDIDATES = 5;

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Stores the image; returns the earlier post it duplicates, when duplicates were asked for and found. */
export async function rememberImage(o: RememberOptions): Promise<{ duplicateOf?: IndexedImageInfo }> {
  const hash = sha256(o.image.bytes);
  const dhash = await dHash(o.image);
  let duplicateOf: IndexedImageInfo | undefined;
  if (o.duplicates) {
    const policy = o.duplicates;
    const hits = await o.index.search(o.key, o.vector, CANDIDATES);
    duplicateOf = hits.find(
      (h) =>
        h.image.hash === hash ||
        (h.score >= policy.minSimilarity &&
          h.image.dhash !== undefined &&
          hammingDistance(h.image.dhash, dhash) <= policy.maxBits),
    )?.image;
  }
  await o.index.add(o.key, {
    link: o.link,
    author: o.author,
    name: o.image.name,
    at: o.at,
    hash,
    dhash,
    vector: o.vector,
  });
  return duplicateOf ? { duplicateOf } : {};
}

export interface RememberPostedOptions {
  index: ImageIndex;
  /** The embed backend (CLIP image tower). */
  embed: (images: LoadedImage[], signal: AbortSignal) => Promise<Float32Array[]>;
  key: string;
  images: LoadedImage[];
  link: string;
  /** Who posted the images: `authors[i]` for image i where known, else `author` (the requester). */
  author: string;
  authors?: readonly (string | undefined)[];
  signal: AbortSignal;
  duplicates?: DuplicatePolicy;
  now?: () => number;
}

/**
 * Every image a request in an opted-in conversation carried: embedded in one batch and stored. Returns
 * the notice for the images that were posted before (one line each), or '' when none was.
 */
export async function rememberPosted(o: RememberPostedOptions): Promise<string> {
  if (o.images.length === 0) return '';
  const vectors = await o.embed(o.images, o.signal);
  const lines: string[] = [];
  for (const [i, image] of o.images.entries()) {
    const { duplicateOf } = await rememberImage({
      index: o.index,
      key: o.key,
      image,
      vector: vectors[i] as Float32Array,
      link: o.link,
      author: o.authors?.[i] ?? o.author,
      at: o.now?.() ?? Date.now(),
      ...(o.duplicates && { duplicates: o.duplicates }),
    });
    if (duplicateOf) {
      const what = o.images.length > 1 ? `${image.name} was` : 'This image was';
      lines.push(`${what} posted here before: ${duplicateOf.link || duplicateOf.name}`);
    }
  }
  return lines.join('\n');
}
