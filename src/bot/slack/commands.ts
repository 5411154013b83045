import type { Config } from '../../config.js';
import type { AnyCommand } from '../../contracts/command.js';
import { listChoices, UserError } from '../../errors.js';

export type SlackCommandsConfig = Config['platforms']['slack']['commands'];

/** One Slack slash command and the iris command it runs (undefined: the umbrella, `/iris <command> …`). */
export interface SlashRoute {
  slash: string;
  command?: AnyCommand;
}

/**
 * Slash-command names, generated from the one command list: `/<prefix><name>`, or a rename from config,
 * plus the umbrella command. Slack caps names at 32 characters including the slash.
 */
export function slashRoutes(commands: readonly AnyCommand[], config: SlackCommandsConfig): SlashRoute[] {
  const routes: SlashRoute[] = commands.map((command) => ({
    slash: `/${config.rename[command.name] ?? `${config.prefix}${command.name}`}`.slice(0, 32),
    command,
  }));
  if (config.umbrella) routes.push({ slash: `/${config.umbrella}` });
  return routes;
}

/** "a b:c d" → words, keeping "quoted text" together. */
function words(text: string): string[] {
  return (text.match(/(?:[^\s"“”]+|["“][^"“”]*["”])+/g) ?? []).map((w) => w.replace(/["“”]/g, ''));
}

/**
 * The text after a slash command → option values. `name:value` sets an option (quotes keep spaces:
 * `labels:"red car, blue car"`); every other word belongs to the command's main text option (the first
 * required string option, else the first string option), so `/imagine a red square seed:7` works.
 * Slack's own formatting is undone: `<@U1|name>` → @name, `<http://x|x>` → the link.
 */
export function parseSlashText(command: AnyCommand, text: string): Record<string, string> {
  const plain = text
    .replace(
      /<([@#!])[^|>]*\|([^>]+)>/g,
      (_m, sigil: string, label: string) => `${sigil === '#' ? '#' : '@'}${label}`,
    )
    .replace(/<(https?:[^|>]+)(?:\|[^>]*)?>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
  // Hidden options are set by buttons only, never typed.
  const typed = command.options.filter((o) => o.type !== 'image' && !o.hidden);
  const names = new Set(typed.map((o) => o.name));
  const strings = typed.filter((o) => o.type === 'string');
  const main = strings.find((o) => o.required) ?? strings[0];
  const args: Record<string, string> = {};
  const rest: string[] = [];
  for (const word of words(plain)) {
    const m = /^([a-z][a-z0-9_]*):(.*)$/i.exec(word);
    const name = m?.[1]?.toLowerCase();
    if (m && name && names.has(name)) args[name] = m[2] ?? '';
    else rest.push(word);
  }
  if (rest.length) {
    if (!main || args[main.name] !== undefined) {
      const valid = [...names].map((n) => `${n}:…`);
      throw new UserError(
        'bad_option',
        `/${command.name} does not take "${rest.join(' ').slice(0, 40)}".${valid.length ? ` Options: ${listChoices(valid)}.` : ''}`,
      );
    }
    args[main.name] = rest.join(' ');
  }
  return args;
}

/** `/iris tags labels:red` → the tags command and "labels:red"; `/iris` alone → help. */
export function resolveUmbrella(
  commands: readonly AnyCommand[],
  text: string,
): { command: AnyCommand; text: string } {
  const [first = 'help', ...rest] = text.trim().split(/\s+/);
  const name = first.replace(/^\//, '').toLowerCase();
  const command = commands.find((c) => c.name === name);
  if (!command) {
    throw new UserError(
      'unknown_command',
      `iris has no command "${name.slice(0, 30)}". Commands: ${listChoices(commands.map((c) => c.name))}.`,
    );
  }
  return { command, text: rest.join(' ') };
}
