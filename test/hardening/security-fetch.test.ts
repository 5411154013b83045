/**
 * Attachment fetching: allow-listed hosts only, no redirect to another host, no private /
 * loopback / link-local / multicast address (SSRF), size cap enforced while streaming. Local HTTP
 * servers are reachable only through the IRIS_ALLOW_HOSTS exception (`privateHosts`); private-address
 * refusals use an injected resolver, never real DNS.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { mediaSettings } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { FetchPolicy } from '../../src/contracts/media.js';
import { isPrivateAddress, type LookupAll, unmapIPv4 } from '../../src/core/address-guard.js';
import { fetchImageBytes } from '../../src/core/media-fetch.js';
import { UserError } from '../../src/errors.js';
import { solidPng } from '../fakes/images.js';

const MB = 1024 * 1024;
const LIMITS = { maxBytes: 1 * MB, maxPixels: 4096 * 4096, formats: ['png', 'jpeg', 'webp', 'gif'] as const };

let server: Server;
let port = 0;
let png: Buffer;
/** Bytes the chunked route managed to write before the client hung up. */
let chunkedWritten = 0;
let chunkedDone: Promise<void>;
const hits: string[] = [];

before(async () => {
  png = await solidPng('#ff0000', 8);
  let finish = () => {};
  chunkedDone = new Promise((r) => {
    finish = r;
  });
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/ok.png') return res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    if (url.pathname === '/to') {
      return res.writeHead(302, { location: url.searchParams.get('u') ?? '/' }).end();
    }
    if (url.pathname === '/chunked') {
      // No Content-Length: 64 MB in 64 KB chunks, for a 1 MB cap (more than any socket buffer holds).
      res.writeHead(200, { 'content-type': 'image/png' });
      const chunk = Buffer.alloc(64 * 1024, 7);
      let left = 1024;
      const pump = () => {
        while (left > 0) {
          left -= 1;
          chunkedWritten += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', finish);
      return pump();
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** A resolver from a fixed table; records what it was asked. */
function resolver(table: Record<string, string[]>): LookupAll & { asked: string[] } {
  const asked: string[] = [];
  const fn = async (host: string) => {
    asked.push(host);
    const addresses = table[host];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(fn, { asked });
}

/** A transport that records every URL and never touches the network. */
function recordingFetch() {
  const calls: string[] = [];
  const fetch = (async (url: string) => {
    calls.push(url);
    return new Response(png, { headers: { 'content-type': 'image/png' } });
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

const loopback = () => `127.0.0.1:${port}`;
const policy = (extra: Partial<FetchPolicy>): FetchPolicy => ({
  allowHosts: [loopback()],
  privateHosts: [loopback()],
  timeoutMs: 10_000,
  ...extra,
});

async function refused(p: Promise<unknown>, message: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
    assert.equal(e.code, 'image_fetch_failed');
    assert.match(e.message, message);
    return true;
  });
}

describe('allow-list and redirects', () => {
  test('a host off the allow-list is refused before any request or lookup', async () => {
    const t = recordingFetch();
    const lookup = resolver({ 'evil.example': ['93.184.216.34'] });
    await refused(
      fetchImageBytes({ name: 'a.png', url: 'https://evil.example/a.png' }, LIMITS, policy({ ...t, lookup })),
      /^a\.png: iris does not fetch images from evil\.example\.$/,
    );
    assert.deepEqual(t.calls, []);
    assert.deepEqual(lookup.asked, []);
  });

  test('a redirect to another host is refused; the other host is never contacted', async () => {
    const before = hits.length;
    const lookup = resolver({});
    await refused(
      fetchImageBytes(
        {
          name: 'b.png',
          url: `http://${loopback()}/to?u=${encodeURIComponent('https://evil.example/x.png')}`,
        },
        LIMITS,
        policy({ lookup }),
      ),
      /^b\.png: iris does not fetch images from evil\.example\.$/,
    );
    assert.deepEqual(hits.slice(before), ['/to?u=https%3A%2F%2Fevil.example%2Fx.png']);
    assert.deepEqual(lookup.asked, []);
  });

  test('a redirect on the same allow-listed host is followed', async () => {
    const bytes = await fetchImageBytes(
      { name: 'c.png', url: `http://${loopback()}/to?u=/ok.png` },
      LIMITS,
      policy({}),
    );
    assert.deepEqual(bytes, png);
  });
});

describe('private addresses (SSRF)', () => {
  const cases: [string, boolean][] = [
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['10.1.2.3', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['0.0.0.0', true],
    ['100.64.0.1', true],
    ['224.0.0.1', true],
    ['255.255.255.255', true],
    ['::1', true],
    ['::', true],
    ['fc00::1', true],
    ['fd12:3456::1', true],
    ['fe80::1', true],
    ['ff02::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['::ffff:10.0.0.1', true],
    ['::ffff:a9fe:a9fe', true],
    ['8.8.8.8', false],
    ['93.184.216.34', false],
    ['2606:4700:4700::1111', false],
    ['::ffff:8.8.8.8', false],
    ['not-an-address', true],
  ];
  for (const [address, blocked] of cases) {
    test(`${address} is ${blocked ? 'refused' : 'allowed'}`, () => {
      assert.equal(isPrivateAddress(address), blocked);
    });
  }

  test('IPv4-mapped IPv6 unmaps in both spellings', () => {
    assert.equal(unmapIPv4('::ffff:7f00:1'), '127.0.0.1');
    assert.equal(unmapIPv4('0:0:0:0:0:ffff:10.0.0.1'), '10.0.0.1');
    assert.equal(unmapIPv4('2001:db8::1'), '2001:db8::1');
  });

  test('an allow-listed name that resolves to a private address is refused without a request', async () => {
    const t = recordingFetch();
    const lookup = resolver({ 'cdn.example': ['10.0.0.5'] });
    await refused(
      fetchImageBytes({ name: 'd.png', url: 'https://cdn.example/d.png' }, LIMITS, {
        allowHosts: ['cdn.example'],
        timeoutMs: 5000,
        ...t,
        lookup,
      }),
      /^d\.png: iris does not fetch images from private or local addresses \(cdn\.example\)\.$/,
    );
    assert.deepEqual(lookup.asked, ['cdn.example']);
    assert.deepEqual(t.calls, []);
  });

  test('one private address among public ones is enough to refuse (IPv6 too)', async () => {
    const t = recordingFetch();
    for (const addresses of [
      ['93.184.216.34', '192.168.0.10'],
      ['2606:4700::1', 'fe80::1'],
      ['::ffff:169.254.169.254'],
    ]) {
      const lookup = resolver({ 'cdn.example': addresses });
      await refused(
        fetchImageBytes({ name: 'e.png', url: 'https://cdn.example/e.png' }, LIMITS, {
          allowHosts: ['cdn.example'],
          timeoutMs: 5000,
          ...t,
          lookup,
        }),
        /private or local addresses/,
      );
    }
    assert.deepEqual(t.calls, []);
  });

  test('an allow-listed IP literal in a private range is refused without a lookup', async () => {
    const t = recordingFetch();
    const lookup = resolver({});
    await refused(
      fetchImageBytes({ name: 'meta.png', url: 'http://169.254.169.254:80/latest' }, LIMITS, {
        allowHosts: ['169.254.169.254:80'],
        timeoutMs: 5000,
        ...t,
        lookup,
      }),
      /private or local addresses \(169\.254\.169\.254\)/,
    );
    assert.deepEqual(lookup.asked, []);
    assert.deepEqual(t.calls, []);
  });

  test('a redirect from a trusted host to an allow-listed host on a private address is refused', async () => {
    const lookup = resolver({ 'cdn.example': ['127.0.0.1'] });
    await refused(
      fetchImageBytes(
        {
          name: 'f.png',
          url: `http://${loopback()}/to?u=${encodeURIComponent('https://cdn.example/f.png')}`,
        },
        LIMITS,
        policy({ allowHosts: [loopback(), 'cdn.example'], lookup }),
      ),
      /private or local addresses \(cdn\.example\)/,
    );
    assert.deepEqual(lookup.asked, ['cdn.example']);
  });

  test('a name that resolves to public addresses only is fetched', async () => {
    const t = recordingFetch();
    const lookup = resolver({ 'cdn.example': ['93.184.216.34', '2606:4700::1'] });
    const bytes = await fetchImageBytes({ name: 'g.png', url: 'https://cdn.example/g.png' }, LIMITS, {
      allowHosts: ['cdn.example'],
      timeoutMs: 5000,
      ...t,
      lookup,
    });
    assert.deepEqual(bytes, png);
    assert.deepEqual(t.calls, ['https://cdn.example/g.png']);
  });

  test('a name that does not resolve is a clear fetch failure', async () => {
    await refused(
      fetchImageBytes({ name: 'h.png', url: 'https://gone.example/h.png' }, LIMITS, {
        allowHosts: ['gone.example'],
        timeoutMs: 5000,
        lookup: resolver({}),
      }),
      /^h\.png: the host could not be resolved \(gone\.example\)\.$/,
    );
  });

  test('loopback is refused unless IRIS_ALLOW_HOSTS names it; the platform hosts get no exception', async () => {
    const url = `http://${loopback()}/ok.png`;
    await refused(
      fetchImageBytes({ name: 'i.png', url }, LIMITS, { allowHosts: [loopback()], timeoutMs: 5000 }),
      /private or local addresses/,
    );
    const trusted = mediaSettings(loadConfig({ env: { IRIS_ALLOW_HOSTS: loopback() } }));
    assert.deepEqual(trusted.policy.privateHosts, [loopback()]);
    assert.deepEqual(await fetchImageBytes({ name: 'i.png', url }, LIMITS, trusted.policy), png);
    const plain = mediaSettings(loadConfig({ env: {} }));
    assert.deepEqual(plain.policy.privateHosts, []);
    assert.ok(plain.policy.allowHosts.includes('cdn.discordapp.com'));
  });
});

describe('size cap while streaming', () => {
  test('a chunked body with no Content-Length, announced as tiny, is cut off at the cap', async () => {
    await assert.rejects(
      fetchImageBytes({ name: 'big.png', url: `http://${loopback()}/chunked`, size: 10 }, LIMITS, policy({})),
      (e: unknown) =>
        e instanceof UserError &&
        e.code === 'image_too_large' &&
        /larger than the 1 MB limit/.test(e.message),
    );
    await chunkedDone;
    assert.ok(
      chunkedWritten < 64 * MB,
      `the transfer was cancelled: ${chunkedWritten} of ${64 * MB} bytes were written`,
    );
  });
});
