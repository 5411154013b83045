/**
 * Button ids for /imagine replies (Reroll, Vary N), platform-neutral. An id carries everything needed to
 * act on a press, so buttons keep working after a restart; adapters route a press by turning the id into
 * a BotRequest: `{ command: 'imagine', args: decodeImagineButton(id).args }` (see docs/imagine.md).
 *
 *   imagine:<action>:<payload>      action: reroll | vary;  payload: base64url of the bytes below
 *
 *   u8 version (1) · u8 flags (1 negative, 2 cut: full text kept in settings under the hash, 4 vary,
 *   8 scheduler) · u8 steps · u8 guidance×10 · u8 width/64 · u8 height/64 · u8 count ·
 *   [vary: u32 source seed, u8 strength×100] · [scheduler: u8 index in SCHEDULER_NAMES] ·
 *   u8 model length, model name (ASCII) · [cut: 6 bytes of sha256(prompt \0 negative)] ·
 *   u8 prompt length, prompt (UTF-8) · [negative: the rest, UTF-8]
 *
 * Discord caps custom ids at 100 characters (Slack at 255), so ids are kept ≤ 100. When the prompt and
 * negative prompt do not fit, the id carries as much of the prompt as fits plus a hash; the command
 * keeps the full texts in the settings store under `imagine-prompt:<hash>` for
 * `tasks.imagine.buttonTtlSeconds` and looks them up on a press. If they are gone, the cut prompt is used
 * and the reply says so.
 */
import { createHash } from 'node:crypto';
import { SCHEDULER_NAMES } from '../contracts/tasks/imagine.js';
import type { SettingsStore } from '../core/settings.js';
import { UserError } from '../errors.js';

export const IMAGINE_BUTTON_PREFIX = 'imagine:';
export const MAX_BUTTON_ID = 100;
const VERSION = 1;
const F_NEGATIVE = 1;
const F_CUT = 2;
const F_VARY = 4;
const F_SCHEDULER = 8;

export interface ImagineButtonParams {
  prompt: string;
  negative?: string;
  steps: number;
  guidance: number;
  width: number;
  height: number;
  count: number;
  model: string;
  scheduler?: string;
}

export type ImagineButtonAction = { action: 'reroll' } | { action: 'vary'; seed: number; strength: number };

export interface EncodedButton {
  id: string;
  /** Set when the texts were cut: keep them under this settings key so a press can restore them. */
  store?: { key: string; prompt: string; negative: string };
}

export function promptHash(prompt: string, negative: string): string {
  return createHash('sha256').update(`${prompt}\0${negative}`).digest().subarray(0, 6).toString('base64url');
}

export function promptStoreKey(hash: string): string {
  return `imagine-prompt:${hash}`;
}

/** Cut UTF-8 bytes without splitting a character. */
function utf8Prefix(text: string, maxBytes: number): Buffer {
  const b = Buffer.from(text, 'utf8');
  if (b.length <= maxBytes) return b;
  let end = maxBytes;
  while (end > 0 && ((b[end] as number) & 0xc0) === 0x80) end--;
  return b.subarray(0, end);
}

function build(
  p: ImagineButtonParams,
  a: ImagineButtonAction,
  prompt: Buffer,
  negative: Buffer,
  hash?: string,
): string {
  const sched = p.scheduler ? SCHEDULER_NAMES.indexOf(p.scheduler as (typeof SCHEDULER_NAMES)[number]) : -1;
  const flags =
    (negative.length ? F_NEGATIVE : 0) |
    (hash ? F_CUT : 0) |
    (a.action === 'vary' ? F_VARY : 0) |
    (sched >= 0 ? F_SCHEDULER : 0);
  const head = [VERSION, flags, p.steps, Math.round(p.guidance * 10), p.width / 64, p.height / 64, p.count];
  const parts: Buffer[] = [Buffer.from(head)];
  if (a.action === 'vary') {
    const v = Buffer.alloc(5);
    v.writeUInt32BE(a.seed >>> 0, 0);
    v[4] = Math.round(a.strength * 100);
    parts.push(v);
  }
  if (sched >= 0) parts.push(Buffer.from([sched]));
  const model = Buffer.from(p.model, 'latin1');
  parts.push(Buffer.from([model.length]), model);
  if (hash) parts.push(Buffer.from(hash, 'base64url'));
  parts.push(Buffer.from([prompt.length]), prompt, negative);
  return `${IMAGINE_BUTTON_PREFIX}${a.action}:${Buffer.concat(parts).toString('base64url')}`;
}

