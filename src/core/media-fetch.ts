/**
 * Downloading attachments: allow-listed hosts only, https unless named explicitly, no redirects off the
 * allow-list, no private, loopback or link-local addresses (each hop's host is resolved and checked;
 * hosts in `policy.privateHosts`, i.e. IRIS_ALLOW_HOSTS, are the deliberate exception), a byte cap
 * enforced before and while downloading, one deadline for the whole transfer.
 *
 * The sockets connect through a guarded Agent (guarded-agent.ts): the address each one uses is checked
 * in the same step that resolved it, so a DNS answer that changes after the pre-check (rebinding) is
 * refused too.
 *
 * Messages are shown in chat: they name the file and the host, never the path, the query string (signed
 * CDN URLs carry tokens) or a header. `ref.headers` (e.g. Slack's bot token) are sent to the URL's own
 * origin only, never to a redirect target on another origin.
 */

import { type Dispatcher, fetch as undiciFetch } from 'undici';
import type { FetchPolicy, MediaLimits } from '../contracts/media.js';
import type { ImageRef } from '../contracts/request.js';
import { UserError } from '../errors.js';
import { BlockedAddressError, privateAddressesOf, systemLookup } from './address-guard.js';
import { createGuardedAgent } from './guarded-agent.js';

const MAX_REDIRECTS = 3;
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
/** Content types that may carry image bytes; anything else (text/html, application/json, …) is refused. */
const BINARY_TYPES = new Set(['application/octet-stream', 'binary/octet-stream']);

/** "20 MB", "1.5 MB" — binary megabytes, as Discord and Slack show attachment sizes. */
export function formatMB(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  const shown = mb >= 10 ? Math.round(mb) : Math.round(mb * 10) / 10;
  return `${shown || '< 0.1'} MB`;
}

/** `bytes` undefined: the size is unknown (a download passed the cap). */
export function tooLarge(name: string, bytes: number | undefined, limit: number): UserError {
  return new UserError(
    'image_too_large',
    bytes === undefined
      ? `${name} is larger than the ${formatMB(limit)} limit.`
      : `${name} is ${formatMB(bytes)}; the limit is ${formatMB(limit)}.`,
  );
}

export function notAnImage(name: string, formats: readonly string[]): UserError {
  return new UserError('bad_image', `${name} is not an image (expected ${formatList(formats)}).`);
}

const FORMAT_NAMES: Record<string, string> = { png: 'PNG', jpeg: 'JPEG', webp: 'WebP', gif: 'GIF' };

/** "PNG, JPEG, WebP or GIF" */
export function formatList(formats: readonly string[]): string {
  const names = formats.map((f) => FORMAT_NAMES[f] ?? f.toUpperCase());
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

/** True for a Content-Type that cannot be an image (HTML login pages, JSON errors, text). */
export function isNonImageContentType(contentType: string | null | undefined): boolean {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  if (!type) return false;
  return !type.startsWith('image/') && !BINARY_TYPES.has(type);
}

const stripBrackets = (host: string) => host.replace(/^\[(.*)\]$/, '$1').toLowerCase();

function effectivePort(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : url.protocol === 'http:' ? '80' : '');
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '::1' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/**
 * How an allow-list entry matches: 'host' matches that host on any port, 'host:port' (or '[v6]:port')
 * only that port. Returns the matching kind or null.
 */
function matchAllowList(url: URL, allowHosts: readonly string[]): 'host' | 'host:port' | null {
  return matchHostPort(stripBrackets(url.hostname), effectivePort(url), allowHosts);
}

/** matchAllowList for a bare host name (no brackets) and a port ('443', never ''). */
function matchHostPort(hostname: string, port: string, allowHosts: readonly string[]) {
  let best: 'host' | 'host:port' | null = null;
  for (const raw of allowHosts) {
    const entry = raw.trim().toLowerCase();
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    const colons = entry.split(':').length - 1;
    // '[::1]:8080', '::1' (bare IPv6: no port), 'host:8080', 'host'
    const [host, entryPort] = v6
      ? [v6[1], v6[2]]
      : colons === 1
        ? (entry.split(':') as [string, string])
        : [entry, undefined];
    if (host !== hostname) continue;
    if (entryPort === undefined) best ??= 'host';
    else if (entryPort === port) best = 'host:port';
  }
  return best;
}

/**
 * Checks a URL against the policy. https is required, except for a host the allow-list names with its
 * port ('proxy:8080') or a loopback host (tests, local proxies): platform CDNs are never fetched over http.
 */
export function checkUrl(name: string, url: URL, policy: FetchPolicy): void {
  const host = url.host;
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UserError('image_fetch_failed', `${name}: iris only fetches images over https.`);
  }
  if (url.username || url.password) {
    throw new UserError('image_fetch_failed', `${name}: links with credentials are not fetched (${host}).`);
  }
  const match = matchAllowList(url, policy.allowHosts);
  if (!match) {
    throw new UserError('image_fetch_failed', `${name}: iris does not fetch images from ${host}.`);
  }
  if (url.protocol === 'http:' && match !== 'host:port' && !isLoopback(stripBrackets(url.hostname))) {
    throw new UserError('image_fetch_failed', `${name}: iris only fetches images over https (${host}).`);
  }
}

/**
 * Refuses a host that resolves to a private, loopback, link-local or multicast address, unless the
 * allow-list entry it matched is one of `policy.privateHosts`. Called for the first URL and every redirect.
 */
