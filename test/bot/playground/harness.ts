import { Writable } from 'node:stream';
import { mediaSettings } from '../../../src/app.js';
import { PlaygroundAdapter } from '../../../src/bot/playground/adapter.js';
import type { ChatMessage } from '../../../src/bot/playground/channel.js';
import { loadConfig } from '../../../src/config.js';
import type { BackendProvider } from '../../../src/contracts/backend.js';
import type { AnyCommand } from '../../../src/contracts/command.js';
import { Dispatcher } from '../../../src/core/dispatch.js';
import { createLogger } from '../../../src/core/log.js';
import { Scheduler } from '../../../src/core/scheduler.js';
import { MemorySettingsStore } from '../../../src/core/settings.js';
import { fakeModels, TEST_COMMANDS } from '../discord/harness.js';

/** Reads a text/event-stream body: every `message` event, kept by id (later versions replace earlier). */
export class SseClient {
  readonly events: { event: string; data: unknown }[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #abort = new AbortController();
  ready: Promise<void>;

  constructor(url: string) {
    this.ready = this.#read(url);
  }

  async #read(url: string): Promise<void> {
    const res = await fetch(url, { signal: this.#abort.signal, headers: { accept: 'text/event-stream' } });
    if (!res.ok || !res.body) throw new Error(`SSE: HTTP ${res.status}`);
    if (!res.headers.get('content-type')?.startsWith('text/event-stream'))
      throw new Error('SSE: wrong content-type');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let first = true;
    const pump = async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += value;
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (data.length) this.events.push({ event, data: JSON.parse(data.join('\n')) });
            for (const wake of this.#waiters) wake();
            end = buffer.indexOf('\n\n');
          }
          if (first && this.events.length) first = false;
        }
      } catch {
        // aborted at close
      }
    };
    void pump();
    await this.waitForEvent((e) => e.event === 'ready');
  }

  /** Every version of every message seen, in order. */
  get messages(): ChatMessage[] {
    return this.events.filter((e) => e.event === 'message').map((e) => e.data as ChatMessage);
  }

  async waitForEvent(
    match: (e: { event: string; data: unknown }) => boolean,
    timeoutMs = 10_000,
  ): Promise<{ event: string; data: unknown }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(
          `SSE: no matching event in ${timeoutMs} ms; got ${JSON.stringify(this.events).slice(-1500)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, 200);
        this.#waiters.add(wake);
      });
    }
  }

  /** The first version of a message that matches (e.g. iris's final reply to a message id). */
  async waitFor(match: (m: ChatMessage) => boolean, timeoutMs?: number): Promise<ChatMessage> {
    const e = await this.waitForEvent(
      (e) => e.event === 'message' && match(e.data as ChatMessage),
      timeoutMs,
    );
    return e.data as ChatMessage;
  }

  close(): void {
    this.#abort.abort();
  }
}

/** The per-process token the page is served with, read from the page as a browser would ('' if none). */
export async function pageToken(url: string, headers: Record<string, string> = {}): Promise<string> {
  const page = await (await fetch(url, { headers })).text();
  return /<meta name="iris-token" content="([^"]+)">/.exec(page)?.[1] ?? '';
}

/** Posts a message as the page does: a multipart form with the page's token. */
export async function postMessage(
  url: string,
  token: string,
  message: { text: string; files?: { name: string; bytes: Buffer; type?: string }[]; replyTo?: string },
): Promise<Response> {
  const form = new FormData();
  form.set('text', message.text);
  for (const f of message.files ?? []) {
    form.append('files', new Blob([new Uint8Array(f.bytes)], { type: f.type ?? 'image/png' }), f.name);
  }
  if (message.replyTo) form.set('replyTo', message.replyTo);
  return fetch(`${url}api/messages`, { method: 'POST', body: form, headers: { 'x-iris-token': token } });
}

export interface PlaygroundHarnessOptions {
  commands?: AnyCommand[];
  registry?: BackendProvider;
  overrides?: Record<string, unknown>;
}

/** The real playground server on a free port, a dispatcher with test commands and fake models. */
export async function startPlayground(o: PlaygroundHarnessOptions = {}) {
  const config = loadConfig({
    env: { IRIS_PORT: '0' },
    overrides: { 'memory.store': 'memory', ...o.overrides },
  });
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
  const scheduler = new Scheduler(config.scheduler);
  const settings = new MemorySettingsStore();
  const dispatcher = new Dispatcher({
    commands: o.commands ?? TEST_COMMANDS,
    executor: scheduler,
    registry: o.registry ?? fakeModels,
    config,
    log,
    media: mediaSettings(config),
    settings,
  });
  const adapter = new PlaygroundAdapter({ config, log, commands: dispatcher.commands, settings });
  await adapter.start(dispatcher.handle);
  const url = adapter.url;
  const token = await pageToken(url);
  const sse = new SseClient(`${url}api/events`);
  await sse.ready;

  /** Posts a message like the page does (multipart form); returns the HTTP status and JSON body. */
  const send = async (
    text: string,
    opts: { files?: { name: string; bytes: Buffer; type?: string }[]; replyTo?: string } = {},
  ) => {
    const res = await postMessage(url, token, { text, ...opts });
    return { status: res.status, body: (await res.json()) as { id?: string; error?: string } };
  };

  /** iris's final answer to a message. */
  const answerTo = (id: string | undefined, timeoutMs?: number) =>
    sse.waitFor((m) => m.author === 'iris' && m.replyTo === id && !m.pending, timeoutMs);

  return {
    url,
    token,
    sse,
    send,
    answerTo,
    lines,
    settings,
    async press(id: string, messageId?: string) {
      const res = await fetch(`${url}api/buttons`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-iris-token': token },
        body: JSON.stringify({ id, messageId }),
      });
      return { status: res.status, body: (await res.json()) as { id?: string; error?: string } };
    },
    async stop() {
      sse.close();
      await adapter.stop();
      await scheduler.stop({ graceMs: 100 });
    },
  };
}
