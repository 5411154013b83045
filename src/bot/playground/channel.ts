import { randomBytes } from 'node:crypto';
import type { Button, Progress } from '../../contracts/request.js';
import { sniffFormat } from '../../core/media.js';

/** The playground's one channel: messages, the images they show, and who is listening (SSE). */

export interface ChatImage {
  id: string;
  url: string;
  alt: string;
  name: string;
}

export interface ChatProgress {
  kind: Progress['kind'];
  position?: number;
  step?: number;
  total?: number;
  message?: string;
  previewUrl?: string;
}

export interface ChatMessage {
  id: string;
  author: 'you' | 'iris';
  text: string;
  images: ChatImage[];
  /** Uploads that are not images a browser can show (still sent on; media says what is wrong). */
  files: string[];
  buttons: Button[];
  replyTo?: string;
  /** iris has acknowledged and is working (queued or running). */
  pending?: boolean;
  progress?: ChatProgress;
  error?: { code: string; ref: string };
  ephemeral?: boolean;
  at: number;
}

export interface StoredImage {
  bytes: Buffer;
  contentType: string;
  name: string;
}

const BROWSER_TYPES: Record<string, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
};

export type Listener = (message: ChatMessage) => void;

/** How much the channel keeps in memory: older messages and images are dropped first. */
export interface ChannelLimits {
  messages: number;
  images: number;
  /** Bytes of all kept images together. */
  imageBytes: number;
}

export class Channel {
  readonly #messages = new Map<string, ChatMessage>();
  readonly #images = new Map<string, StoredImage>();
  readonly #listeners = new Set<Listener>();
  readonly #limits: ChannelLimits;
  #imageBytes = 0;

  constructor(limits: ChannelLimits) {
    this.#limits = limits;
  }

  static newId(): string {
    return randomBytes(6).toString('hex');
  }

  history(): ChatMessage[] {
    return [...this.#messages.values()];
  }

  message(id: string): ChatMessage | undefined {
    return this.#messages.get(id);
  }

  image(id: string): StoredImage | undefined {
    return this.#images.get(id);
  }

  /**
   * Keeps the bytes for /api/images/:id, dropping the oldest images while over the limits; undefined when
   * they are not an image a browser shows, or larger than all the room there is. Callers keep only
   * images that decoded (an upload) or that iris made.
   */
  storeImage(bytes: Buffer, name: string, id = Channel.newId()): string | undefined {
    const sniffed = sniffFormat(bytes);
    const contentType = sniffed ? BROWSER_TYPES[sniffed] : undefined;
    if (!contentType || bytes.length > this.#limits.imageBytes) return undefined;
    this.#drop(id);
    this.#images.set(id, { bytes, contentType, name });
    this.#imageBytes += bytes.length;
    while (this.#images.size > this.#limits.images || this.#imageBytes > this.#limits.imageBytes) {
      this.#drop(this.#images.keys().next().value as string);
    }
    return id;
  }

  #drop(id: string): void {
    const image = this.#images.get(id);
    if (!image) return;
    this.#images.delete(id);
    this.#imageBytes -= image.bytes.length;
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Adds or replaces a message and tells every listener. */
  put(message: ChatMessage): void {
    if (!this.#messages.has(message.id)) {
      while (this.#messages.size >= this.#limits.messages) {
        this.#messages.delete(this.#messages.keys().next().value as string);
      }
    }
    this.#messages.set(message.id, message);
    for (const listener of this.#listeners) listener(message);
  }
}
