import { InvalidArgumentError, Option } from 'commander';
import type { AnyCommand, OptionSpec } from '../contracts/command.js';

/**
 * CLI flags made from a command's option spec, the way Discord and Slack registration are: one flag per
 * option the user may set (`--name <value>`). Numbers are parsed here; every other rule (choices, ranges,
 * lengths) is the funnel's, so the CLI reports a bad value with the same words as every platform.
 */

export function wholeNumberAtLeast(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected a whole number of at least ${min}`);
    }
    return n;
  };
}

const PLACEHOLDER: Record<OptionSpec['type'], string> = {
  string: '<text>',
  integer: '<n>',
  number: '<x>',
  boolean: '',
  image: '<file>',
};

/** What the help shows for an option: its description, and its choices where it has some. */
function helpOf(o: OptionSpec): string {
  const text = o.description.replace(/\.$/, '');
  return o.choices ? `${text} (${o.choices.join(' | ')})` : text;
}

/** The flag for one option; an image option takes a file path. */
export function flagOf(o: OptionSpec): Option {
  const name = o.name.replaceAll('_', '-');
  const flag = new Option(`--${name}${PLACEHOLDER[o.type] ? ` ${PLACEHOLDER[o.type]}` : ''}`, helpOf(o));
  if (o.type === 'integer') return flag.argParser(wholeNumberAtLeast(Math.max(0, o.min ?? 0)));
  if (o.type === 'number') return flag.argParser(Number);
  return flag;
}

/** The options of `spec` the CLI offers as flags: all but hidden ones and those in `except`. */
export function flaggedOptions(spec: AnyCommand, except: readonly string[] = []): OptionSpec[] {
  return spec.options.filter((o) => !o.hidden && !except.includes(o.name));
}

/** Flags for a command's options (see flaggedOptions). */
export function specFlags(spec: AnyCommand, except: readonly string[] = []): Option[] {
  return flaggedOptions(spec, except).map(flagOf);
}

/**
 * The request args in parsed flags: every flagged, non-image option that was given, under its option
 * name. Image options are files; the caller reads them into the request's images.
 */
export function argsOf(
  spec: AnyCommand,
  flags: Readonly<Record<string, unknown>>,
  except: readonly string[] = [],
): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const o of flaggedOptions(spec, except)) {
    if (o.type === 'image') continue;
    const value = flags[flagOf(o).attributeName()];
    if (value !== undefined) args[o.name] = value;
  }
  return args;
}

/** Flags every task command shares, declared once. */
export const modelsFlag = (help = 'models folder') => new Option('--models <dir>', help);
export const jsonFlag = (prints: string) => new Option('--json', prints);
