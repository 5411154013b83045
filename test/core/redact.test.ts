import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../src/core/log.js';
import { redactSecrets } from '../../src/core/redact.js';
import { SECRETS } from '../fakes/secrets.js';

const KEY = SECRETS.encodableKey;

test('a configured secret is redacted however an upstream wrote it: as is, percent-encoded, form-encoded, JSON-escaped', () => {
  const encoded = encodeURIComponent(KEY);
  assert.match(encoded, /%2B.*%2F.*%3D/, 'the key has characters that encoding changes');
  const forms = [
    KEY,
    encoded,
    encoded.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()),
    new URLSearchParams({ k: KEY }).toString().slice(2),
    JSON.stringify(KEY).slice(1, -1).replaceAll('/', '\\/'),
  ];
  for (const form of forms) {
    const out = redactSecrets(`upstream said: bad key "${form}" (401)`, [KEY]);
    assert.equal(out, 'upstream said: bad key "[redacted]" (401)', form);
  }
});

test('the logger removes a URL-encoded secret from messages and fields', () => {
  const lines: string[] = [];
  const log = createLogger({
    level: 'info',
    secrets: [KEY],
    destination: new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
  const echoed = `https://api.example/v1?key=x&k2=${encodeURIComponent(KEY)}`;
  log.warn({ url: echoed, err: new Error(`refused ${encodeURIComponent(KEY)}`) }, `fetch ${echoed}`);
  const text = lines.join('');
  assert.ok(text.includes('[redacted]'), text);
  assert.ok(!text.includes(encodeURIComponent(KEY)), text);
  assert.ok(!text.includes(KEY), text);
});
