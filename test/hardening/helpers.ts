import './tmp-env.js';
import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { type App, createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { BotRequest, ImageRef, Reply } from '../../src/contracts/request.js';
import { createLogger } from '../../src/core/log.js';
import { synthAll } from '../../src/demo/colourworld/index.js';
import { RecordingResponder } from '../fakes/responder.js';
import { PRIVATE_TMP } from './tmp-env.js';

/** C0/C1 controls (but tab and newline), bidi controls and invisible joiners: never in a reply. */
export const UNSAFE = /(?![\t\n])[\p{Cc}\u061C\u200B\u200E\u200F\u202A-\u202E\u2060\u2066-\u2069\uFEFF]/u;

/** Uncaught exceptions and unhandled rejections seen by this process: "the process lives" means none. */
export const crashes: unknown[] = [];
process.on('uncaughtException', (err) => crashes.push(err));
process.on('unhandledRejection', (err) => crashes.push(err));

export function assertAlive(): void {
  assert.deepEqual(crashes, [], 'no uncaught exception or unhandled rejection');
}

/** The temp folder's entries (this process's private TMPDIR). */
export async function tempEntries(): Promise<string[]> {
  return (await readdir(PRIVATE_TMP)).sort();
}

/** A colour-world iris (real registry, scheduler and commands) in a fresh models folder. */
export async function colourWorldApp(overrides: Record<string, unknown> = {}) {
  const root = join(tmpdir(), `models-${process.pid}-${Math.random().toString(36).slice(2)}`);
  await synthAll(root);
  const lines: string[] = [];
  const log = createLogger({
    level: 'info',
    secrets: [],
    destination: new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  });
  const config = loadConfig({
    env: {},
    overrides: {
      'models.dir': root,
      'memory.store': 'memory',
      'tasks.imagine.size': '128x128',
      'tasks.imagine.previewEvery': 0,
      ...overrides,
    },
  });
  const app: App = createApp(config, { log });
  return {
    app,
    root,
    lines,
    async stop() {
      await app.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

let n = 0;
export function request(command: string, fields: Partial<BotRequest> = {}): BotRequest {
  return {
    id: `hard${++n}`,
    platform: 'test',
    command,
    args: {},
    images: [],
    conversation: 'test:hardening',
    user: { id: 'mallory' },
    signal: new AbortController().signal,
    ...fields,
  };
}

export async function send(app: App, req: BotRequest): Promise<Reply> {
  const res = new RecordingResponder();
  await app.dispatcher.handle(req, res);
  return res.reply;
}

export const solid = (colour: string, size = 32) =>
  sharp({ create: { width: size, height: size, channels: 3, background: colour } });

export const red = () => solid('#ff0000').png().toBuffer();

/** The request every case is followed by: a red square is tagged red by the colour-world CLIP. */
export async function assertNextServed(app: App): Promise<void> {
  const reply = await send(
    app,
    request('tags', {
      args: { labels: 'red, green, blue' },
      images: [{ name: 'next.png', data: await red() }],
    }),
  );
  assert.equal(reply.error, undefined, reply.text);
  assert.match(reply.text ?? '', /^Tags: red \d+%/);
}

export interface Expected {
  code: string;
  text: string | RegExp;
}

/**
 * One bad-input case: the reply is the expected user error (not internal, no stack), no temp file is
 * left behind, the process lives and the next request is served.
 */
export async function refusedCase(app: App, req: BotRequest, expected: Expected): Promise<Reply> {
  const before = await tempEntries();
  const reply = await send(app, req);
  assert.equal(reply.error?.code, expected.code, reply.text);
  assert.equal(reply.error?.internal, false);
  if (typeof expected.text === 'string') assert.equal(reply.text, expected.text);
  else assert.match(reply.text ?? '', expected.text);
  assert.doesNotMatch(reply.text ?? '', /\n\s+at |node_modules|\.ts:\d+/, 'no stack in the reply');
  assert.doesNotMatch(reply.text ?? '', UNSAFE);
  assert.deepEqual(await tempEntries(), before, 'no temp file left behind');
  assertAlive();
  await assertNextServed(app);
  return reply;
}

/** A loopback file server that counts requests: "refused before download" means zero hits. */
export async function countingServer(
  body: Buffer,
): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function refs(count: number, make: (i: number) => ImageRef): ImageRef[] {
  return Array.from({ length: count }, (_, i) => make(i));
}
