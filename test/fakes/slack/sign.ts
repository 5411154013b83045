import { createHmac, randomUUID } from 'node:crypto';

/**
 * Requests as Slack sends them to an app: v0 signatures (HMAC-SHA256 of `v0:<timestamp>:<raw body>` with the
 * signing secret), slash commands form-encoded, interactivity as `payload=<json>`, events as JSON.
 */

export function slackSignature(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export interface SignedPost {
  secret: string;
  contentType: 'application/json' | 'application/x-www-form-urlencoded';
  /** Epoch seconds; default now. */
  timestamp?: number;
  /** Overrides the computed signature (bad-signature tests). */
  signature?: string;
  /** X-Slack-Retry-Num: Slack's retries of an event it got no 2xx for. */
  retryNum?: number;
}

export async function postSigned(url: string, body: string, options: SignedPost): Promise<Response> {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'content-type': options.contentType,
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': options.signature ?? slackSignature(options.secret, timestamp, body),
  };
  if (options.retryNum !== undefined) {
    headers['x-slack-retry-num'] = String(options.retryNum);
    headers['x-slack-retry-reason'] = 'http_timeout';
  }
  return fetch(url, { method: 'POST', headers, body });
}

export const TEAM_ID = 'T0FAKE';
export const APP_ID = 'A0FAKE';

export interface SlashCommand {
  command: string;
  text: string;
  user_id: string;
  channel_id: string;
  response_url?: string;
  trigger_id?: string;
}

/** The form body of a slash-command request. */
export function slashCommandBody(cmd: SlashCommand): string {
  return new URLSearchParams({
    token: 'legacy-verification-token',
    team_id: TEAM_ID,
    team_domain: 'fake',
    channel_name: 'general',
    user_name: cmd.user_id.toLowerCase(),
    api_app_id: APP_ID,
    is_enterprise_install: 'false',
    trigger_id: cmd.trigger_id ?? randomUUID(),
    response_url: cmd.response_url ?? 'http://127.0.0.1:9/unused',
    ...cmd,
  }).toString();
}

/** The JSON body of an Events API delivery. */
export function eventCallbackBody(event: Record<string, unknown>, eventId = `Ev${randomUUID()}`): string {
  return JSON.stringify({
    token: 'legacy-verification-token',
    team_id: TEAM_ID,
    api_app_id: APP_ID,
    event,
    type: 'event_callback',
    event_id: eventId,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ team_id: TEAM_ID, user_id: 'UBOT', is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
  });
}

/** The form body of an interactivity request (block actions, shortcuts). */
export function interactiveBody(payload: Record<string, unknown>): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export function blockActionPayload(options: {
  user: string;
  channel: string;
  messageTs: string;
  actionId: string;
  value: string;
  threadTs?: string;
}): Record<string, unknown> {
  return {
    type: 'block_actions',
    user: { id: options.user, username: options.user.toLowerCase(), team_id: TEAM_ID },
    api_app_id: APP_ID,
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: options.messageTs, channel_id: options.channel },
    trigger_id: randomUUID(),
    team: { id: TEAM_ID, domain: 'fake' },
    channel: { id: options.channel, name: 'general' },
    message: { type: 'message', ts: options.messageTs, thread_ts: options.threadTs, text: '' },
    response_url: 'http://127.0.0.1:9/unused',
    actions: [
      {
        type: 'button',
        action_id: options.actionId,
        block_id: 'iris-buttons',
        value: options.value,
        text: { type: 'plain_text', text: 'button' },
        action_ts: String(Date.now() / 1000),
      },
    ],
  };
}

export function messageShortcutPayload(options: {
  callbackId: string;
  user: string;
  channel: string;
  message: Record<string, unknown>;
}): Record<string, unknown> {
  return {
    type: 'message_action',
    callback_id: options.callbackId,
    trigger_id: randomUUID(),
    token: 'legacy-verification-token',
    action_ts: String(Date.now() / 1000),
    team: { id: TEAM_ID, domain: 'fake' },
    user: { id: options.user, name: options.user.toLowerCase(), team_id: TEAM_ID },
    channel: { id: options.channel, name: 'general' },
    message: options.message,
    message_ts: options.message.ts,
    response_url: 'http://127.0.0.1:9/unused',
  };
}
