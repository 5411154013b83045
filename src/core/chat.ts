import type { ConversationKey } from '../contracts/request.js';
import { altTextWanted } from './alttext-channels.js';
import type { SettingsStore } from './settings.js';

/**
 * What a chat message (not a slash command) asks of iris: one policy for every platform, so a
 * conversation behaves the same on Discord, Slack and the playground. Adapters gather the facts in their
 * platform's terms (mentions, replies, threads), call `planChatMessage`, and translate the plan back into
 * requests (`ask`, `caption`), automatic alt text, or the short `helpPointer`.
 */

export interface ChatFacts {
  /** The words, iris's mention removed. */
  text: string;
  /** Images the message itself carries. */
  ownImages: number;
  /** Images of the message it replies to (a Discord reply, a playground reply, a Slack thread's image). */
  repliedImages: number;
  /** It names iris (a mention). */
  mentioned: boolean;
  /** It is in a place where every message is for iris (the playground, a direct message). */
  direct: boolean;
  /** It answers iris: a reply to iris's message, or a message in a thread iris speaks in. */
  followsIris: boolean;
  /** Own images that already carry a description (a Discord attachment's alt text); default 0. */
  describedImages?: number;
  /** It is a reply inside a thread (Slack): a conversation, not an upload to the channel; no automatic alt text. */
  inThread?: boolean;
}

/** Who wrote the message and where: what the alt-text choices (/alttext) are looked up by. */
export interface ChatSender {
  platform: string;
  userId: string;
  conversation: ConversationKey;
}

export interface AltTextPolicy {
  /** Config turns automatic alt text on in this message's channel (an admin's stored choice wins). */
  configured: boolean;
  /** Stored /alttext choices; absent: config alone decides. */
  settings?: SettingsStore;
}

export type ChatPlan =
  /** `ask` about: this message's images, the replied-to images, or the image the conversation is about. */
  | { kind: 'ask'; about: 'own' | 'replied' | 'conversation' }
  /** Describe these images (named iris with images and no words). */
  | { kind: 'caption'; about: 'own' | 'replied' }
  /**
   * Images without a description and nothing asked: automatic alt text (from planChatMessage only where
   * the channel has it on and the uploader has not opted out).
   */
  | { kind: 'alttext' }
  /** Words for iris that are not a question about an image: point at /help instead of guessing. */
  | { kind: 'help' }
  | { kind: 'none' };

/**
 * Words a question (or a request about an image) starts with; the rest needs a question mark. "hello
 * there" and "thanks" are not questions, so they get the pointer to /help, not an answer about an image.
 */
const QUESTION_START =
  /^(what|what's|whats|which|who|who's|whose|whom|where|where's|when|why|how|is|isn't|are|aren't|was|were|do|does|did|can|could|would|should|will|has|have|any|and|describe|tell|explain|count|read|list|name|show|find|identify)\b/i;

export function isQuestion(text: string): boolean {
  const t = text.trim();
  return /\?\s*$/.test(t) || QUESTION_START.test(t);
}

export function planChat(f: ChatFacts): ChatPlan {
  const text = f.text.trim();
  const addressed = f.mentioned || f.direct;
  if (text) {
    if (f.ownImages > 0 && addressed) return { kind: 'ask', about: 'own' };
    if (f.repliedImages > 0) return { kind: 'ask', about: 'replied' };
    if (addressed || f.followsIris) {
      return isQuestion(text) ? { kind: 'ask', about: 'conversation' } : { kind: 'help' };
    }
  } else if (f.mentioned) {
    if (f.ownImages > 0 || f.repliedImages > 0)
      return { kind: 'caption', about: f.ownImages > 0 ? 'own' : 'replied' };
    return { kind: 'help' };
  }
  const undescribed = f.ownImages - (f.describedImages ?? 0);
  return undescribed > 0 && !f.inThread ? { kind: 'alttext' } : { kind: 'none' };
}

/**
 * The plan for a chat message, with the alt-text choices applied: images alone get automatic alt text
 * only where the channel has it on (config, else an admin's /alttext) and the uploader has not opted out.
 */
export async function planChatMessage(
  f: ChatFacts,
  who: { sender: ChatSender; altText: AltTextPolicy },
): Promise<ChatPlan> {
  const plan = planChat(f);
  if (plan.kind !== 'alttext') return plan;
  const { settings, configured } = who.altText;
  const wanted = settings ? await altTextWanted(settings, { ...who.sender, configured }) : configured;
  return wanted ? plan : { kind: 'none' };
}

/** The short answer to words that are not a question about an image; `commands` as the platform spells them. */
export function helpPointer(commands: { help: string; ask: string }): string {
  return (
    `I answer questions about images: reply to an image with your question, or use \`${commands.ask}\`. ` +
    `\`${commands.help}\` lists everything I can do.`
  );
}
