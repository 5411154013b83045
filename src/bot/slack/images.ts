import type { WebClient } from '@slack/web-api';
import type { ImageRef } from '../../contracts/request.js';

/** The fields of a Slack file object iris reads. */
export interface SlackFile {
  id?: string;
  name?: string;
  title?: string;
  mimetype?: string;
  size?: number;
  url_private?: string;
  url_private_download?: string;
  mode?: string;
  /** Who uploaded it. */
  user?: string;
}

export interface SlackMessageLike {
  ts?: string;
  thread_ts?: string;
  user?: string;
  bot_id?: string;
  text?: string;
  subtype?: string;
  files?: SlackFile[];
}

/** A file Slack says is an image (the bytes are checked again after download: type, magic bytes, size). */
export function isImageFile(file: SlackFile): boolean {
  return (
    file.mode !== 'tombstone' &&
    file.mode !== 'hidden_by_limit' &&
    (file.mimetype ?? '').startsWith('image/') &&
    Boolean(file.url_private_download ?? file.url_private)
  );
}

/**
 * A Slack file → ImageRef. Private files need the bot token: without it Slack answers 200 with an HTML
 * sign-in page, which media's content-type and magic-byte checks refuse. The header goes to the file's own
 * origin only (media never forwards it across a redirect to another host).
 */
export function imageRef(file: SlackFile, botToken: string): ImageRef {
  return {
    name: file.name ?? file.title ?? file.id ?? 'image',
    url: file.url_private_download ?? file.url_private,
    headers: { Authorization: `Bearer ${botToken}` },
    contentType: file.mimetype,
    size: file.size,
    ...(file.user ? { postedBy: file.user } : {}),
  };
}

export function messageImages(message: SlackMessageLike | undefined): SlackFile[] {
  return (message?.files ?? []).filter(isImageFile);
}

export interface FoundImage {
  file: SlackFile;
  message: SlackMessageLike;
}

/** How far back a slash command looks for an image. */
const HISTORY_LIMIT = 50;

/**
 * The latest `count` images in a thread (when threadTs is given) or in a channel's recent history, newest
 * first. Slash commands carry no files, so this is how `/tags` finds the image it is about.
 */
export async function latestImages(
  client: WebClient,
  where: { channel: string; threadTs?: string; count: number },
): Promise<FoundImage[]> {
  const messages = where.threadTs
    ? (
        (await client.conversations.replies({ channel: where.channel, ts: where.threadTs, limit: 200 }))
          .messages ?? []
      )
        .slice()
        .reverse()
    : ((await client.conversations.history({ channel: where.channel, limit: HISTORY_LIMIT })).messages ?? []);
  const found: FoundImage[] = [];
  for (const message of messages as SlackMessageLike[]) {
    for (const file of messageImages(message)) {
      if (found.length < where.count) found.push({ file, message });
    }
  }
  return found;
}

/** "Using `cat.png` (posted by <@U1>)." — slash commands say which image they used. */
export function describeUsed(found: readonly FoundImage[]): string {
  const parts = found.map(
    ({ file, message }) =>
      `\`${(file.name ?? 'image').replace(/[`<>&]/g, '')}\`${message.user ? ` posted by <@${message.user}>` : ''}`,
  );
  return `_Using the latest image${found.length > 1 ? 's' : ''}: ${parts.join(', ')}._`;
}
