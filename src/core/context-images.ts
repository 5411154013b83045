import type { AnyCommand } from '../contracts/command.js';

/**
 * How many of the conversation's latest images a command takes when it is given none: one per required
 * image option, and one for an optional image that stands for "the image we are talking about"
 * (`recent`, /ask's). Other optional images (/imagine's start image, /compare's third and fourth) are only
 * used when given.
 */
export function imagesWanted(command: AnyCommand): number {
  return command.options.filter((o) => o.type === 'image' && (o.required || o.recent)).length;
}

/**
 * The latest images a command sent without any takes from its conversation, given the options typed:
 * where a command cannot carry files (Slack slash commands) or the user attached none (a typed command in
 * the playground). A command with only optional options takes one input or another (/similar: an image or
 * a text): a typed text is that input, so no image is added to it.
 */
export function impliedImageCount(command: AnyCommand, args: Record<string, unknown>): number {
  const typedText = command.options.some((o) => o.type === 'string' && args[o.name] !== undefined);
  const alternatives = typedText && !command.options.some((o) => o.required);
  return alternatives ? 0 : imagesWanted(command);
}
