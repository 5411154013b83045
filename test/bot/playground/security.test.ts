/**
 * The playground acts as iris's admin, so only its own page may drive it: other Host names (DNS
 * rebinding), other origins, other sites, requests without the page's token and form encodings a plain
 * HTML form can send are refused before anything reaches the dispatch funnel.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { pageToken } from './harness.js';
import { multipart, raw, startBare } from './http.js';

const ACCESS = 'iris-playground-access-Zq8w';

test("only the playground's own Host names are answered: a rebinding name gets neither the page nor the history", async () => {
  const pg = await startBare({ 'platforms.playground.publicNames': ['iris.lan', 'proxy.example:8443'] });
  try {
    const port = new URL(pg.url).port;
    for (const host of [
      `attacker.example:${port}`,
      'attacker.example',
      `iris.lan:1`,
      `127.0.0.2:${port}`,
      '',
    ]) {
      for (const path of ['/', '/api/messages', '/api/events', '/app.js']) {
        const res = await raw(pg.url, { path, headers: { host } });
        assert.equal(res.status, 403, `${host} ${path}`);
        assert.match(res.text, /answers only at its own address/);
      }
    }
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `[::1]:${port}`,
      'iris.lan',
      `iris.lan:${port}`,
      'proxy.example:8443',
    ]) {
      const res = await raw(pg.url, { path: '/api/messages', headers: { host } });
      assert.equal(res.status, 200, host);
      assert.equal(res.text, '[]');
    }
  } finally {
    await pg.stop();
  }
});

test('writes from another origin, `Origin: null`, another site, without the page token or as url-encoded forms are refused', async () => {
  const pg = await startBare();
  try {
    const token = await pageToken(pg.url);
    assert.ok(token.length >= 32);
    const form = await multipart({ text: '/alttext mode:off scope:channel' });
    const own = { host: pg.host, origin: pg.url.slice(0, -1), 'content-type': form.type };
    const post = (headers: Record<string, string>, body: Buffer | string = form.body) =>
      raw(pg.url, { method: 'POST', path: '/api/messages', headers, body });

    const refusals: [string, Record<string, string>, RegExp][] = [
      ['another origin', { ...own, origin: 'http://attacker.example', 'x-iris-token': token }, /own page/],
      ['Origin: null', { ...own, origin: 'null', 'x-iris-token': token }, /own page/],
      ['another site', { ...own, 'sec-fetch-site': 'cross-site', 'x-iris-token': token }, /own page/],
      ['same site, other port', { ...own, 'sec-fetch-site': 'same-site', 'x-iris-token': token }, /own page/],
      ['no token', own, /lacks the page's token/],
      ['a wrong token', { ...own, 'x-iris-token': `${token.slice(1)}x` }, /lacks the page's token/],
    ];
    for (const [what, headers, message] of refusals) {
      const res = await post(headers);
      assert.equal(res.status, 403, what);
      assert.match(JSON.parse(res.text).error, message, what);
    }
    // What a plain HTML form posts: url-encoded or text/plain. Even with the token they are not messages.
    const plainForms: [string, string][] = [
      ['application/x-www-form-urlencoded', 'text=%2Falttext+mode%3Aoff+scope%3Achannel'],
      ['text/plain', 'text=/alttext mode:off scope:channel'],
    ];
    for (const [type, body] of plainForms) {
      const res = await post({ ...own, 'content-type': type, 'x-iris-token': token }, body);
      assert.equal(res.status, 415, type);
      assert.match(JSON.parse(res.text).error, /multipart form/);
    }
    const press = await raw(pg.url, {
      method: 'POST',
      path: '/api/buttons',
      headers: { host: pg.host, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'draw:again:red' }),
    });
    assert.equal(press.status, 403, 'a button press without the token');
    const plainPress = await raw(pg.url, {
      method: 'POST',
      path: '/api/buttons',
      headers: { host: pg.host, 'content-type': 'text/plain', 'x-iris-token': token },
      body: JSON.stringify({ id: 'draw:again:red' }),
    });
    assert.equal(plainPress.status, 415, 'a button press that is not JSON');
    assert.equal(pg.handled.length, 0, 'nothing reached the dispatch funnel');
    assert.equal((await raw(pg.url, { path: '/api/messages', headers: { host: pg.host } })).text, '[]');

    // The page's own request: same origin, its token, multipart.
    const ok = await post({ ...own, 'sec-fetch-site': 'same-origin', 'x-iris-token': token });
    assert.equal(ok.status, 202, ok.text);
    const noOrigin = await post({ host: pg.host, 'content-type': form.type, 'x-iris-token': token });
    assert.equal(noOrigin.status, 202, 'a client that sends no Origin (curl) with the token');
    for (let i = 0; i < 100 && pg.handled.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      pg.handled.map((r) => [r.command, r.args]),
      [
        ['alttext', { mode: 'off', scope: 'channel' }],
        ['alttext', { mode: 'off', scope: 'channel' }],
      ],
    );
  } finally {
    await pg.stop();
  }
});

test('another site gets nothing but the page, which no site may frame', async () => {
  const pg = await startBare();
  try {
    for (const path of ['/api/messages', '/api/events', '/api/commands', '/app.js', '/api/images/abc']) {
      const res = await raw(pg.url, { path, headers: { host: pg.host, 'sec-fetch-site': 'cross-site' } });
      assert.equal(res.status, 403, path);
    }
    const page = await raw(pg.url, {
      headers: { host: pg.host, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' },
    });
    assert.equal(page.status, 200, 'a link from elsewhere opens the page');
    assert.equal(page.headers['x-frame-options'], 'DENY');
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
  } finally {
    await pg.stop();
  }
});

test('with an access token every request signs in: Basic (what the browser asks for) or Bearer', async () => {
  const pg = await startBare({ 'platforms.playground.accessToken': ACCESS });
  try {
    const basic = (password: string) => `Basic ${Buffer.from(`anyone:${password}`).toString('base64')}`;
    const anonymous = await raw(pg.url, { headers: { host: pg.host } });
    assert.equal(anonymous.status, 401);
    assert.match(String(anonymous.headers['www-authenticate']), /^Basic realm="iris playground"/);
    assert.equal(
      (await raw(pg.url, { headers: { host: pg.host, authorization: basic('nope') } })).status,
      401,
    );
    for (const authorization of [basic(ACCESS), `Bearer ${ACCESS}`]) {
      const res = await raw(pg.url, { path: '/api/messages', headers: { host: pg.host, authorization } });
      assert.equal(res.status, 200, authorization.split(' ')[0]);
    }
    // Signed in, a write still needs the page's token.
    const token = await pageToken(pg.url, { authorization: basic(ACCESS) });
    const form = await multipart({ text: 'hello' });
    const headers = { host: pg.host, 'content-type': form.type, authorization: basic(ACCESS) };
    const bare = await raw(pg.url, { method: 'POST', path: '/api/messages', headers, body: form.body });
    assert.equal(bare.status, 403);
    const sent = await raw(pg.url, {
      method: 'POST',
      path: '/api/messages',
      headers: { ...headers, 'x-iris-token': token },
      body: form.body,
    });
    assert.equal(sent.status, 202);
    assert.ok(!pg.lines.join('').includes(ACCESS), 'the access token is not logged');
  } finally {
    await pg.stop();
  }
});

test('listening beyond loopback needs allowRemote and an access token, and says so at start', async () => {
  const load = (overrides: Record<string, unknown>, env: Record<string, string> = {}) =>
    loadConfig({ env, overrides: { 'platforms.playground.host': '0.0.0.0', ...overrides } });
  assert.throws(
    () => load({}),
    (e: unknown) =>
      e instanceof ConfigError &&
      /platforms\.playground\.host: not a loopback address: .*allowRemote: true and an accessToken/.test(
        e.message,
      ),
  );
  assert.throws(
    () => load({ 'platforms.playground.allowRemote': true }, { IRIS_PLAYGROUND_TOKEN: 'short' }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /platforms\.playground\.accessToken: needs at least 16 characters/.test(e.message) &&
      !e.message.includes('short'),
  );
  assert.doesNotThrow(() => load({ 'platforms.playground.enabled': false }), 'a playground that is off');
  const bad: [string, unknown, RegExp][] = [
    ['publicNames', ['http://iris.lan/'], /publicNames\.0: a host name or host:port/],
    ['keptImageBytes', 1000, /keptImageBytes: .*1048576/],
    ['concurrentUploads', 0, /concurrentUploads: .*1/],
  ];
  for (const [key, value, message] of bad) {
    assert.throws(
      () => loadConfig({ overrides: { [`platforms.playground.${key}`]: value } }),
      (e: unknown) => e instanceof ConfigError && message.test(e.message),
      key,
    );
  }
  assert.equal(
    load({ 'platforms.playground.allowRemote': true }, { IRIS_PLAYGROUND_TOKEN: ACCESS }).platforms.playground
      .accessToken,
    ACCESS,
  );

  const pg = await startBare({
    'platforms.playground.host': '0.0.0.0',
    'platforms.playground.allowRemote': true,
    'platforms.playground.accessToken': ACCESS,
  });
  try {
    assert.match(pg.url, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'the address to open is a loopback one');
    assert.match(
      pg.adapter.describe(),
      /reachable from other machines: whoever signs in with the access token/,
    );
    assert.match(pg.lines.join(''), /reachable from other machines/);
    assert.equal((await raw(pg.url, { headers: { host: pg.host } })).status, 401);
  } finally {
    await pg.stop();
  }
});
