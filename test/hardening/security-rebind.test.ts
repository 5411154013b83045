/**
 * DNS rebinding: the address the socket connects to is the one that was checked. A name
 * that answers a public address to the pre-check and a loopback address to the connection must not
 * reach the loopback server. Names are resolved by an injected resolver, never real DNS; the "public"
 * answers are never connected to (the second answer is the one the socket would use).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { promisify } from 'node:util';
import { request } from 'undici';
import type { FetchPolicy } from '../../src/contracts/media.js';
import { BlockedAddressError, guardedLookup, type LookupAll } from '../../src/core/address-guard.js';
import { createGuardedAgent } from '../../src/core/guarded-agent.js';
import { fetchImageBytes } from '../../src/core/media-fetch.js';
import { UserError } from '../../src/errors.js';
import { solidPng } from '../fakes/images.js';

const LIMITS = {
  maxBytes: 1024 * 1024,
  maxPixels: 4096 * 4096,
  formats: ['png', 'jpeg', 'webp', 'gif'] as const,
};

let server: Server;
let port = 0;
let png: Buffer;
/** Every request the loopback server received. */
const hits: string[] = [];

before(async () => {
  png = await solidPng('#00ff00', 8);
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/ok.png') return res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    if (url.pathname === '/to')
      return res.writeHead(302, { location: url.searchParams.get('u') ?? '/' }).end();
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/**
 * A resolver whose answers for a name change from one lookup to the next (the last answer repeats):
 * what a rebinding DNS server does. Records every name it was asked.
 */
function rebinding(table: Record<string, string[][]>): LookupAll & { asked: string[] } {
  const asked: string[] = [];
  const fn = async (host: string) => {
    const answers = table[host];
    const n = asked.filter((h) => h === host).length;
    asked.push(host);
    const addresses = answers?.[Math.min(n, answers.length - 1)];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(fn, { asked });
}

const PUBLIC = ['93.184.216.34'];
const LOOPBACK = ['127.0.0.1'];

async function refusedAsPrivate(p: Promise<unknown>, host: string) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
    assert.equal(e.code, 'image_fetch_failed');
    assert.equal(e.message, `r.png: iris does not fetch images from private or local addresses (${host}).`);
    return true;
  });
}

