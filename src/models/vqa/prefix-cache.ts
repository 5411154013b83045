/**
 * A small LRU of image key → a promise of what a backend computed once for that image (decoder key/values
 * over the image's tokens). The promise goes in before it settles, so a follow-up that arrives while the
 * first question still runs waits for it instead of encoding the image again; a failed one is dropped.
 */
export class PrefixCache<T> {
  readonly #map = new Map<string, Promise<T>>();
  constructor(readonly capacity: number) {}

  get(key: string): Promise<T> | undefined {
    const hit = this.#map.get(key);
    if (hit) {
      this.#map.delete(key);
      this.#map.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: Promise<T>): void {
    this.#map.set(key, value);
    value.catch(() => {
      if (this.#map.get(key) === value) this.#map.delete(key);
    });
    while (this.#map.size > this.capacity) this.#map.delete(this.#map.keys().next().value as string);
  }

  delete(key: string): void {
    this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }
}
