import type { AdapterHooks } from '../../contracts/adapter.js';
import { conversationKey } from './runtime.js';

/**
 * Message links, built the way Slack's own permalinks look (chat.getPermalink would cost a call per
 * request): `<workspace url>archives/<channel>/p<ts without the dot>`, plus `?thread_ts=…&cid=…` for a
 * reply in a thread. Built the same way from a message event and from its message_deleted event, so a
 * deletion finds what the message's requests stored.
 */
export function permalink(
  workspaceUrl: string,
  message: { channel: string; ts: string; threadTs?: string },
): string | undefined {
  if (!workspaceUrl || !message.ts) return undefined;
  const base = workspaceUrl.endsWith('/') ? workspaceUrl : `${workspaceUrl}/`;
  const link = `${base}archives/${message.channel}/p${message.ts.replace('.', '')}`;
  const reply = message.threadTs && message.threadTs !== message.ts;
  return reply
    ? `${link}?thread_ts=${encodeURIComponent(message.threadTs as string)}&cid=${message.channel}`
    : link;
}

/** The fields of a `message` event with subtype `message_deleted` that iris reads. */
export interface MessageDeletedEvent {
  channel: string;
  deleted_ts?: string;
  previous_message?: { ts?: string; thread_ts?: string };
}

/** A deleted message → the hook, with the message's conversation (the core keys image memory by channel). */
export async function messageDeleted(
  hooks: AdapterHooks,
  workspaceUrl: string,
  event: MessageDeletedEvent,
): Promise<void> {
  const ts = event.deleted_ts ?? event.previous_message?.ts;
  if (!ts) return;
  const threadTs = event.previous_message?.thread_ts;
  const link = permalink(workspaceUrl, { channel: event.channel, ts, threadTs });
  if (!link) return;
  const inThread = threadTs && threadTs !== ts;
  const conversation = conversationKey({ channel: event.channel, ...(inThread && { threadTs }) });
  await hooks.messageDeleted({ conversation, link });
}
