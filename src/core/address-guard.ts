/**
 * SSRF guard for attachment downloads: a host may only be fetched when every address it resolves to is
 * public. Private, loopback, link-local, CGNAT, multicast and reserved ranges are refused, in IPv4, IPv6
 * and IPv4-mapped IPv6 (::ffff:a.b.c.d). The resolver is injected so tests never touch real DNS.
 *
 * DNS rebinding: `guardedLookup` is the resolver the download sockets use (src/core/guarded-agent.ts), so
 * the address a socket connects to is the one checked in the same step, whatever the name answered to
 * an earlier check.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** dns.lookup(host, { all: true }) — the shape of the injected resolver. */
export type LookupAll = (host: string) => Promise<ResolvedAddress[]>;

export const systemLookup: LookupAll = (host) => dnsLookup(host, { all: true, verbatim: true });

const V4_BLOCKED: [string, number][] = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];
const V6_BLOCKED: [string, number][] = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::', 96], // IPv4-compatible (deprecated)
  ['64:ff9b::', 96], // NAT64: may embed a private IPv4 address
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

function blockList(): BlockList {
  const list = new BlockList();
  for (const [net, prefix] of V4_BLOCKED) list.addSubnet(net, prefix, 'ipv4');
  for (const [net, prefix] of V6_BLOCKED) list.addSubnet(net, prefix, 'ipv6');
  return list;
}

/** '::ffff:10.0.0.1' or '::ffff:a00:1' → '10.0.0.1'; anything else as is. */
export function unmapIPv4(address: string): string {
  const lower = address.toLowerCase().replace(/^\[|\]$/g, '');
  const dotted = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted?.[1]) return dotted[1];
  const hex = /^(?:0{0,4}:){0,5}:?ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex?.[1] && hex[2]) {
    const hi = Number.parseInt(hex[1], 16);
    const lo = Number.parseInt(hex[2], 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return lower;
}

/** True when `address` (an IP literal) is not a public unicast address. Non-IP text counts as private. */
export function isPrivateAddress(address: string): boolean {
  const ip = unmapIPv4(address);
  const family = isIP(ip);
  if (family === 0) return true;
  return blockList().check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The addresses of `hostname` that are not public ([] when all are public). An IP literal is checked
 * as is; a name is resolved with `lookup` (every address, IPv4 and IPv6).
 */
export async function privateAddressesOf(hostname: string, lookup: LookupAll): Promise<string[]> {
  const host = hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [host] : (await lookup(host)).map((a) => a.address);
  if (addresses.length === 0) return [host];
  return addresses.filter(isPrivateAddress);
}

/** A connection refused because its host resolved to a private address (media-fetch turns it into a UserError). */
export class BlockedAddressError extends Error {
  readonly code = 'EBLOCKEDADDRESS';
  constructor(readonly host: string) {
    super(`${host} resolves to a private or local address`);
    this.name = 'BlockedAddressError';
  }
}

const wantedFamily = (family: number | string | undefined): 4 | 6 | undefined =>
  family === 4 || family === 'IPv4' ? 4 : family === 6 || family === 'IPv6' ? 6 : undefined;

/**
 * A `lookup` for net/tls.connect: resolves with `lookup`, fails with BlockedAddressError when any
 * address is private (unless `allowPrivate`: IRIS_ALLOW_HOSTS), and hands the checked addresses to the
 * socket, so nothing resolves the name between the check and the connection.
 */
export function guardedLookup(lookup: LookupAll, options: { allowPrivate: boolean }): LookupFunction {
  return (hostname, dnsOptions, callback) => {
    const done = (addresses: ResolvedAddress[]) => {
      if (!options.allowPrivate && addresses.some((a) => isPrivateAddress(a.address))) {
        return callback(new BlockedAddressError(hostname), '', 0);
      }
      const family = wantedFamily(dnsOptions.family);
      const usable = addresses.filter((a) => family === undefined || a.family === family);
      const first = usable[0];
      if (!first) {
        const error = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
        return callback(error, '', 0);
      }
      if (dnsOptions.all) return callback(null, usable);
      callback(null, first.address, first.family);
    };
    // Two-argument then: an exception thrown by the callback must not call it a second time.
    lookup(hostname).then(done, (error: NodeJS.ErrnoException) => callback(error, '', 0));
  };
}