export async function checkAddress(name: string, url: URL, policy: FetchPolicy): Promise<void> {
  if (matchAllowList(url, policy.privateHosts ?? [])) return;
  let blocked: string[];
  try {
    blocked = await privateAddressesOf(url.hostname, policy.lookup ?? systemLookup);
  } catch (cause) {
    throw fetchFailed(name, url.host, 'the host could not be resolved', cause);
  }
  if (blocked.length > 0) throw privateRefused(name, url.host);
}

function privateRefused(name: string, host: string): UserError {
  return new UserError(
    'image_fetch_failed',
    `${name}: iris does not fetch images from private or local addresses (${host}).`,
  );
}

/** True when a transport error (fetch wraps it in `cause`) is the guarded Agent refusing an address. */
function isBlockedAddress(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof BlockedAddressError) return true;
  }
  return false;
}

/** The request half of fetch that both undici's fetch and an injected test transport take. */
type Transport = (
  url: string,
  init: RequestInit & { dispatcher?: Dispatcher; redirect: 'manual' },
) => Promise<Response>;

function fetchFailed(name: string, host: string, what: string, cause?: unknown): UserError {
  return new UserError('image_fetch_failed', `${name}: ${what} (${host}).`, { cause });
}

async function discard(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => {});
}

/** Bytes for a ref: ref.data as is, or a capped download of ref.url. */
export async function fetchImageBytes(
  ref: ImageRef,
  limits: MediaLimits,
  policy: FetchPolicy,
  signal?: AbortSignal,
): Promise<Buffer> {
  const { name } = ref;
  if (ref.data) return ref.data;
  if (!ref.url) throw new UserError('bad_image', `${name} has no data.`);
  if (ref.size !== undefined && ref.size > limits.maxBytes) throw tooLarge(name, ref.size, limits.maxBytes);
  if (isNonImageContentType(ref.contentType)) throw notAnImage(name, limits.formats);

  let url: URL;
  try {
    url = new URL(ref.url);
  } catch {
    throw new UserError('image_fetch_failed', `${name}: the link is not valid.`);
  }
  checkUrl(name, url, policy);
  signal?.throwIfAborted();

  const origin = url.origin;
  // One Agent per download: its sockets resolve through the guarded lookup (the injected transport of
  // a test has no sockets). Closed in `finally`; attachments are few, so no pool is kept between them.
  const agent = policy.fetch
    ? undefined
    : createGuardedAgent({
        lookup: policy.lookup ?? systemLookup,
        isExempt: ({ hostname, port }) => matchHostPort(hostname, port, policy.privateHosts ?? []) !== null,
      });
  const doFetch = (policy.fetch ?? undiciFetch) as Transport;
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), policy.timeoutMs);
  const combined = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
  const onAbortError = (cause: unknown, host: string): never => {
    if (isBlockedAddress(cause)) throw privateRefused(name, host);
    if (signal?.aborted) {
      const reason = signal.reason;
      throw reason instanceof UserError
        ? reason
        : new UserError('cancelled', 'Cancelled.', { cause: reason });
    }
    if (deadline.signal.aborted) {
      throw fetchFailed(name, host, `no answer within ${Math.round(policy.timeoutMs / 100) / 10} s`, cause);
    }
    throw fetchFailed(name, host, 'could not download the image', cause);
  };

  try {
    for (let hop = 0; ; hop++) {
      const host = url.host;
      await checkAddress(name, url, policy);
      signal?.throwIfAborted();
      let res: Response;
      try {
        res = await doFetch(url.href, {
          method: 'GET',
          headers: url.origin === origin ? ref.headers : undefined,
          redirect: 'manual',
          signal: combined,
          ...(agent && { dispatcher: agent }),
        });
      } catch (cause) {
        return onAbortError(cause, host);
      }

      if (REDIRECT_STATUS.has(res.status)) {
        const location = res.headers.get('location');
        await discard(res);
        if (!location) throw fetchFailed(name, host, `HTTP ${res.status} without a target`);
        if (hop >= MAX_REDIRECTS) throw fetchFailed(name, host, 'too many redirects');
        try {
          url = new URL(location, url);
        } catch {
          throw fetchFailed(name, host, 'redirected to an invalid link');
        }
        checkUrl(name, url, policy);
        continue;
      }
      if (!res.ok) {
        await discard(res);
        throw fetchFailed(name, host, `HTTP ${res.status}`);
      }
      if (isNonImageContentType(res.headers.get('content-type'))) {
        await discard(res);
        throw notAnImage(name, limits.formats);
      }
      const length = Number(res.headers.get('content-length') ?? Number.NaN);
      if (Number.isFinite(length) && length > limits.maxBytes) {
        await discard(res);
        throw tooLarge(name, length, limits.maxBytes);
      }
      try {
        return await readCapped(res, name, limits.maxBytes);
      } catch (cause) {
        if (cause instanceof UserError) throw cause;
        return onAbortError(cause, host);
      }
    }
  } finally {
    clearTimeout(timer);
    await agent?.destroy().catch(() => {});
  }
}

/** Reads a body, cancelling the transfer as soon as it passes `max` bytes. */
async function readCapped(res: Response, name: string, max: number): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge(name, undefined, max);
    }
    chunks.push(value);
  }
  const only = chunks.length === 1 ? chunks[0] : undefined;
  if (only) return Buffer.from(only.buffer, only.byteOffset, only.byteLength);
  return Buffer.concat(chunks, total);
}
