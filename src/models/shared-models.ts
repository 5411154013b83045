/**
 * Loaded models shared between backends: caption, read and find run on one Florence-2, tag and embed on
 * one CLIP. A backend asks for its model by what makes two loads the same (kind, folder, dtype, execution
 * providers, and any option that changes the loaded sessions) and gets a lease; the model is loaded on
 * the first lease and disposed when the last one is released. The registry owns one of these and hands
 * it to every factory through `BackendLoadOptions.shared`.
 */

export interface SharedModelKey {
  /** What kind of model this is ('florence2', 'clip'): two kinds never share, even on one folder. */
  kind: string;
  /** Absolute model folder. */
  dir: string;
  /** Which weight files (a dtype name or a map session → dtype). */
  dtype: unknown;
  executionProviders: readonly string[];
  /** Other settings the loaded sessions depend on (e.g. threads, graph optimisation). */
  settings?: Record<string, unknown>;
}

/** One backend's hold on a shared model. `release()` is idempotent. */
export interface Lease<T> {
  readonly model: T;
  release(): Promise<void>;
}

interface Entry {
  pending: Promise<unknown>;
  refs: number;
  dispose: (model: unknown) => Promise<void>;
}

/** A stable text for a key: object keys sorted, so `{a,b}` and `{b,a}` name the same load. */
function keyText(key: SharedModelKey): string {
  const sorted = (v: unknown): unknown =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
        )
      : v;
  return JSON.stringify(sorted({ ...key, settings: key.settings ?? {} }));
}

export class SharedModels {
  readonly #entries = new Map<string, Entry>();
  readonly #loads = new Map<string, number>();

  /**
   * A lease on the model `key` names: loaded by `load` when no backend holds it (concurrent first
   * requests share one load), disposed with `dispose` when the last lease is released. A failed load is
   * not kept: the next acquire loads again.
   */
  async acquire<T>(
    key: SharedModelKey,
    load: () => Promise<T>,
    dispose: (model: T) => Promise<void>,
  ): Promise<Lease<T>> {
    const text = keyText(key);
    let entry = this.#entries.get(text);
    if (!entry) {
      this.#loads.set(key.kind, (this.#loads.get(key.kind) ?? 0) + 1);
      const created: Entry = {
        pending: load(),
        refs: 0,
        dispose: dispose as (model: unknown) => Promise<void>,
      };
      entry = created;
      this.#entries.set(text, created);
      created.pending.catch(() => {
        if (this.#entries.get(text) === created) this.#entries.delete(text);
      });
    }
    entry.refs++;
    const held = entry;
    let model: T;
    try {
      model = (await held.pending) as T;
    } catch (err) {
      held.refs--;
      throw err;
    }
    let released = false;
    return {
      model,
      release: async () => {
        if (released) return;
        released = true;
        held.refs--;
        if (held.refs > 0) return;
        if (this.#entries.get(text) === held) this.#entries.delete(text);
        await held.dispose(model);
      },
    };
  }

  /** How many times a model of this kind was loaded (every kind when omitted): what sharing saves. */
  loads(kind?: string): number {
    if (kind !== undefined) return this.#loads.get(kind) ?? 0;
    return [...this.#loads.values()].reduce((a, b) => a + b, 0);
  }

  /** Models loaded or loading now. */
  get size(): number {
    return this.#entries.size;
  }
}
