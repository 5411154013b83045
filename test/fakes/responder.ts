import type { Progress, Reply, Responder } from '../../src/contracts/request.js';

/** Records everything a command says back, in order. */
export class RecordingResponder implements Responder {
  readonly events: (
    | { type: 'defer'; ephemeral?: boolean }
    | { type: 'progress'; p: Progress }
    | { type: 'send'; reply: Reply }
  )[] = [];
  #onProgress?: (p: Progress) => void;

  onProgress(fn: (p: Progress) => void): this {
    this.#onProgress = fn;
    return this;
  }

  async defer(options?: { ephemeral?: boolean }): Promise<void> {
    this.events.push({ type: 'defer', ephemeral: options?.ephemeral });
  }

  async progress(p: Progress): Promise<void> {
    this.events.push({ type: 'progress', p });
    this.#onProgress?.(p);
  }

  async send(reply: Reply): Promise<void> {
    this.events.push({ type: 'send', reply });
  }

  get replies(): Reply[] {
    return this.events.flatMap((e) => (e.type === 'send' ? [e.reply] : []));
  }

  /** The one final reply; fails loudly if there was none or several. */
  get reply(): Reply {
    const r = this.replies;
    if (r.length !== 1) throw new Error(`expected exactly one reply, got ${r.length}`);
    return r[0] as Reply;
  }
}
