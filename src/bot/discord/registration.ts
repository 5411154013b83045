import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  InteractionContextType,
  type REST,
  Routes,
} from 'discord.js';
import type { AnyCommand, OptionSpec } from '../../contracts/command.js';
import type { Logger } from '../../core/log.js';
import { truncate } from '../../core/text.js';

/**
 * Slash commands from the one command schema, plus the message context-menu entries. Re-registered
 * only when what Discord has differs from what iris would send (a bulk PUT resets Discord's caches and
 * counts against a daily limit).
 */

/** Context-menu entries on messages, and the command each one runs. */
export const MESSAGE_MENUS = [
  { name: 'Describe image', command: 'caption', ephemeral: false, altTextOnly: false },
  // Private, and only the alt text (when the command supplies one as data.altText): ready to paste.
  { name: 'Alt text', command: 'caption', ephemeral: true, altTextOnly: true },
] as const;

const DESCRIPTION_MAX = 100;
const CHOICES_MAX = 25;

interface OptionPayload {
  type: ApplicationCommandOptionType;
  name: string;
  description: string;
  required?: boolean;
  choices?: { name: string; value: string | number }[];
  min_value?: number;
  max_value?: number;
  max_length?: number;
}

export interface CommandPayload {
  type: ApplicationCommandType;
  name: string;
  description: string;
  options?: OptionPayload[];
  contexts?: InteractionContextType[];
  integration_types?: number[];
}

const TYPES: Record<OptionSpec['type'], ApplicationCommandOptionType> = {
  string: ApplicationCommandOptionType.String,
  integer: ApplicationCommandOptionType.Integer,
  number: ApplicationCommandOptionType.Number,
  boolean: ApplicationCommandOptionType.Boolean,
  image: ApplicationCommandOptionType.Attachment,
};

export function optionPayload(spec: OptionSpec): OptionPayload {
  const out: OptionPayload = {
    type: TYPES[spec.type],
    name: spec.name,
    description: truncate(spec.description, DESCRIPTION_MAX),
  };
  if (spec.required) out.required = true;
  if (spec.choices && spec.choices.length <= CHOICES_MAX) {
    const numeric = spec.type === 'integer' || spec.type === 'number';
    out.choices = spec.choices.map((c) => ({ name: c, value: numeric ? Number(c) : c }));
  }
  if (spec.type === 'integer' || spec.type === 'number') {
    if (spec.min !== undefined) out.min_value = spec.min;
    if (spec.max !== undefined) out.max_value = spec.max;
  }
  if (spec.type === 'string' && spec.maxLength !== undefined) out.max_length = Math.min(spec.maxLength, 6000);
  return out;
}

/** Every command as Discord sees it. `global` adds where the commands may be used (DMs per policy). */
export function commandPayloads(
  commands: readonly AnyCommand[],
  options: { global: boolean; dms: boolean },
): CommandPayload[] {
  const where = options.global
    ? {
        contexts: options.dms
          ? [InteractionContextType.Guild, InteractionContextType.BotDM]
          : [InteractionContextType.Guild],
        integration_types: [0],
      }
    : {};
  const names = new Set(commands.map((c) => c.name));
  const slash: CommandPayload[] = commands.map((c) => {
    const specs = c.options.filter((o) => !o.hidden);
    // Discord requires required options first.
    const ordered = [...specs.filter((o) => o.required), ...specs.filter((o) => !o.required)];
    return {
      type: ApplicationCommandType.ChatInput,
      name: c.name,
      description: truncate(c.description, DESCRIPTION_MAX),
      ...(ordered.length ? { options: ordered.map(optionPayload) } : {}),
      ...where,
    };
  });
  const menus: CommandPayload[] = MESSAGE_MENUS.filter((m) => names.has(m.command)).map((m) => ({
    type: ApplicationCommandType.Message,
    name: m.name,
    description: '',
    ...where,
  }));
  return [...slash, ...menus];
}

/** The fields iris sets, in a fixed key order, with Discord's defaults filled in: equal iff unchanged. */
function canonical(c: Record<string, unknown>): string {
  const options = ((c.options as Record<string, unknown>[] | undefined) ?? []).map((o) => ({
    type: o.type,
    name: o.name,
    description: o.description ?? '',
    required: o.required ?? false,
    choices: o.choices ?? null,
    min_value: o.min_value ?? null,
    max_value: o.max_value ?? null,
    max_length: o.max_length ?? null,
  }));
  return JSON.stringify({
    type: c.type ?? ApplicationCommandType.ChatInput,
    name: c.name,
    description: c.description ?? '',
    options,
    contexts: c.contexts ? [...(c.contexts as number[])].sort() : null,
  });
}

export function sameCommands(existing: Record<string, unknown>[], wanted: CommandPayload[]): boolean {
  const a = existing.map(canonical).sort();
  const b = wanted.map((w) => canonical(w as unknown as Record<string, unknown>)).sort();
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Registers the commands globally (no guilds) or in each guild, skipping any scope already up to date.
 * Returns what happened per scope, for the start-up line.
 */
export async function syncCommands(o: {
  rest: REST;
  applicationId: string;
  commands: readonly AnyCommand[];
  guilds: readonly string[];
  dms: boolean;
  log: Logger;
}): Promise<string[]> {
  const scopes = o.guilds.length
    ? o.guilds.map((g) => ({
        label: `guild ${g}`,
        route: Routes.applicationGuildCommands(o.applicationId, g),
      }))
    : [{ label: 'global', route: Routes.applicationCommands(o.applicationId) }];
  const wanted = commandPayloads(o.commands, { global: o.guilds.length === 0, dms: o.dms });
  const done: string[] = [];
  for (const scope of scopes) {
    const existing = (await o.rest.get(scope.route)) as Record<string, unknown>[];
    if (sameCommands(existing, wanted)) {
      done.push(`${scope.label}: ${wanted.length} commands up to date`);
      continue;
    }
    await o.rest.put(scope.route, { body: wanted });
    o.log.info({ scope: scope.label, count: wanted.length }, 'discord commands registered');
    done.push(`${scope.label}: ${wanted.length} commands registered`);
  }
  return done;
}
