import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Context, MiddlewareHandler } from 'hono';

/**
 * Who may use the playground. It runs commands as iris's admin, so a web page the operator happens to
 * have open elsewhere must not drive it:
 * - Host must be one of the playground's own addresses or a configured public name (DNS rebinding: a
 *   hostile name that resolves to 127.0.0.1 carries its own name in Host);
 * - a browser request from another site (Sec-Fetch-Site) gets nothing but the page itself;
 * - a write must come from the same origin (never `Origin: null`) and carry the per-process token the
 *   page was served with, in a header a cross-origin form or fetch cannot send without CORS;
 * - with an access token configured (required beyond loopback), every request signs in with it.
 */

/** The header the page sends its token in. */
export const TOKEN_HEADER = 'x-iris-token';

const WILDCARDS = new Set(['0.0.0.0', '::', '']);
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '::1'];

/**
 * Host header values (lower case) the playground answers: its loopback names and the address it is bound
 * to (every address of this machine when bound to all) with its port, and each public name, as given
 * and, when given without a port, with the listening port.
 */
export function ownHosts(o: { host: string; port: number; publicNames: readonly string[] }): Set<string> {
  const names = new Set(LOOPBACK_NAMES);
  if (WILDCARDS.has(o.host)) {
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.add(a.address);
  } else names.add(o.host);
  const hosts = new Set([...names].map((n) => `${isIP(n) === 6 ? `[${n}]` : n}:${o.port}`.toLowerCase()));
  for (const name of o.publicNames.map((n) => n.toLowerCase())) {
    hosts.add(name);
    if (!/:\d+$/.test(name)) hosts.add(`${name}:${o.port}`);
  }
  return hosts;
}

function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `Authorization: Basic base64(any-name:token)` (what a browser sends after asking) or `Bearer token`. */
function signedIn(authorization: string | undefined, token: string): boolean {
  const [scheme = '', value = ''] = (authorization ?? '').split(/\s+/, 2);
  if (/^bearer$/i.test(scheme)) return sameSecret(value, token);
  if (!/^basic$/i.test(scheme)) return false;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  return sameSecret(decoded.slice(decoded.indexOf(':') + 1), token);
}

function sameOrigin(origin: string, host: string): boolean {
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === host;
  } catch {
    return false; // `null` and anything else that is not a URL
  }
}

const refuse = (c: Context, status: 401 | 403, error: string, headers: Record<string, string> = {}) =>
  c.json({ error }, status, { 'cache-control': 'no-store', ...headers });

export interface GuardOptions {
  /** From ownHosts, once the port is known. */
  hosts: () => ReadonlySet<string>;
  /** Per process; the page carries it (see TOKEN_HEADER). */
  pageToken: string;
  /** platforms.playground.accessToken; '' = none. */
  accessToken: string;
}

export function guard(o: GuardOptions): MiddlewareHandler {
  return async (c, next) => {
    const host = (c.req.header('host') ?? '').toLowerCase();
    if (!o.hosts().has(host)) {
      return refuse(
        c,
        403,
        'This playground answers only at its own address. If you reach it by another name, add that name to platforms.playground.publicNames.',
      );
    }
    if (o.accessToken && !signedIn(c.req.header('authorization'), o.accessToken)) {
      return refuse(c, 401, 'Sign in with the playground access token (any user name).', {
        'www-authenticate': 'Basic realm="iris playground", charset="UTF-8"',
      });
    }
    // Browsers say where a request comes from; another site may link to the page, nothing more.
    const site = c.req.header('sec-fetch-site');
    const page = c.req.method === 'GET' && c.req.path === '/';
    if (site && site !== 'same-origin' && site !== 'none' && !page) {
      return refuse(c, 403, 'The playground answers only its own page.');
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const origin = c.req.header('origin');
      if (origin !== undefined && !sameOrigin(origin, host)) {
        return refuse(c, 403, 'The playground takes messages only from its own page.');
      }
      if (!sameSecret(c.req.header(TOKEN_HEADER), o.pageToken)) {
        return refuse(
          c,
          403,
          `This request lacks the page's token (the ${TOKEN_HEADER} header): reload the page, iris may have restarted.`,
        );
      }
    }
    await next();
  };
}
