import type { AnyCommand, OptionSpec } from '../contracts/command.js';
import { listChoices, UserError } from '../errors.js';
import { truncate } from './text.js';

export type ArgValue = string | number | boolean | undefined;

const BOOLEAN_WORDS: Record<string, boolean> = {
  true: true,
  yes: true,
  on: true,
  '1': true,
  false: false,
  no: false,
  off: false,
  '0': false,
};

/**
 * Characters removed from every text option and every file name before anything sees them: C0/C1 control
 * characters (tab and newline stay), the Unicode bidi controls (U+202A–U+202E embeddings/overrides,
 * U+2066–U+2069 isolates, LRM/RLM/ALM) and invisible word joiners (U+200B, U+2060, U+FEFF). They are
 * invisible in chat, can reorder an echoed prompt or file name ("gnp.exe" shown as "exe.png") and can
 * split a blocklisted word; nobody needs them in a prompt. Stripped, not refused: the rest of the text is
 * what the user meant. U+200C/U+200D stay (scripts and emoji need them).
 */
const UNSAFE_CHARS = /(?![\t\n])[\p{Cc}\u061C\u200B\u200E\u200F\u202A-\u202E\u2060\u2066-\u2069\uFEFF]/gu;

export function stripUnsafeChars(text: string): string {
  return text.replace(/\r\n?/g, '\n').replace(UNSAFE_CHARS, '');
}

/** A file name fit to show in a reply: unsafe characters removed, one line, at most 100 characters. */
export function displayName(name: string): string {
  const clean = stripUnsafeChars(name).replace(/\s+/g, ' ').trim();
  return truncate(clean, 100) || 'image';
}

function rangeText(spec: OptionSpec): string {
  if (spec.min !== undefined && spec.max !== undefined) return ` from ${spec.min} to ${spec.max}`;
  if (spec.min !== undefined) return ` of at least ${spec.min}`;
  if (spec.max !== undefined) return ` of at most ${spec.max}`;
  return '';
}

function coerce(spec: OptionSpec, raw: unknown): ArgValue {
  const bad = (what: string) => new UserError('bad_option', `\`${spec.name}\` must be ${what}.`);
  switch (spec.type) {
    case 'string': {
      if (typeof raw !== 'string' && typeof raw !== 'number') throw bad('text');
      const text = stripUnsafeChars(String(raw)).trim();
      if (spec.maxLength !== undefined && text.length > spec.maxLength) {
        throw new UserError(
          'bad_option',
          `\`${spec.name}\` is too long (${text.length} characters; at most ${spec.maxLength}).`,
        );
      }
      if (spec.choices && !spec.choices.includes(text)) throw bad(listChoices(spec.choices));
      return text;
    }
    case 'integer':
    case 'number': {
      const n =
        typeof raw === 'number'
          ? raw
          : typeof raw === 'string' && raw.trim() !== ''
            ? Number(raw)
            : Number.NaN;
      const whole = spec.type === 'integer';
      if (!Number.isFinite(n) || (whole && !Number.isInteger(n)))
        throw bad(`${whole ? 'a whole number' : 'a number'}${rangeText(spec)}`);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw bad(`${whole ? 'a whole number' : 'a number'}${rangeText(spec)} (got ${n})`);
      }
      return n;
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      const word = BOOLEAN_WORDS[String(raw).toLowerCase()];
      if (word === undefined) throw bad('true or false');
      return word;
    }
    case 'image':
      throw new Error(`image option ${spec.name} is not a value`);
  }
}

/**
 * Checks a request's options against the command's spec: unknown names, required ones, types, ranges,
 * choices and the number of images. Returns typed values; throws UserError('bad_option') naming the problem.
 */
export function validateArgs(
  command: AnyCommand,
  args: Record<string, unknown>,
  imageCount: number,
): Record<string, ArgValue> {
  const valueSpecs = command.options.filter((o) => o.type !== 'image');
  const known = new Set(command.options.map((o) => o.name));
  for (const name of Object.keys(args)) {
    if (!known.has(name)) {
      const valid = valueSpecs.map((o) => o.name);
      throw new UserError(
        'bad_option',
        `/${command.name} has no option \`${name}\`.${valid.length ? ` Valid options: ${listChoices(valid)}.` : ''}`,
      );
    }
  }
  const out: Record<string, ArgValue> = {};
  for (const spec of valueSpecs) {
    const raw = args[spec.name];
    if (raw === undefined || raw === null || raw === '') {
      if (spec.required)
        throw new UserError('bad_option', `/${command.name} needs \`${spec.name}\`: ${spec.description}`);
      continue;
    }
    out[spec.name] = coerce(spec, raw);
  }
  const requiredImages = command.options.filter((o) => o.type === 'image' && o.required).length;
  if (imageCount < requiredImages) {
    const what = requiredImages === 1 ? 'an image' : `${requiredImages} images`;
    throw new UserError(
      'bad_option',
      `/${command.name} needs ${what}: attach one, or reply to a message that has one.`,
    );
  }
  return out;
}
