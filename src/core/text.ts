/**
 * The one way iris shortens text to a cap (platform field limits, reply lengths, values echoed in errors):
 * lengths are UTF-16 code units, which is what JavaScript and Discord's and Slack's limits count.
 */

const ELLIPSIS = '…';

/** Index ≤ `at` that does not split a surrogate pair. */
function safeCut(text: string, at: number): number {
  const code = text.charCodeAt(at - 1);
  return at > 0 && code >= 0xd800 && code <= 0xdbff ? at - 1 : at;
}

/**
 * `text` in at most `max` characters: unchanged when it fits; else up to the last word boundary that keeps at
 * least half the room (no dangling comma or dash) plus "…"; else a hard cut plus "…", never inside a
 * surrogate pair.
 */
export function truncate(text: string, max: number): string {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`truncate: bad length ${max}`);
  if (text.length <= max) return text;
  const room = max - ELLIPSIS.length;
  if (room < 1) return text.slice(0, safeCut(text, max));
  let boundary = room;
  while (boundary > 0 && !/\s/.test(text.charAt(boundary))) boundary--;
  if (boundary >= room / 2) {
    const head = text.slice(0, boundary).replace(/[\s,;:–—-]+$/, '');
    if (head) return head + ELLIPSIS;
  }
  return text.slice(0, safeCut(text, room)) + ELLIPSIS;
}
