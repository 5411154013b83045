import type { AnyCommand } from '../../contracts/command.js';

/** Playground ⇄ BotRequest pieces: what a typed line means. */

export const PLATFORM = 'playground';
/** The playground is one local channel; its memory key. */
export const CONVERSATION = 'playground:local';

export interface TypedCommand {
  command: string;
  args: Record<string, string>;
}

/** Splits on spaces, keeping "quoted text" (quotes removed) together; `name:"a b"` stays one word. */
function words(line: string): string[] {
  return (line.match(/(?:[^\s"]+|"[^"]*")+/g) ?? []).map((w) => w.replace(/"/g, ''));
}

/**
 * `/tags labels:red,green` → { command: 'tags', args: { labels: 'red,green' } }. Words that are not
 * `name:value` for one of the command's options become the value of its first text option not given
 * (so `/imagine a red square` means `prompt:"a red square"` and `/ask what colour?` asks that).
 * Returns undefined when the line is not a slash command.
 */
export function parseTyped(line: string, commands: readonly AnyCommand[]): TypedCommand | undefined {
  const text = line.trim();
  if (!/^\/[a-z0-9_-]/i.test(text)) return undefined;
  const [head = '', ...rest] = words(text);
  const command = head.slice(1).toLowerCase();
  const spec = commands.find((c) => c.name === command);
  const args: Record<string, string> = {};
  const free: string[] = [];
  for (const word of rest) {
    const m = /^([a-z][a-z0-9_]*):(.+)$/is.exec(word);
    if (m?.[1] && m[2] !== undefined) args[m[1]] = m[2];
    else free.push(word);
  }
  if (free.length) {
    // Validation names `text` as an unknown option when the command takes no free text.
    const target = spec?.options.find(
      (o) => o.type === 'string' && !o.hidden && !o.choices && !(o.name in args),
    );
    args[target?.name ?? 'text'] = free.join(' ');
  }
  return { command, args };
}

/** The options a browser form may offer (buttons-only options are left out). */
export function commandList(commands: readonly AnyCommand[]) {
  return commands.map((c) => ({
    name: c.name,
    description: c.description,
    options: c.options
      .filter((o) => !o.hidden)
      .map((o) => ({
        name: o.name,
        type: o.type,
        description: o.description,
        required: Boolean(o.required),
        ...(o.choices ? { choices: o.choices } : {}),
      })),
  }));
}
