/**
 * Raw HTTP for the playground's guard tests: node:http lets a test set any Host, Origin or Sec-Fetch-Site
 * header (as a hostile page's browser or a DNS-rebinding name would), and a bare adapter records what
 * reaches the dispatch funnel.
 */
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { PlaygroundAdapter } from '../../../src/bot/playground/adapter.js';
import { loadConfig } from '../../../src/config.js';
import type { BotRequest } from '../../../src/contracts/request.js';
import { createLogger } from '../../../src/core/log.js';
import { MemorySettingsStore } from '../../../src/core/settings.js';
import { TEST_COMMANDS } from '../discord/harness.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One request to the playground's port with exactly these headers (Host too: none is added). */
export function raw(
  url: string,
  o: { method?: string; path?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<RawResponse> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: o.method ?? 'GET',
        path: o.path ?? '/',
        headers: o.headers,
        setHost: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

/** A multipart body as a browser sends it: its bytes and content-type. */
export async function multipart(fields: Record<string, string>): Promise<{ body: Buffer; type: string }> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  const encoded = new Request('http://x/', { method: 'POST', body: form });
  return {
    body: Buffer.from(await encoded.arrayBuffer()),
    type: encoded.headers.get('content-type') as string,
  };
}

/** The real adapter with a funnel that records each request and answers "ok". */
export async function startBare(overrides: Record<string, unknown> = {}) {
  const config = loadConfig({
    env: { IRIS_PORT: '0' },
    overrides: { 'memory.store': 'memory', ...overrides },
  });
  const lines: string[] = [];
  const log = createLogger({
    level: 'info',
    destination: new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
  const handled: BotRequest[] = [];
  const adapter = new PlaygroundAdapter({
    config,
    log,
    commands: TEST_COMMANDS,
    settings: new MemorySettingsStore(),
  });
  await adapter.start(async (req, res) => {
    handled.push(req);
    await res.send({ text: 'ok' });
  });
  const { host } = new URL(adapter.url);
  return { adapter, url: adapter.url, host, handled, lines, stop: () => adapter.stop() };
}
