import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import type { App } from '../app.js';
import type { BotRequest, ImageRef, Progress, Reply, Responder } from '../contracts/request.js';
import { newRequestId } from '../core/dispatch.js';

/** The CLI is one more platform: it builds BotRequests and goes through the same dispatch funnel. */
export async function runCliRequest(
  app: App,
  request: {
    command: string;
    args?: Record<string, unknown>;
    images?: ImageRef[];
    signal?: AbortSignal;
    /** Conversation key (memory); default 'cli:local'. */
    conversation?: string;
    /** Where the request came from (stored with indexed images). */
    messageLink?: string;
  },
  onProgress?: (p: Progress) => void,
): Promise<Reply> {
  const req: BotRequest = {
    id: newRequestId(),
    platform: 'cli',
    command: request.command,
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
  return reply;
}

/** A CLI exit code for a reply: 0 ok, 2 the user's input, 1 iris's fault. */
export function exitCodeOf(reply: Reply): number {
  if (!reply.error) return 0;
  return reply.error.internal ? 1 : 2;
}

/**
 * Runs `command` on one image file. A file that cannot be read becomes a user-error reply (it never
 * reaches the funnel), so every outcome is a Reply.
 */
export async function runOnImageFile(
  app: App,
  request: { command: string; file: string; args?: Record<string, unknown> },
): Promise<Reply> {
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
