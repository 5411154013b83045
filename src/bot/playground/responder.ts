import type { Progress, Reply, Responder } from '../../contracts/request.js';
import { Channel, type ChatMessage } from './channel.js';

/**
 * One iris message in the playground channel: defer shows it as pending, progress updates it live
 * (queue position, steps, previews), send fills in the reply. `transform` rewrites the final reply
 * (automatic alt text shows only the alt text).
 */
export class PlaygroundResponder implements Responder {
  readonly #channel: Channel;
  readonly #message: ChatMessage;
  readonly #transform?: (reply: Reply) => Reply;
  #shown = false;

  constructor(channel: Channel, options: { replyTo?: string; transform?: (reply: Reply) => Reply }) {
    this.#channel = channel;
    this.#transform = options.transform;
    this.#message = {
      id: Channel.newId(),
      author: 'iris',
      text: '',
      images: [],
      files: [],
      buttons: [],
      replyTo: options.replyTo,
      pending: true,
      at: Date.now(),
    };
  }

  get id(): string {
    return this.#message.id;
  }

  async defer(options?: { ephemeral?: boolean }): Promise<void> {
    if (this.#shown) return;
    this.#shown = true;
    if (options?.ephemeral) this.#message.ephemeral = true;
    this.#channel.put({ ...this.#message });
  }

  async progress(p: Progress): Promise<void> {
    this.#shown = true;
    const m = this.#message;
    if (p.kind === 'queued') m.progress = { kind: 'queued', position: p.position };
    else {
      m.progress = { kind: 'running', step: p.step, total: p.total, message: p.message };
      if (p.preview) {
        const previewId = this.#channel.storeImage(p.preview, 'preview.png', `${m.id}-preview`);
        if (previewId) m.progress.previewUrl = `/api/images/${previewId}?step=${p.step ?? 0}`;
      }
    }
    this.#channel.put({ ...m });
  }

  async send(r: Reply): Promise<void> {
    const reply = this.#transform ? this.#transform(r) : r;
    const m = this.#message;
    this.#shown = true;
    m.pending = false;
    m.progress = undefined;
    m.text = reply.text ?? '';
    m.ephemeral = reply.ephemeral ?? m.ephemeral;
    m.buttons = reply.buttons ?? [];
    m.error = reply.error ? { code: reply.error.code, ref: reply.error.ref } : undefined;
    m.images = [];
    for (const [i, image] of (reply.images ?? []).entries()) {
      const id = this.#channel.storeImage(image.png, image.name, `${m.id}-${i}`);
      if (id) m.images.push({ id, url: `/api/images/${id}`, alt: image.altText, name: image.name });
    }
    this.#channel.put({ ...m });
  }
}
