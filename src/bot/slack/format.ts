import type { types } from '@slack/bolt';

type KnownBlock = types.KnownBlock;

import type { Button, Progress } from '../../contracts/request.js';
import { truncate } from '../../core/text.js';

/** Slack's caps: file alt text 1000 characters, a section block's text 3000, a button's value 2000. */
export const SLACK_ALT_TEXT_MAX = 1000;
const SECTION_TEXT_MAX = 3000;
const BUTTON_LABEL_MAX = 75;
export const BUTTON_VALUE_MAX = 2000;
/** Every iris button's action_id starts with this; the press handler matches it, so buttons work after a restart. */
export const BUTTON_ACTION_PREFIX = 'iris-button-';

/**
 * Command text (plain text with a little Markdown) → Slack mrkdwn: &, < and > escaped (so a reply can never
 * ping @channel or forge a link), **bold** → *bold*. Backticks and _italics_ mean the same in both.
 */
export function toMrkdwn(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\*\*([^*\n]+)\*\*/g, '*$1*');
}

export function progressText(p: Progress): string {
  if (p.kind === 'queued') {
    return p.position <= 1
      ? ':hourglass_flowing_sand: Queued — next in line'
      : `:hourglass_flowing_sand: Queued — #${p.position} in line`;
  }
  const step = p.step !== undefined && p.total ? ` step ${p.step}/${p.total}` : '';
  const message = p.message ? ` — ${toMrkdwn(p.message)}` : '';
  return `:gear: Working…${step}${message}`;
}

/**
 * Block Kit for a reply: its text as a section, its buttons as one actions block. A button's full id
 * travels in `value` (up to 2000 characters) and its action_id is just a prefix + index, so the handler
 * needs no state: the press carries everything.
 */
export function replyBlocks(mrkdwn: string, buttons: readonly Button[]): KnownBlock[] {
  const blocks: KnownBlock[] = [];
  if (mrkdwn.trim())
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(mrkdwn, SECTION_TEXT_MAX) } });
  blocks.push({
    type: 'actions',
    block_id: 'iris-buttons',
    elements: buttons.slice(0, 25).map((b, i) => ({
      type: 'button',
      action_id: `${BUTTON_ACTION_PREFIX}${i}`,
      text: { type: 'plain_text', text: truncate(b.label, BUTTON_LABEL_MAX), emoji: true },
      value: b.id.slice(0, BUTTON_VALUE_MAX),
      ...(b.style === 'primary' || b.style === 'danger' ? { style: b.style } : {}),
    })),
  });
  return blocks;
}

/** The command a button id routes to: its first `:`-separated segment (`imagine:reroll:…` → imagine). */
export function buttonCommand(id: string): string {
  return id.split(':')[0] ?? '';
}
