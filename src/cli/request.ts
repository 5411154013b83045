import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import type { App } from '../app.js';
import type { Command } from '../contracts/command.js';
import type { BotRequest, ImageRef, Progress, Reply, Responder } from '../contracts/request.js';
import { newRequestId } from '../core/dispatch.js';

/** A command to run: its spec (the reply's `data` then has the command's data type) or its name. */
// biome-ignore lint/suspicious/noExplicitAny: only the data type matters here, not the command's input.
type CliCommand<D> = Command<any, D> | string;

/** The CLI is one more platform: it builds BotRequests and goes through the same dispatch funnel. */
export async function runCliRequest<D = unknown>(
  app: App,
  request: {
    command: CliCommand<D>;
    args?: Record<string, unknown>;
    images?: ImageRef[];
    signal?: AbortSignal;
    /** Conversation key (memory); default 'cli:local'. */
    conversation?: string;
    /** Where the request came from (stored with indexed images). */
    messageLink?: string;
  },
  onProgress?: (p: Progress) => void,
): Promise<Reply<D>> {
  const req: BotRequest = {
    id: newRequestId(),
    platform: 'cli',
    command: typeof request.command === 'string' ? request.command : request.command.name,
    args: request.args ?? {},
    images: request.images ?? [],
    conversation: request.conversation ?? 'cli:local',
    ...(request.messageLink !== undefined && { messageLink: request.messageLink }),
    user: { id: userInfo().username, isAdmin: true },
    signal: request.signal ?? new AbortController().signal,
  };
  let reply: Reply | undefined;
  const responder: Responder = {
    async defer() {},
    async progress(p) {
      onProgress?.(p);
    },
    async send(r) {
      reply = r;
    },
  };
  await app.dispatcher.handle(req, responder);
  if (!reply) throw new Error('dispatch finished without a reply');
  // The dispatcher ran the command named by this spec, so its reply carries that command's data.
  return reply as Reply<D>;
}

/** A successful reply's data; a command that answered without it is iris's fault (exit 1). */
export function dataOf<D>(reply: Reply<D>): D {
  if (reply.data === undefined) throw new Error(`the reply carries no data: ${reply.text ?? ''}`);
  return reply.data;
}

/** A CLI exit code for a reply: 0 ok, 2 the user's input, 1 iris's fault. */
export function exitCodeOf(reply: Reply<unknown>): number {
  if (!reply.error) return 0;
  return reply.error.internal ? 1 : 2;
}

/**
 * Runs `command` on one image file. A file that cannot be read becomes a user-error reply (it never
 * reaches the funnel), so every outcome is a Reply.
 */
export async function runOnImageFile<D>(
  app: App,
  request: { command: CliCommand<D>; file: string; args?: Record<string, unknown> },
): Promise<Reply<D>> {
  let data: Buffer;
  try {
    data = await readFile(request.file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder' : (e as Error).message;
    return { text: `${request.file}: ${reason}.`, error: { code: 'bad_image', internal: false, ref: '' } };
  }
  return runCliRequest(app, {
    command: request.command,
    args: request.args,
    images: [{ name: request.file, data }],
  });
}
