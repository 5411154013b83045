import type { WebClient } from '@slack/web-api';
import Bottleneck from 'bottleneck';
import type { Progress, Reply, Responder } from '../../contracts/request.js';
import type { Logger } from '../../core/log.js';
import { truncate } from '../../core/text.js';
import { progressText, replyBlocks, SLACK_ALT_TEXT_MAX, toMrkdwn } from './format.js';

/** Where a reply goes: a channel, optionally a thread in it, and the user it answers. */
export interface SlackTarget {
  channel: string;
  threadTs?: string;
  user: string;
}

export interface SlackResponderOptions {
  client: WebClient;
  target: SlackTarget;
  log: Logger;
  /** Least time between two progress edits of the same message (Slack allows ~1 chat.update per second). */
  progressIntervalMs: number;
  /** First line of the progress message, e.g. "<@U1> `/imagine a red square`". */
  header?: string;
  /** A line put before the final text (e.g. which image a command used). */
  note?: string;
}

/**
 * Answers one request in Slack. Progress is one message, posted on the first update and then edited with
 * chat.update, at most once per interval: a burst of updates collapses into the latest (bottleneck LEAK,
 * one waiting job). The final reply replaces it (text, buttons) or, with images, goes up with
 * files.uploadV2 — alt text on every image — and the progress message is removed.
 */
export class SlackResponder implements Responder {
  readonly #o: SlackResponderOptions;
  readonly #limiter: Bottleneck;
  #progressTs?: string;
  #ephemeral = false;
  #done = false;
  /** The progress post or edit on its way to Slack, if any: the final reply waits for it. */
  #edit?: Promise<void>;

  constructor(options: SlackResponderOptions) {
    this.#o = options;
    this.#limiter = new Bottleneck({
      maxConcurrent: 1,
      minTime: options.progressIntervalMs,
      highWater: 1,
      strategy: Bottleneck.strategy.LEAK,
    });
  }

  /** Slack was already acknowledged by the listener (within its 3 s); nothing to send here. */
  async defer(options?: { ephemeral?: boolean }): Promise<void> {
    this.#ephemeral = options?.ephemeral ?? false;
  }

  async progress(p: Progress): Promise<void> {
    // An ephemeral answer (e.g. /help) should not leave a public trace in the channel.
    if (this.#done || this.#ephemeral) return;
    const text = [this.#o.header, progressText(p)].filter(Boolean).join('\n');
    await this.#limiter
      .schedule(() => {
        if (this.#done) return Promise.resolve();
        this.#edit = this.#showProgress(text);
        return this.#edit;
      })
      .catch((err: unknown) => {
        // A dropped (superseded) update is normal; a failed one must not fail the request.
        if (!(err instanceof Bottleneck.BottleneckError))
          this.#o.log.warn({ err }, 'slack: progress update failed');
      });
  }

  async #showProgress(text: string): Promise<void> {
    const { client, target } = this.#o;
    if (this.#progressTs) {
      await client.chat.update({ channel: target.channel, ts: this.#progressTs, text });
      return;
    }
    const posted = await client.chat.postMessage({
      channel: target.channel,
      thread_ts: target.threadTs,
      text,
    });
    this.#progressTs = posted.ts;
  }

  async send(reply: Reply): Promise<void> {
    this.#done = true;
    // No stale progress may overwrite the answer: edits still waiting in the limiter now do nothing, and
    // the one on its way is awaited. (Not limiter.stop(): bottleneck's stop() never resolves when its
    // last job is dropped by the LEAK strategy rather than run, which the load test hit.)
    await this.#edit?.catch(() => {});
    const { client, target } = this.#o;
    const body = toMrkdwn(reply.text ?? '');
    const text = [this.#o.note, body].filter(Boolean).join('\n');
    const buttons = reply.buttons ?? [];
    const blocks = buttons.length ? replyBlocks(text, buttons) : undefined;

    if (reply.ephemeral) {
      await this.#removeProgress();
      await client.chat.postEphemeral({
        channel: target.channel,
        user: target.user,
        thread_ts: target.threadTs,
        text: text || 'Done.',
        ...(blocks ? { blocks } : {}),
      });
      return;
    }
    const images = reply.images ?? [];
    if (images.length) {
      await this.#removeProgress();
      await client.filesUploadV2({
        channel_id: target.channel,
        ...(target.threadTs ? { thread_ts: target.threadTs } : {}),
        // Slack ignores blocks when initial_comment is set: buttons need the blocks form.
        ...(blocks ? { blocks } : { initial_comment: text }),
        file_uploads: images.map((image) => ({
          file: image.png,
          filename: image.name,
          title: image.name,
          alt_text: truncate(image.altText, SLACK_ALT_TEXT_MAX),
        })),
      } as Parameters<WebClient['filesUploadV2']>[0]);
      return;
    }
    const finalText = text || 'Done.';
    if (this.#progressTs) {
      await client.chat.update({
        channel: target.channel,
        ts: this.#progressTs,
        text: finalText,
        blocks: blocks ?? [],
      });
      return;
    }
    await client.chat.postMessage({
      channel: target.channel,
      thread_ts: target.threadTs,
      text: finalText,
      ...(blocks ? { blocks } : {}),
    });
  }

  async #removeProgress(): Promise<void> {
    if (!this.#progressTs) return;
    const ts = this.#progressTs;
    this.#progressTs = undefined;
    await this.#o.client.chat.delete({ channel: this.#o.target.channel, ts }).catch((err: unknown) => {
      this.#o.log.warn({ err }, 'slack: could not remove the progress message');
    });
  }
}
