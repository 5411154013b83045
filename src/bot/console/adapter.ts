import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import type { PlatformAdapter } from '../../contracts/adapter.js';
import type { BotRequest, ImageRef, Responder } from '../../contracts/request.js';
import { newRequestId } from '../../core/dispatch.js';

export interface ConsoleLine {
  command: string;
  args: Record<string, string>;
  files: string[];
}

/** `/tags labels:red,green ./a.png` → command, `name:value` options, and the remaining words as image files. */
export function parseConsoleLine(line: string): ConsoleLine | undefined {
  const words = line.trim().match(/(?:[^\s"]+|"[^"]*")+/g);
  if (!words?.[0]?.startsWith('/')) return undefined;
  const args: Record<string, string> = {};
  const files: string[] = [];
  for (const word of words.slice(1)) {
    const m = /^([a-z][a-z0-9_]*):(.*)$/i.exec(word);
    if (m?.[1] && m[2] !== undefined) args[m[1]] = m[2].replace(/^"|"$/g, '');
    else files.push(word.replace(/^"|"$/g, ''));
  }
  return { command: words[0].slice(1), args, files };
}

/**
 * A terminal "channel": each line typed is a slash command, replies are printed. It goes through the same
 * dispatch funnel as Discord and Slack, so `npm start` does something real before any token is configured.
 */
export class ConsoleAdapter implements PlatformAdapter {
  readonly name = 'console';
  readonly #input: NodeJS.ReadableStream;
  readonly #print: (line: string) => void;
  #closed?: Promise<void>;
  #rl?: ReturnType<typeof createInterface>;

  constructor(io: { input: NodeJS.ReadableStream; print: (line: string) => void }) {
    this.#input = io.input;
    this.#print = io.print;
  }

  /** Resolves when input ends. */
  get closed(): Promise<void> {
    return this.#closed ?? Promise.resolve();
  }

  async start(handle: (req: BotRequest, res: Responder) => Promise<void>): Promise<void> {
    const rl = createInterface({ input: this.#input, terminal: false });
    this.#rl = rl;
    let queue = Promise.resolve();
    this.#closed = new Promise((resolve) => rl.on('close', () => queue.then(resolve)));
    rl.on('line', (line) => {
      queue = queue.then(() => this.#handleLine(line, handle));
    });
  }

  async stop(): Promise<void> {
    this.#rl?.close();
    await this.closed;
  }

  async #handleLine(line: string, handle: (req: BotRequest, res: Responder) => Promise<void>): Promise<void> {
    if (line.trim() === '') return;
    const parsed = parseConsoleLine(line);
    if (!parsed) {
      this.#print('Type a command such as /help, or /tags labels:cat,dog ./photo.jpg');
      return;
    }
    const images: ImageRef[] = [];
    for (const file of parsed.files) {
      try {
        images.push({ name: file, data: await readFile(file) });
      } catch {
        this.#print(`${file}: no such file.`);
        return;
      }
    }
    const req: BotRequest = {
      id: newRequestId(),
      platform: 'console',
      command: parsed.command,
      args: parsed.args,
      images,
      conversation: 'console:local',
      user: { id: userInfo().username, isAdmin: true },
      signal: new AbortController().signal,
    };
    await handle(req, {
      defer: async () => {},
      progress: async (p) => {
        if (p.kind === 'queued') this.#print(`… queued, ${p.position} ahead`);
        else if (p.total) this.#print(`… step ${p.step}/${p.total}`);
      },
      send: async (reply) => {
        if (reply.text) this.#print(reply.text);
        for (const image of reply.images ?? []) this.#print(`[image ${image.name}: ${image.altText}]`);
      },
    });
  }
}
