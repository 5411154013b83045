/**
 * What a chat message (not a slash command) asks of iris: one policy for every platform, so a
 * conversation behaves the same on Discord, Slack and the playground. Adapters gather the facts in their
 * platform's terms (mentions, replies, threads), call `planChat`, and translate the plan back into
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
}

export type ChatPlan =
  /** `ask` about: this message's images, the replied-to images, or the image the conversation is about. */
  | { kind: 'ask'; about: 'own' | 'replied' | 'conversation' }
  /** Describe these images (named iris with images and no words). */
  | { kind: 'caption'; about: 'own' | 'replied' }
  /** Images and nothing asked: automatic alt text, where the channel and the uploader want it. */
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
  return f.ownImages > 0 ? { kind: 'alttext' } : { kind: 'none' };
}

/** The short answer to words that are not a question about an image; `commands` as the platform spells them. */
export function helpPointer(commands: { help: string; ask: string }): string {
  return (
    `I answer questions about images: reply to an image with your question, or use \`${commands.ask}\`. ` +
    `\`${commands.help}\` lists everything I can do.`
  );
}
