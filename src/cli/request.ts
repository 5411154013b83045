import { userInfo } from 'node:os';
import { newRequestId } from '../core/dispatch.js';
import type { BotRequest, ImageRef, Progress, Reply, Responder } from '../core/types.js';
import type { App } from '../main.js';

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