/** The id of a Reroll or Vary button for these generation parameters. */
export function encodeImagineButton(p: ImagineButtonParams, a: ImagineButtonAction): EncodedButton {
  if (
    p.steps > 255 ||
    p.guidance * 10 > 255 ||
    p.width / 64 > 255 ||
    p.height / 64 > 255 ||
    p.model.length > 40
  ) {
    throw new RangeError('imagine button: parameters out of the encodable range');
  }
  const negative = p.negative ?? '';
  const full = build(p, a, Buffer.from(p.prompt, 'utf8'), Buffer.from(negative, 'utf8'));
  if (full.length <= MAX_BUTTON_ID && Buffer.byteLength(p.prompt) <= 255) return { id: full };
  const hash = promptHash(p.prompt, negative);
  const empty = build(p, a, Buffer.alloc(0), Buffer.alloc(0), hash);
  const roomBytes = Math.floor((MAX_BUTTON_ID - empty.length) / 4) * 3;
  const id = build(p, a, utf8Prefix(p.prompt, Math.max(0, roomBytes)), Buffer.alloc(0), hash);
  return { id, store: { key: promptStoreKey(hash), prompt: p.prompt, negative } };
}

/**
 * Keeps the full texts behind this reply's buttons when their ids cut the prompt (the Reroll and Vary
 * ids differ only in fixed-size fields, so one check of each covers every seed).
 */
export async function keepButtonPrompt(
  settings: SettingsStore,
  p: ImagineButtonParams,
  keep: { strength: number; ttlSeconds: number },
): Promise<void> {
  const store =
    encodeImagineButton(p, { action: 'reroll' }).store ??
    encodeImagineButton(p, { action: 'vary', seed: 0, strength: keep.strength }).store;
  if (!store) return;
  const value = JSON.stringify({ prompt: store.prompt, negative: store.negative });
  await settings.set(store.key, value, { ttlSeconds: keep.ttlSeconds });
}

/** The full texts a cut button's `prompt_hash` stands for, while they are kept and match the hash. */
export async function keptButtonPrompt(
  settings: SettingsStore,
  hash: string,
): Promise<{ prompt: string; negative: string } | undefined> {
  const value = await settings.get(promptStoreKey(hash));
  if (value === undefined) return undefined;
  try {
    const kept = JSON.parse(value) as { prompt?: unknown; negative?: unknown };
    if (typeof kept.prompt !== 'string' || typeof kept.negative !== 'string') return undefined;
    return promptHash(kept.prompt, kept.negative) === hash
      ? { prompt: kept.prompt, negative: kept.negative }
      : undefined;
  } catch {
    return undefined;
  }
}

export function isImagineButton(id: string): boolean {
  return id.startsWith(IMAGINE_BUTTON_PREFIX);
}

/**
 * Button id → the `imagine` command's args. Reroll: every option but the seed (a new one is drawn).
 * Vary: `variation_of` (the source image's seed) and `strength`, count 1. A cut prompt comes with
 * `prompt_hash` for the command to restore the full texts.
 */
export function decodeImagineButton(id: string): {
  command: 'imagine';
  args: Record<string, string | number>;
} {
  const stale = () =>
    new UserError(
      'bad_option',
      'This button is not one iris can read (it may be from another version); run /imagine again.',
    );
  const m = /^imagine:(reroll|vary):([A-Za-z0-9_-]+)$/.exec(id);
  if (!m) throw stale();
  const b = Buffer.from(m[2] as string, 'base64url');
  try {
    if (b[0] !== VERSION) throw stale();
    const flags = b[1] as number;
    const args: Record<string, string | number> = {
      steps: b[2] as number,
      guidance: (b[3] as number) / 10,
      size: `${(b[4] as number) * 64}x${(b[5] as number) * 64}`,
      count: b[6] as number,
    };
    let at = 7;
    if (flags & F_VARY) {
      args.variation_of = b.readUInt32BE(at);
      args.strength = (b[at + 4] as number) / 100;
      args.count = 1;
      at += 5;
    }
    if (flags & F_SCHEDULER) {
      const name = SCHEDULER_NAMES[b[at++] as number];
      if (!name) throw stale();
      args.scheduler = name;
    }
    const modelLen = b[at++] as number;
    args.model = b.toString('latin1', at, at + modelLen);
    at += modelLen;
    if (flags & F_CUT) {
      args.prompt_hash = b.subarray(at, at + 6).toString('base64url');
      at += 6;
    }
    const promptLen = b[at++] as number;
    if (at + promptLen > b.length) throw stale();
    args.prompt = b.toString('utf8', at, at + promptLen);
    at += promptLen;
    if (flags & F_NEGATIVE) args.negative = b.toString('utf8', at);
    if ((m[1] === 'vary') !== Boolean(flags & F_VARY)) throw stale();
    return { command: 'imagine', args };
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw stale();
  }
}
