import {
  type APIActionRowComponent,
  type APIButtonComponent,
  ButtonStyle,
  ComponentType,
  type MessageMentionOptions,
} from 'discord.js';
import sharp from 'sharp';
import type { Button, Reply, ReplyImage } from '../../contracts/request.js';
import { truncate } from '../../core/text.js';

/** Discord's caps: message text, attachment description (alt text), buttons per row, rows. */
export const CONTENT_MAX = 2000;
export const ALT_TEXT_MAX = 1024;
const BUTTONS_PER_ROW = 5;
const ROWS_MAX = 5;
const CUSTOM_ID_MAX = 100;

export interface FileOut {
  attachment: Buffer;
  name: string;
  description?: string;
}

/**
 * Text iris posts comes from users and models (prompts, labels, answers): Discord must not turn
 * `@everyone`, `<@&role>` or `<@user>` in it into pings. The client has this as its default, and every
 * payload carries it (or a narrower list naming the one user a reply is meant to ping).
 */
export const NO_MENTIONS: MessageMentionOptions = { parse: [] };

/** Mentions for a message that pings only `userId` (a late answer to its requester). */
export function onlyMention(userId: string): MessageMentionOptions {
  return { parse: [], users: [userId] };
}

export interface MessageOut {
  content: string;
  files: FileOut[];
  components: APIActionRowComponent<APIButtonComponent>[];
  allowedMentions: MessageMentionOptions;
}

const STYLES: Record<
  NonNullable<Button['style']>,
  ButtonStyle.Primary | ButtonStyle.Secondary | ButtonStyle.Danger
> = {
  primary: ButtonStyle.Primary,
  secondary: ButtonStyle.Secondary,
  danger: ButtonStyle.Danger,
};

export function buttonRows(buttons: readonly Button[]): APIActionRowComponent<APIButtonComponent>[] {
  const usable = buttons.filter((b) => b.id.length <= CUSTOM_ID_MAX).slice(0, BUTTONS_PER_ROW * ROWS_MAX);
  const rows: APIActionRowComponent<APIButtonComponent>[] = [];
  for (let i = 0; i < usable.length; i += BUTTONS_PER_ROW) {
    rows.push({
      type: ComponentType.ActionRow,
      components: usable.slice(i, i + BUTTONS_PER_ROW).map((b) => ({
        type: ComponentType.Button,
        custom_id: b.id,
        label: truncate(b.label, 80),
        style: STYLES[b.style ?? 'secondary'],
      })),
    });
  }
  return rows;
}

const rename = (name: string, ext: string) => `${name.replace(/\.[a-z0-9]+$/i, '')}.${ext}`;

/**
 * An image that fits `limit` bytes: the PNG as is, else WebP, else JPEG, else smaller JPEGs.
 * Returns undefined when even a small version does not fit (the caller says so in text).
 */
export async function fitImage(
  image: ReplyImage,
  limit: number,
): Promise<{ data: Buffer; name: string } | undefined> {
  if (image.png.length <= limit) return { data: image.png, name: image.name };
  const webp = await sharp(image.png).webp({ quality: 85 }).toBuffer();
  if (webp.length <= limit) return { data: webp, name: rename(image.name, 'webp') };
  const meta = await sharp(image.png).metadata();
  let width = meta.width ?? 1024;
  for (let attempt = 0; attempt < 6; attempt++) {
    const jpeg = await sharp(image.png)
      .resize({ width, withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 80, mozjpeg: true })
      .toBuffer();
    if (jpeg.length <= limit) return { data: jpeg, name: rename(image.name, 'jpg') };
    width = Math.max(16, Math.floor(width * 0.7));
  }
  return undefined;
}

/** A Reply as Discord message fields: text clipped, images fitted to the upload cap with alt text set. */
export async function toMessage(reply: Reply, uploadLimit: number): Promise<MessageOut> {
  const files: FileOut[] = [];
  const notes: string[] = [];
  for (const image of reply.images ?? []) {
    const fitted = await fitImage(image, uploadLimit);
    if (!fitted) {
      notes.push(`(${image.name} is too large to upload here.)`);
      continue;
    }
    const description = image.altText ? truncate(image.altText, ALT_TEXT_MAX) : undefined;
    // Discord hides an attachment whose name starts with SPOILER_ until it is clicked.
    const name = image.spoiler ? `SPOILER_${fitted.name}` : fitted.name;
    files.push({ attachment: fitted.data, name, ...(description ? { description } : {}) });
  }
  const content = truncate([reply.text ?? '', ...notes].filter(Boolean).join('\n'), CONTENT_MAX);
  return { content, files, components: buttonRows(reply.buttons ?? []), allowedMentions: NO_MENTIONS };
}
