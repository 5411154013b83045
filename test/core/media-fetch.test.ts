import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { DEFAULT_MEDIA_LIMITS, type FetchPolicy, type MediaLimits } from '../../src/contracts/media.js';
import type { ImageRef } from '../../src/contracts/request.js';
import { fetchImageBytes, resolveImage } from '../../src/core/media.js';
import { checkUrl } from '../../src/core/media-fetch.js';
import { UserError } from '../../src/errors.js';
import { SECRETS } from '../fakes/secrets.js';

const MB = 1024 * 1024;
const LIMITS: MediaLimits = { ...DEFAULT_MEDIA_LIMITS, maxBytes: 1 * MB };
const TOKEN = SECRETS.signedUrlToken;
const AUTH = 'Bearer xoxb-SECRETHEADER';

let png: Buffer;
let server: Server;
let port: number;
let base: string;
/** Every request the server saw: path and authorization header. */
const seen: { path: string; auth?: string }[] = [];
/** Resolves when a streaming response is torn down; reports how many bytes were written. */
let streamClosed: Promise<number>;
let closeStream: (n: number) => void;
const pending = new Set<ServerResponse>();

function route(req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://x');
  seen.push({ path: url.pathname, auth: req.headers.authorization });
  switch (url.pathname) {
    case '/ok.png':
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length }).end(png);
      return;
    case '/octet.png':
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(png);
      return;
    case '/login.html':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<html>Sign in</html>');
      return;
    case '/html-as-octet':
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end('<html>Sign in</html>');
      return;
    case '/empty.png':
      res.writeHead(200, { 'content-type': 'image/png' }).end();
      return;
    case '/huge-length': // announces 10 MB, sends nothing: must be refused from the header alone
      pending.add(res);
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': 10 * MB }).flushHeaders();
      return;
    case '/chunked': {
      // streams forever (well, 200 MB) unless the client hangs up
      let written = 0;
      const chunk = Buffer.alloc(64 * 1024, 1);
      res.writeHead(200, { 'content-type': 'image/png' });
      res.write(png.subarray(0, 8));
      res.on('close', () => closeStream(written));
      const pump = () => {
        while (!res.destroyed && written < 200 * MB) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    case '/slow.png': // never answers
      pending.add(res);
      return;
    case '/redirect-in':
      res.writeHead(302, { location: `/ok.png?${TOKEN}` }).end();
      return;
    case '/redirect-out':
      res.writeHead(302, { location: `https://evil.example/steal.png?${TOKEN}` }).end();
      return;
    case '/redirect-other-origin': // allowed host, other origin: no Authorization forwarded
      res.writeHead(307, { location: `http://localhost:${port}/ok.png` }).end();
      return;
    case '/loop':
      res.writeHead(301, { location: `/loop?${TOKEN}` }).end();
      return;
    default:
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  }
}

before(async () => {
  png = await sharp({ create: { width: 12, height: 8, channels: 3, background: 'red' } })
    .png()
    .toBuffer();
  server = createServer(route);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

after(async () => {
  for (const res of pending) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function resetStream() {
  streamClosed = new Promise((resolve) => {
    closeStream = resolve;
  });
}

/** The allow-listed hosts are the test's own (IRIS_ALLOW_HOSTS-style): exempt from the private-address check. */
const policy = (extra: Partial<FetchPolicy> = {}): FetchPolicy => {
  const allowHosts = extra.allowHosts ?? ['cdn.discordapp.com', `127.0.0.1:${port}`];
  return { allowHosts, privateHosts: allowHosts, timeoutMs: 5000, ...extra };
};

const ref = (path: string, extra: Partial<ImageRef> = {}): ImageRef => ({
  name: 'cat.png',
  url: `${base}${path}?${TOKEN}=1&sig=${TOKEN}`,
  headers: { authorization: AUTH },
  ...extra,
});

/** Asserts a UserError with the code and message, and that no secret leaks into it. */
async function rejectsUser(p: Promise<unknown>, code: string, message: RegExp | string) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    assert.ok(!e.message.includes(TOKEN), `query string leaked: ${e.message}`);
    assert.ok(!e.message.includes('SECRETHEADER'), `header leaked: ${e.message}`);
    assert.ok(!/\/(ok|loop|slow|chunked|redirect|steal)/.test(e.message), `path leaked: ${e.message}`);
    return true;
  });
}

/** A fetch that must not be called. */
function noFetch(): { fetch: typeof fetch; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    fetch: (async (input: string | URL | Request) => {
      calls.push(String(input));
      throw new Error('must not fetch');
    }) as typeof fetch,
  };
}