describe('DNS rebinding through fetchImageBytes', () => {
  test('public to the check, loopback to the connection: refused, the loopback server never hit', async () => {
    // 'localhost' is a name the system resolver would also send to the loopback server, so a transport
    // that resolves the name again on its own (the old global fetch) reaches it and this test fails.
    const host = `localhost:${port}`;
    const lookup = rebinding({ localhost: [PUBLIC, LOOPBACK] });
    const before = hits.length;
    const policy: FetchPolicy = { allowHosts: [host], privateHosts: [], timeoutMs: 10_000, lookup };
    await refusedAsPrivate(
      fetchImageBytes({ name: 'r.png', url: `http://${host}/ok.png` }, LIMITS, policy),
      host,
    );
    assert.deepEqual(hits.slice(before), [], 'no request reached the loopback server');
    // The pre-check asked once; the connection asked again and that answer was checked.
    assert.deepEqual(lookup.asked, ['localhost', 'localhost']);
  });

  test('a redirect to a rebinding host is refused at connect time; its target is never hit', async () => {
    const trusted = `127.0.0.1:${port}`;
    const target = `rebind.test:${port}`;
    const lookup = rebinding({ 'rebind.test': [PUBLIC, LOOPBACK] });
    const before = hits.length;
    const policy: FetchPolicy = {
      allowHosts: [trusted, target],
      privateHosts: [trusted],
      timeoutMs: 10_000,
      lookup,
    };
    const url = `http://${trusted}/to?u=${encodeURIComponent(`http://${target}/ok.png`)}`;
    await refusedAsPrivate(fetchImageBytes({ name: 'r.png', url }, LIMITS, policy), target);
    assert.deepEqual(hits.slice(before), [`/to?u=${encodeURIComponent(`http://${target}/ok.png`)}`]);
    assert.deepEqual(lookup.asked, ['rebind.test', 'rebind.test']);
  });

  test('a name in IRIS_ALLOW_HOSTS connects to the address the resolver gave (loopback allowed)', async () => {
    const host = `trusted.test:${port}`;
    const lookup = rebinding({ 'trusted.test': [LOOPBACK] });
    const before = hits.length;
    const policy: FetchPolicy = { allowHosts: [host], privateHosts: [host], timeoutMs: 10_000, lookup };
    const bytes = await fetchImageBytes({ name: 'r.png', url: `http://${host}/ok.png` }, LIMITS, policy);
    assert.deepEqual(bytes, png);
    assert.deepEqual(hits.slice(before), ['/ok.png']);
    // Exempt: no pre-check; the one lookup is the connection's own, through the injected resolver.
    assert.deepEqual(lookup.asked, ['trusted.test']);
  });

  test('the exemption is per host:port: the same name on another port is checked', async () => {
    const lookup = rebinding({ 'trusted.test': [LOOPBACK] });
    const before = hits.length;
    const policy: FetchPolicy = {
      allowHosts: [`trusted.test:${port}`, 'trusted.test'],
      privateHosts: [`trusted.test:${port + 1}`],
      timeoutMs: 10_000,
      lookup,
    };
    await refusedAsPrivate(
      fetchImageBytes({ name: 'r.png', url: `http://trusted.test:${port}/ok.png` }, LIMITS, policy),
      `trusted.test:${port}`,
    );
    assert.deepEqual(hits.slice(before), []);
  });
});

describe('TLS through the pinned connection', () => {
  let tls: TlsServer;
  let tlsPort = 0;
  const servernames: string[] = [];

  before(async () => {
    // No certificate needed: the client's SNI arrives before one is chosen, then the handshake is dropped.
    tls = createTlsServer({
      SNICallback: (servername, cb) => {
        servernames.push(servername);
        cb(new Error('test server: no certificate'));
      },
    });
    tls.on('tlsClientError', () => {});
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    tlsPort = (tls.address() as AddressInfo).port;
  });

  after(async () => {
    await new Promise((r) => tls.close(r));
  });

  test('the TLS server name is the host name, not the address the socket connected to', async () => {
    const host = `tls.test:${tlsPort}`;
    const lookup = rebinding({ 'tls.test': [LOOPBACK] });
    const policy: FetchPolicy = { allowHosts: [host], privateHosts: [host], timeoutMs: 10_000, lookup };
    await assert.rejects(
      fetchImageBytes({ name: 'r.png', url: `https://${host}/ok.png` }, LIMITS, policy),
      (e: unknown) =>
        e instanceof UserError && e.message === `r.png: could not download the image (${host}).`,
    );
    assert.deepEqual(servernames, ['tls.test']);
    assert.deepEqual(lookup.asked, ['tls.test']);
  });
});

describe('the guarded lookup and Agent on their own (no pre-check)', () => {
  const lookupOf = (table: Record<string, string[][]>, allowPrivate = false) =>
    promisify(guardedLookup(rebinding(table), { allowPrivate })) as unknown as (
      host: string,
      options: { all?: boolean; family?: number },
    ) => Promise<unknown>;

  test('refuses a name with any private address, in every spelling', async () => {
    for (const addresses of [LOOPBACK, ['93.184.216.34', '10.0.0.1'], ['::ffff:127.0.0.1'], ['fe80::1']]) {
      await assert.rejects(lookupOf({ 'a.test': [addresses] })('a.test', { all: true }), BlockedAddressError);
      await assert.rejects(lookupOf({ 'a.test': [addresses] })('a.test', {}), BlockedAddressError);
    }
  });

  test('hands the checked public addresses to the socket, honouring all and family', async () => {
    const table = { 'a.test': [['2606:4700::1', '93.184.216.34']] };
    assert.deepEqual(await lookupOf(table)('a.test', { all: true }), [
      { address: '2606:4700::1', family: 6 },
      { address: '93.184.216.34', family: 4 },
    ]);
    assert.deepEqual(await lookupOf(table)('a.test', { all: true, family: 4 }), [
      { address: '93.184.216.34', family: 4 },
    ]);
    // promisify of a (err, address, family) callback keeps the first value only.
    assert.equal(await lookupOf(table)('a.test', {}), '2606:4700::1');
  });

  test('allowPrivate (IRIS_ALLOW_HOSTS) passes loopback; a resolver failure is passed on', async () => {
    assert.equal(await lookupOf({ 'a.test': [LOOPBACK] }, true)('a.test', {}), '127.0.0.1');
    await assert.rejects(lookupOf({})('gone.test', {}), /ENOTFOUND gone\.test/);
  });

  test('the Agent refuses a name that resolves to loopback at connect time; nothing reaches the server', async () => {
    const lookup = rebinding({ 'local.test': [LOOPBACK] });
    const agent = createGuardedAgent({ lookup, isExempt: () => false });
    const before = hits.length;
    try {
      await assert.rejects(
        request(`http://local.test:${port}/ok.png`, { dispatcher: agent }),
        (e: unknown) => e instanceof BlockedAddressError && e.host === 'local.test',
      );
      await assert.rejects(
        request(`http://127.0.0.1:${port}/ok.png`, { dispatcher: agent }),
        (e: unknown) => e instanceof BlockedAddressError && e.host === '127.0.0.1',
      );
    } finally {
      await agent.destroy();
    }
    assert.deepEqual(hits.slice(before), []);
    assert.deepEqual(lookup.asked, ['local.test']);
  });

  test("the Agent connects an exempt origin to the resolver's address (the control)", async () => {
    const lookup = rebinding({ 'local.test': [LOOPBACK] });
    const asked: { hostname: string; port: string }[] = [];
    const agent = createGuardedAgent({
      lookup,
      isExempt: (origin) => {
        asked.push(origin);
        return origin.hostname === 'local.test' && origin.port === String(port);
      },
    });
    const before = hits.length;
    try {
      const res = await request(`http://local.test:${port}/ok.png`, { dispatcher: agent });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(Buffer.from(await res.body.arrayBuffer()), png);
    } finally {
      await agent.destroy();
    }
    assert.deepEqual(hits.slice(before), ['/ok.png']);
    assert.deepEqual(asked, [{ hostname: 'local.test', port: String(port) }]);
  });
});
