import type { AnyCommand } from '../../contracts/command.js';
import type { BotRequest, ImageRef, Reply, Responder } from '../../contracts/request.js';
import { helpPointer, planChatMessage } from '../../core/chat.js';
import { impliedImageCount } from '../../core/context-images.js';
import type { SettingsStore } from '../../core/settings.js';
import type { Channel } from './channel.js';
import { PlaygroundResponder } from './responder.js';
import { CONVERSATION, PLATFORM, parseTyped } from './translate.js';

export type Handle = (req: BotRequest, res: Responder) => Promise<void>;

export interface Upload {
  ref: ImageRef;
  /** Whether the page could show it (a browser image format). */
  shown: boolean;
}

/** One request for the dispatch funnel and the iris message that answers it. */
export interface Work {
  req: BotRequest;
  res: Responder;
}

export interface MessageInput {
  text: string;
  uploads: Upload[];
  /** Images of the message this one replies to. */
  replied: ImageRef[];
  /** Images of the latest message that has any: what a question without one is about. */
  latest: ImageRef[];
  messageId: string;
  commands: readonly AnyCommand[];
  settings: SettingsStore;
  channel: Channel;
  request(fields: Pick<BotRequest, 'command' | 'args' | 'images'>): BotRequest;
}

/** /caption's answer as automatic alt text: only the policy-made alt text (errors pass unchanged). */
export function altTextReply(reply: Reply): Reply {
  if (reply.error) return reply;
  const text = reply.describes?.[0]?.altText ?? reply.text ?? '';
  return { text: `Alt text: ${text}`, describes: reply.describes, data: reply.data };
}

/**
 * What a message in the playground asks for:
 * - `/command …` → that command (images: the uploads, else those of the message it replies to, else — for
 *   a command that takes the image being talked about, like `/ask` — the latest image in the channel);
 * - other text → core's chat policy (src/core/chat.ts) with every message addressed to iris: a question
 *   asks about the uploads, else the replied-to image, else the latest image in the channel; words that are
 *   not a question get a pointer to /help;
 * - images alone → automatic alt text (`caption`, one reply per image) unless /alttext turned it off.
 * A command this iris lacks gets a note saying so; nothing is dropped silently.
 */
export async function planMessage(input: MessageInput): Promise<Work[]> {
  const { text, uploads, replied, commands } = input;
  const has = (name: string) => commands.some((c) => c.name === name);
  const answer = (opts: { transform?: (r: Reply) => Reply } = {}) =>
    new PlaygroundResponder(input.channel, { replyTo: input.messageId, ...opts });
  const note = async (message: string): Promise<Work[]> => {
    await answer().send({ text: message, ephemeral: true });
    return [];
  };
  const images = uploads.map((u) => u.ref);

  const typed = parseTyped(text, commands);
  if (typed) {
    const spec = commands.find((c) => c.name === typed.command);
    const takesImages = spec?.options.some((o) => o.type === 'image') ?? false;
    const implied = spec ? impliedImageCount(spec, typed.args) : 0;
    const chosen = images.length
      ? images
      : takesImages && replied.length
        ? replied
        : input.latest.slice(0, implied);
    return [
      { req: input.request({ command: typed.command, args: typed.args, images: chosen }), res: answer() },
    ];
  }
  const plan = await planChatMessage(
    {
      text,
      ownImages: images.length,
      repliedImages: replied.length,
      mentioned: false,
      direct: true,
      followsIris: false,
    },
    {
      sender: { platform: PLATFORM, userId: 'local', conversation: CONVERSATION },
      altText: { configured: true, settings: input.settings },
    },
  );
  if (plan.kind === 'ask' || plan.kind === 'help') {
    if (!has('ask')) return note('Questions need the /ask command, which this iris does not have.');
    if (plan.kind === 'help') return note(helpPointer({ ask: '/ask', help: '/help' }));
    const about = { own: images, replied, conversation: input.latest }[plan.about];
    return [
      { req: input.request({ command: 'ask', args: { question: text }, images: about }), res: answer() },
    ];
  }
  if (plan.kind !== 'alttext') return [];
  if (!has('caption')) {
    return note('Automatic alt text needs the /caption command, which this iris does not have.');
  }
  return images.map((image) => ({
    req: input.request({ command: 'caption', args: {}, images: [image] }),
    res: answer({ transform: altTextReply }),
  }));
}
