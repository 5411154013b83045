import type { WebClient } from '@slack/web-api';
import type { Config } from '../../config.js';
import type { AdapterHooks } from '../../contracts/adapter.js';
import type { AnyCommand } from '../../contracts/command.js';
import type { ImageRef } from '../../contracts/request.js';
import type { Logger } from '../../core/log.js';
import type { SettingsStore } from '../../core/settings.js';
import type { SlackTarget } from './responder.js';

export type SlackConfig = Config['platforms']['slack'];

/** What a Slack input turns into before it enters the dispatch funnel. */
export interface SlackJob {
  command: string;
  args?: Record<string, unknown>;
  images?: ImageRef[];
  /** Progress message's first line (slash commands echo what was asked). */
  header?: string;
  /** Line before the answer, e.g. which image was used. */
  note?: string;
  /** Permalink of the message the images came from (see links.ts). */
  messageLink?: string;
}

/** The pieces every Slack handler shares (one per running adapter: no module state). */
export interface SlackRuntime {
  client: WebClient;
  botToken: string;
  botUserId: string;
  /** auth.test's `url` (https://team.slack.com/): the base of message links; '' when unknown. */
  workspaceUrl: string;
  /** The core's hooks (message deletions), when iris start passed them. */
  hooks?: AdapterHooks;
  commands: readonly AnyCommand[];
  slack: SlackConfig;
  log: Logger;
  settings?: SettingsStore;
  /**
   * Runs a job in the background (Slack is already acknowledged): `build` may look things up (images,
   * admin flag) and throw a UserError, which is shown to the user like any other refusal. The promise
   * settles (never rejects) once the request is answered, for callers that run jobs one after another.
   */
  run(
    target: SlackTarget,
    build: () => Promise<SlackJob>,
    options?: { quietErrors?: boolean },
  ): Promise<void>;
  isAdmin(userId: string): Promise<boolean>;
}

/** `slack:<channel>` or `slack:<channel>:<thread_ts>`: a thread is its own conversation. */
export function conversationKey(target: { channel: string; threadTs?: string }): string {
  return target.threadTs ? `slack:${target.channel}:${target.threadTs}` : `slack:${target.channel}`;
}