describe('fetchImageBytes', () => {
  test('ref.data is returned as is, without a request', async () => {
    const t = noFetch();
    const data = Buffer.from('x');
    assert.equal(await fetchImageBytes({ name: 'a', data }, LIMITS, policy({ fetch: t.fetch })), data);
    assert.equal(t.calls.length, 0);
  });

  test('an allowed host: bytes, headers sent', async () => {
    seen.length = 0;
    const bytes = await fetchImageBytes(ref('/ok.png'), LIMITS, policy());
    assert.deepEqual(bytes, png);
    assert.deepEqual(seen, [{ path: '/ok.png', auth: AUTH }]);
    const img = await resolveImage(ref('/octet.png'), LIMITS, policy());
    assert.deepEqual([img.format, img.width, img.height], ['png', 12, 8]);
  });

  test('a bare host entry allows any port; loopback may use http', async () => {
    const bytes = await fetchImageBytes(ref('/ok.png'), LIMITS, policy({ allowHosts: ['127.0.0.1'] }));
    assert.deepEqual(bytes, png);
  });

  test('a host not on the list is refused without a request', async () => {
    seen.length = 0;
    await rejectsUser(
      fetchImageBytes(ref('/ok.png'), LIMITS, policy({ allowHosts: ['cdn.discordapp.com'] })),
      'image_fetch_failed',
      `cat.png: iris does not fetch images from 127.0.0.1:${port}.`,
    );
    await rejectsUser(
      fetchImageBytes(ref('/ok.png'), LIMITS, policy({ allowHosts: ['127.0.0.1:1'] })),
      'image_fetch_failed',
      /does not fetch images from 127\.0\.0\.1:/,
    );
    assert.equal(seen.length, 0);
    const t = noFetch();
    for (const url of [
      `https://evil.example/a.png?${TOKEN}`,
      `https://cdn.discordapp.com.evil.example/a.png?${TOKEN}`,
      `https://user:${TOKEN}@cdn.discordapp.com/a.png`,
      `http://cdn.discordapp.com/a.png?${TOKEN}`, // platform CDNs: https only
      `file:///etc/passwd?${TOKEN}`,
      'not a url',
    ]) {
      await rejectsUser(
        fetchImageBytes({ name: 'cat.png', url }, LIMITS, policy({ fetch: t.fetch })),
        'image_fetch_failed',
        /^cat\.png: /,
      );
    }
    assert.deepEqual(t.calls, []);
  });

  test('the injected transport is used for allowed https hosts', async () => {
    const calls: { url: string; init?: RequestInit }[] = [];
    const fake = (async (url: string, init?: RequestInit) => {
      calls.push({ url, init });
      return new Response(png, { headers: { 'content-type': 'image/png' } });
    }) as typeof fetch;
    const url = `https://cdn.discordapp.com/attachments/1/2/cat.png?ex=${TOKEN}`;
    const bytes = await fetchImageBytes({ name: 'cat.png', url }, LIMITS, policy({ fetch: fake }));
    assert.deepEqual(bytes, png);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.url, url);
    assert.equal(calls[0]?.init?.redirect, 'manual');
  });

  test('announced sizes over the cap are refused before downloading', async () => {
    const t = noFetch();
    await rejectsUser(
      fetchImageBytes(ref('/ok.png', { size: 25 * MB }), DEFAULT_MEDIA_LIMITS, policy({ fetch: t.fetch })),
      'image_too_large',
      'cat.png is 25 MB; the limit is 20 MB.',
    );
    await rejectsUser(
      fetchImageBytes(ref('/ok.png', { contentType: 'text/plain' }), LIMITS, policy({ fetch: t.fetch })),
      'bad_image',
      'cat.png is not an image (expected PNG, JPEG, WebP or GIF).',
    );
    assert.deepEqual(t.calls, []);
  });

  test('Content-Length over the cap is refused from the headers', async () => {
    const t0 = performance.now();
    await rejectsUser(
      fetchImageBytes(ref('/huge-length'), LIMITS, policy()),
      'image_too_large',
      'cat.png is 10 MB; the limit is 1 MB.',
    );
    assert.ok(performance.now() - t0 < 2000, 'did not wait for the body');
  });

  test('a chunked body passing the cap is aborted', async () => {
    resetStream();
    await rejectsUser(
      fetchImageBytes(ref('/chunked'), LIMITS, policy()),
      'image_too_large',
      'cat.png is larger than the 1 MB limit.',
    );
    const written = await streamClosed;
    assert.ok(written < 32 * MB, `server wrote ${written} bytes before the client hung up`);
  });

  test('an HTML page (Slack login) is not an image, whatever it claims', async () => {
    const notImage = 'cat.png is not an image (expected PNG, JPEG, WebP or GIF).';
    await rejectsUser(fetchImageBytes(ref('/login.html'), LIMITS, policy()), 'bad_image', notImage);
    await rejectsUser(resolveImage(ref('/html-as-octet'), LIMITS, policy()), 'bad_image', notImage);
    await rejectsUser(resolveImage(ref('/empty.png'), LIMITS, policy()), 'bad_image', 'cat.png is empty.');
  });

  test('HTTP errors', async () => {
    await rejectsUser(
      fetchImageBytes(ref('/missing.png'), LIMITS, policy()),
      'image_fetch_failed',
      `cat.png: HTTP 404 (127.0.0.1:${port}).`,
    );
  });

  test('connection refused', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await rejectsUser(
      fetchImageBytes({ name: 'cat.png', url: `http://127.0.0.1:${deadPort}/a.png?${TOKEN}` }, LIMITS, {
        allowHosts: ['127.0.0.1'],
        privateHosts: ['127.0.0.1'],
        timeoutMs: 5000,
      }),
      'image_fetch_failed',
      `cat.png: could not download the image (127.0.0.1:${deadPort}).`,
    );
  });

  test('timeout', async () => {
    const t0 = performance.now();
    await rejectsUser(
      fetchImageBytes(ref('/slow.png'), LIMITS, policy({ timeoutMs: 200 })),
      'image_fetch_failed',
      `cat.png: no answer within 0.2 s (127.0.0.1:${port}).`,
    );
    assert.ok(performance.now() - t0 < 2000);
  });

  test("the caller's abort wins, with its reason", async () => {
    const controller = new AbortController();
    const p = fetchImageBytes(ref('/slow.png'), LIMITS, policy(), controller.signal);
    setTimeout(() => controller.abort(new UserError('cancelled', 'Cancelled by you.')), 50);
    await rejectsUser(p, 'cancelled', 'Cancelled by you.');
    const t = noFetch();
    await assert.rejects(
      fetchImageBytes(ref('/ok.png'), LIMITS, policy({ fetch: t.fetch }), AbortSignal.abort()),
      { name: 'AbortError' },
    );
    assert.deepEqual(t.calls, []);
  });

  test('redirects: followed on the list, refused off it, at most 3', async () => {
    seen.length = 0;
    assert.deepEqual(await fetchImageBytes(ref('/redirect-in'), LIMITS, policy()), png);
    assert.deepEqual(seen, [
      { path: '/redirect-in', auth: AUTH },
      { path: '/ok.png', auth: AUTH },
    ]);

    seen.length = 0;
    await rejectsUser(
      fetchImageBytes(ref('/redirect-out'), LIMITS, policy()),
      'image_fetch_failed',
      'cat.png: iris does not fetch images from evil.example.',
    );
    assert.deepEqual(
      seen.map((s) => s.path),
      ['/redirect-out'],
    );

    seen.length = 0;
    await rejectsUser(
      fetchImageBytes(ref('/loop'), LIMITS, policy()),
      'image_fetch_failed',
      `cat.png: too many redirects (127.0.0.1:${port}).`,
    );
    assert.equal(seen.length, 4, 'the first request and 3 redirects');
  });

  test('headers go to the original origin only', async () => {
    seen.length = 0;
    const allow = policy({ allowHosts: [`127.0.0.1:${port}`, `localhost:${port}`] });
    assert.deepEqual(await fetchImageBytes(ref('/redirect-other-origin'), LIMITS, allow), png);
    assert.deepEqual(seen, [
      { path: '/redirect-other-origin', auth: AUTH },
      { path: '/ok.png', auth: undefined },
    ]);
  });
});

describe('checkUrl', () => {
  const ok = (url: string, allowHosts: string[]) => checkUrl('x', new URL(url), { allowHosts, timeoutMs: 1 });
  test('entries: host, host:port, IPv6', () => {
    ok('https://files.slack.com/a', ['files.slack.com']);
    ok('https://files.slack.com:443/a', ['files.slack.com:443']);
    ok('https://FILES.slack.com/a', ['files.slack.com']);
    ok('http://proxy.internal:8080/a', ['proxy.internal:8080']);
    ok('http://[::1]:9000/a', ['::1']);
    ok('https://[2001:db8::1]:9000/a', ['[2001:db8::1]:9000']);
    assert.throws(() => ok('https://files.slack.com:8443/a', ['files.slack.com:443']), UserError);
    assert.throws(() => ok('http://proxy.internal/a', ['proxy.internal']), /only fetches images over https/);
    assert.throws(() => ok('https://[2001:db8::1]:9001/a', ['[2001:db8::1]:9000']), UserError);
    assert.throws(() => ok('https://slack.com/a', ['files.slack.com']), UserError);
  });
});
