/** What images iris accepts and where it may fetch them from: the limits every layer checks against. */
import type { LookupAll } from '../core/address-guard.js';
import type { LoadedImage } from './request.js';

export type ImageFormat = LoadedImage['format'];

export interface MediaLimits {
  /** Largest encoded image, in bytes. */
  maxBytes: number;
  /** Largest image, width × height (sharp's limitInputPixels); larger ones are refused from the header. */
  maxPixels: number;
  /** Accepted formats; GIF is read as its first frame. */
  formats: readonly ImageFormat[];
}

export const DEFAULT_MEDIA_LIMITS = {
  maxBytes: 20 * 1024 * 1024,
  maxPixels: 40_000_000,
  formats: ['png', 'jpeg', 'webp', 'gif'],
} as const satisfies MediaLimits;

export interface FetchPolicy {
  /** Exact `host` (any port) or `host:port` that attachments may be fetched from. */
  allowHosts: string[];
  /** One deadline for the whole download, redirects included. */
  timeoutMs: number;
  /** Injected transport (tests). */
  fetch?: typeof fetch;
  /**
   * Allow-list entries that may resolve to private or loopback addresses (config media.allowHosts, i.e.
   * IRIS_ALLOW_HOSTS: a deliberate exception for tests and local proxies). Every other host must resolve
   * to public addresses only (SSRF guard, src/core/address-guard.ts).
   */
  privateHosts?: string[];
  /** Injected resolver (tests); default dns.lookup with all: true. */
  lookup?: LookupAll;
}
