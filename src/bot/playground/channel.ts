import { randomBytes } from 'node:crypto';
import { sniffFormat } from '../../core/media.js';
import type { Button, Progress } from '../../core/types.js';

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

/** How much the channel keeps in memory: older messages and their images are dropped. */
export interface ChannelLimits {
  messages: number;
  images: number;
}

export class Channel {
  readonly #messages = new Map<string, ChatMessage>();
  readonly #images = new Map<string, StoredImage>();
  readonly #listeners = new Set<Listener>();
  readonly #limits: ChannelLimits;

  constructor(limits: ChannelLimits = { messages: 200, images: 200 }) {
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

  /** Keeps the bytes for /api/images/:id; undefined when they are not an image a browser shows. */
  storeImage(bytes: Buffer, name: string, id = Channel.newId()): string | undefined {
    const sniffed = sniffFormat(bytes);
    const contentType = sniffed ? BROWSER_TYPES[sniffed] : undefined;
    if (!contentType) return undefined;
    this.#images.delete(id);
    this.#images.set(id, { bytes, contentType, name });
    while (this.#images.size > this.#limits.images) {
      this.#images.delete(this.#images.keys().next().value as string);
    }
    return id;
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
