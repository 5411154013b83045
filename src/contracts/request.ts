/**
 * The platform-neutral contract between adapters (Discord, Slack, playground, CLI), the dispatch
 * funnel, commands and backends. Adapters translate to and from these types and nothing else.
 */

/** An image a request refers to: bytes already in hand (CLI, playground) or a URL to fetch (platforms). */
export interface ImageRef {
  /** File name as the user sees it; used in error messages. */
  name: string;
  data?: Buffer;
  url?: string;
  /** Extra headers for the fetch (e.g. Slack's bot token); never logged. */
  headers?: Record<string, string>;
  contentType?: string;
  /** Size the platform announced, checked before downloading. */
  size?: number;
  /** Platform user id of who posted the image, where the adapter knows it (image memory's "posted by"). */
  postedBy?: string;
}

/** `platform:channel[:thread]` — the unit of conversation memory. */
export type ConversationKey = string;

export interface UserRef {
  id: string;
  name?: string;
  isAdmin?: boolean;
  /** The person running this iris (the playground's user): quotas do not apply, the concurrency cap does. */
  isOperator?: boolean;
}

export interface BotRequest {
  /** Unique per request; shown to the user as the error ref and logged with every line. */
  id: string;
  platform: string;
  command: string;
  args: Record<string, unknown>;
  images: ImageRef[];
  conversation: ConversationKey;
  /** Link to the message that carried the request (shown by /similar); absent where there is none. */
  messageLink?: string;
  user: UserRef;
  signal: AbortSignal;
}

export type Progress =
  | { kind: 'queued'; position: number /** Estimated wait (scale-out queue only). */; etaSeconds?: number }
  | { kind: 'running'; step?: number; total?: number; message?: string; preview?: Buffer };

export interface Button {
  /** Encodes everything needed to act on a press, even after a restart. */
  id: string;
  label: string;
  style?: 'primary' | 'secondary' | 'danger';
}

export interface ReplyImage {
  png: Buffer;
  altText: string;
  name: string;
  /** Hidden until clicked where the platform has spoilers (Discord); set only where it has them. */
  spoiler?: boolean;
}

export interface ReplyError {
  /** A UserError code, or 'internal'. */
  code: string;
  /** True when the failure was iris's fault (exit code 1 on the CLI). */
  internal: boolean;
  ref: string;
}

/** Alt text for one of the request's images, made under the alt-text policy (src/core/alttext.ts). */
export interface ImageAltText {
  /** The request image's name. */
  name: string;
  altText: string;
}

/** `D`: the command's machine-readable result (see `Command`'s second type parameter). */
export interface Reply<D = unknown> {
  text?: string;
  images?: ReplyImage[];
  buttons?: Button[];
  ephemeral?: boolean;
  /**
   * Alt text per request image this reply describes (/caption), in request order: what adapters attach
   * or post as automatic alt text. Alt text of the reply's own images is in `images[].altText`.
   */
  describes?: ImageAltText[];
  /** Machine-readable result (the CLI's output, --json). */
  data?: D;
  /** Set when the reply renders a failure. */
  error?: ReplyError;
}

export interface Responder {
  /** Acknowledge now, answer later (Discord's 3 s deadline, Slack's ack). Idempotent. */
  defer(options?: { ephemeral?: boolean }): Promise<void>;
  progress(p: Progress): Promise<void>;
  send(r: Reply): Promise<void>;
}

/**
 * An image that passed media validation (format allowed, bytes and pixels within limits).
 * `bytes` are still encoded; backends resize them for their model with media's helpers.
 * width/height are as displayed (EXIF orientation applied).
 */
export interface LoadedImage {
  name: string;
  bytes: Buffer;
  format: 'png' | 'jpeg' | 'webp' | 'gif';
  width: number;
  height: number;
}
