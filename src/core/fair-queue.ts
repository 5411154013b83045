/**
 * The waiting line of one scheduler queue: priority levels first (interactive, normal, batch), then per-user
 * round robin inside a level, then arrival order.
 *
 * Each entry gets a round when it joins: one past its user's last waiting entry in that level, and never
 * earlier than the round being served now. A user's k-th waiting job is in round k, so a user who sends 50
 * jobs takes turns with everybody else instead of pushing them behind the flood, and a newcomer goes right
 * after the jobs of the current round. The order is fixed when an entry joins, so a place in line is a
 * binary search (O(levels + log n)) instead of a replay of what will happen.
 */

export interface FairEntry<T> {
  readonly value: T;
  readonly user: string;
  /** Priority level, 0 first. */
  readonly level: number;
  readonly round: number;
  readonly seq: number;
}

interface Level<T> {
  /** Sorted by (round, seq). */
  entries: FairEntry<T>[];
  /** Round of the latest entry taken out to run. */
  served: number;
  /** Per user with entries waiting here: their last round and how many wait. */
  users: Map<string, { round: number; waiting: number }>;
}

export class FairQueue<T> {
  readonly #levels: Level<T>[];
  #seq = 0;
  #size = 0;

  constructor(levels: number) {
    this.#levels = Array.from({ length: levels }, () => ({ entries: [], served: 0, users: new Map() }));
  }

  get size(): number {
    return this.#size;
  }

  /** Adds a waiting entry; returns it (the handle for position, remove) and its 0-based place. */
  push(value: T, user: string, level: number): { entry: FairEntry<T>; index: number } {
    const line = this.#level(level);
    const mine = line.users.get(user);
    const round = Math.max(line.served, mine?.round ?? 0) + 1;
    line.users.set(user, { round, waiting: (mine?.waiting ?? 0) + 1 });
    const entry: FairEntry<T> = { value, user, level, round, seq: ++this.#seq };
    // Entries after it: a later round (its seq is the highest, so equal rounds stay ahead).
    const at = upperBound(line.entries, (e) => e.round > round);
    line.entries.splice(at, 0, entry);
    this.#size++;
    return { entry, index: this.#offset(level) + at };
  }

  /** 1 = next; undefined when the entry is not waiting here. */
  position(entry: FairEntry<T>): number | undefined {
    const at = this.#indexIn(entry);
    return at === undefined ? undefined : this.#offset(entry.level) + at + 1;
  }

  /** Takes a waiting entry out; returns the 0-based place it had, or undefined when it was not here. */
  remove(entry: FairEntry<T>): number | undefined {
    const at = this.#indexIn(entry);
    if (at === undefined) return undefined;
    const index = this.#offset(entry.level) + at;
    this.#drop(entry, at);
    return index;
  }

  /**
   * Takes the first entry in line that `eligible` accepts (a user at their slot limit is skipped, and keeps
   * their place); returns it with the 0-based place it had.
   */
  take(eligible: (entry: FairEntry<T>) => boolean): { entry: FairEntry<T>; index: number } | undefined {
    let offset = 0;
    for (const line of this.#levels) {
      for (let at = 0; at < line.entries.length; at++) {
        const entry = line.entries[at] as FairEntry<T>;
        if (!eligible(entry)) continue;
        line.served = Math.max(line.served, entry.round);
        this.#drop(entry, at);
        return { entry, index: offset + at };
      }
      offset += line.entries.length;
    }
    return undefined;
  }

  /** Calls `visit` for each waiting entry from 0-based place `from` on, in order, with its position (1 = next). */
  forEachFrom(from: number, visit: (entry: FairEntry<T>, position: number) => void): void {
    let offset = 0;
    for (const line of this.#levels) {
      const { entries } = line;
      for (let at = Math.max(0, from - offset); at < entries.length; at++) {
        visit(entries[at] as FairEntry<T>, offset + at + 1);
      }
      offset += entries.length;
    }
  }

  #level(level: number): Level<T> {
    const line = this.#levels[level];
    if (!line) throw new Error(`No priority level ${level}`);
    return line;
  }

  #offset(level: number): number {
    let offset = 0;
    for (let l = 0; l < level; l++) offset += (this.#levels[l] as Level<T>).entries.length;
    return offset;
  }

  #indexIn(entry: FairEntry<T>): number | undefined {
    const entries = this.#level(entry.level).entries;
    const at = upperBound(
      entries,
      (e) => e.round > entry.round || (e.round === entry.round && e.seq >= entry.seq),
    );
    return entries[at] === entry ? at : undefined;
  }

  #drop(entry: FairEntry<T>, at: number): void {
    const line = this.#level(entry.level);
    line.entries.splice(at, 1);
    this.#size--;
    const mine = line.users.get(entry.user);
    if (mine && --mine.waiting === 0) line.users.delete(entry.user);
  }
}

/** First index whose element satisfies `after` (a predicate that is false, then true, along the array). */
function upperBound<E>(items: readonly E[], after: (item: E) => boolean): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (after(items[mid] as E)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
