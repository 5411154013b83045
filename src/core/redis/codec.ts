/**
 * What travels through Redis: JSON, with binary data (images in, PNGs out) handled on the side.
 * A buffer up to `inlineBytes` rides inline as base64; a larger one is stored once under its sha256
 * (`<prefix>:blob:<hash>`, expiring after `ttlSeconds`) and the payload carries only the reference, so a
 * 10 MB photo is not copied into every job record, event and retry.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface CodecOptions {
  client: Redis;
  prefix: string;
  inlineBytes: number;
  /** How long a stored blob lives: longer than a job can wait and run. */
  ttlSeconds: number;
}

type Encoded = { $bin: string } | { $ref: string };

function isBinary(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isBinary(value);
}

/** Serialises `value`; large buffers are written to Redis first. */
export async function encodePayload(value: unknown, options: CodecOptions): Promise<string> {
  const blobs = new Map<string, Buffer>();
  const walk = (node: unknown): unknown => {
    if (isBinary(node)) {
      const buffer = Buffer.from(node.buffer, node.byteOffset, node.byteLength);
      if (buffer.length <= options.inlineBytes) return { $bin: buffer.toString('base64') } satisfies Encoded;
      const hash = createHash('sha256').update(buffer).digest('hex');
      blobs.set(hash, buffer);
      return { $ref: hash } satisfies Encoded;
    }
    if (Array.isArray(node)) return node.map(walk);
    if (isPlainObject(node)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node)) if (v !== undefined) out[k] = walk(v);
      return out;
    }
    return node;
  };
  const text = JSON.stringify(walk(value) ?? null);
  if (blobs.size > 0) {
    const multi = options.client.multi();
    for (const [hash, buffer] of blobs)
      multi.set(blobKey(options.prefix, hash), buffer, 'EX', options.ttlSeconds);
    await multi.exec();
  }
  return text;
}

/** Parses a payload made by encodePayload, fetching referenced buffers. A missing blob is an Error. */
export async function decodePayload(
  text: string,
  options: Pick<CodecOptions, 'client' | 'prefix'>,
): Promise<unknown> {
  const parsed: unknown = JSON.parse(text);
  const refs = new Set<string>();
  const collect = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(collect);
    else if (isPlainObject(node)) {
      if (typeof node.$ref === 'string' && Object.keys(node).length === 1) refs.add(node.$ref);
      else Object.values(node).forEach(collect);
    }
  };
  collect(parsed);
  const fetched = new Map<string, Buffer>();
  if (refs.size > 0) {
    const hashes = [...refs];
    const buffers = await options.client.mgetBuffer(...hashes.map((h) => blobKey(options.prefix, h)));
    hashes.forEach((hash, i) => {
      const buffer = buffers[i];
      if (!buffer) throw new Error(`image data ${hash.slice(0, 12)} expired from Redis before the job ran`);
      fetched.set(hash, buffer);
    });
  }
  const restore = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(restore);
    if (isPlainObject(node)) {
      const keys = Object.keys(node);
      if (keys.length === 1 && typeof node.$bin === 'string') return Buffer.from(node.$bin, 'base64');
      if (keys.length === 1 && typeof node.$ref === 'string') return fetched.get(node.$ref);
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node)) out[k] = restore(v);
      return out;
    }
    return node;
  };
  return restore(parsed);
}

function blobKey(prefix: string, hash: string): string {
  return `${prefix}:blob:${hash}`;
}
