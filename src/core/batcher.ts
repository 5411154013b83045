/**
 * A dynamic batcher in front of a model that takes a batch dimension (Triton's "dynamic batching"):
 * requests that arrive within `windowMs` of each other are run as one call of up to `maxBatch` items,
 * and each caller gets its own item's result.
 *
 * - One batch runs at a time (the model is the scarce thing); items that arrive meanwhile form the next,
 *   which starts on the event loop's next turn after the running one ends.
 * - A batch starts when it is full, when the oldest waiting item has waited `windowMs`, or at the
 *   earliest deadline of a waiting item, whichever comes first.
 * - Items of different owners are taken in turns (round robin in arrival order): one request with many
 *   items cannot fill a batch ahead of the others.
 * - Items with different `keyOf` (e.g. image sizes) never share a batch.
 * - `run` answers per item (a value, or an Error for that item alone). If `run` throws for a batch of
 *   several items, each is run again on its own, so one bad input fails only its own request.
 * - Aborting an item's signal removes it while it waits; once its batch runs, its caller is answered at
 *   once and the batch goes on for the others.
 *
 * Deciding whom to serve is not done here: the scheduler in front does that (fairness, quotas,
 * priorities); this only merges what is already being served.
 */

export interface BatcherOptions<I, O> {
  /** Runs one batch; answers one entry per item, in order: a value, or an Error for that item alone. */
  run(items: I[]): Promise<(O | Error)[]>;
  /** How long the first item of a batch waits for company (0: run with whatever is there). */
  windowMs: number;
  maxBatch: number;
  /** Items whose keys differ never share a batch. Default: all items may. */
  keyOf?(item: I): string;
  /** Observes every batch as it starts (tests, metrics): its size and how long each item waited, in ms. */
  onBatch?(size: number, waitedMs: number[]): void;
}

export interface SubmitOptions {
  /** Aborting removes a waiting item; its caller is rejected with the signal's reason. */
  signal?: AbortSignal;
  /** Epoch ms: the item's batch starts no later than this, however short the window has left. */
  deadline?: number;
  /** Who the item is for (a request); owners take turns when a batch is formed. Default: the item alone. */
  owner?: unknown;
}

interface Waiting<I, O> {
  item: I;
  key: string;
  owner: unknown;
  arrived: number;
  /** performance.now() at arrival, for the waits onBatch reports. */
  queuedAt: number;
  deadline: number;
  resolve(value: O): void;
  reject(error: unknown): void;
  detach(): void;
  settled: boolean;
}

export interface BatcherStats {
  batches: number;
  items: number;
  waiting: number;
}

export class Batcher<I, O> {
  readonly #options: BatcherOptions<I, O>;
  readonly #waiting: Waiting<I, O>[] = [];
  #running = false;
  #timer?: NodeJS.Timeout;
  #timerAt = Number.POSITIVE_INFINITY;
  #fullSoon?: NodeJS.Immediate;
  #batches = 0;
  #items = 0;

  constructor(options: BatcherOptions<I, O>) {
    if (!(options.maxBatch >= 1)) throw new Error('Batcher: maxBatch must be at least 1');
    if (!(options.windowMs >= 0)) throw new Error('Batcher: windowMs must be 0 or more');
    this.#options = options;
  }

  /** Queues one item; resolves with its own result. */
  submit(item: I, opts: SubmitOptions = {}): Promise<O> {
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<O>((resolve, reject) => {
      const entry: Waiting<I, O> = {
        item,
        key: this.#options.keyOf?.(item) ?? '',
        owner: opts.owner ?? {},
        arrived: Date.now(),
        queuedAt: performance.now(),
        deadline: opts.deadline ?? Number.POSITIVE_INFINITY,
        resolve,
        reject,
        detach: () => {},
        settled: false,
      };
      if (signal) {
        const onAbort = () => {
          const at = this.#waiting.indexOf(entry);
          if (at >= 0) this.#waiting.splice(at, 1);
          this.#settle(entry, () => reject(signal.reason));
          this.#plan();
        };
        signal.addEventListener('abort', onAbort, { once: true });
        entry.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.#waiting.push(entry);
      this.#plan();
    });
  }

  stats(): BatcherStats {
    return { batches: this.#batches, items: this.#items, waiting: this.#waiting.length };
  }

  /** Starts a batch if one is due, else sets the timer for when the next one will be. */
  #plan(): void {
    if (this.#running || this.#waiting.length === 0) {
      this.#clearTimer();
      return;
    }
    const due = this.#dueAt();
    if (due <= Date.now()) {
      this.#clearTimer();
      void this.#flush();
      return;
    }
    if (this.#fullBatchWaiting()) {
      // Full: start on the next turn of the event loop, so that items submitted together (one request's
      // images, several requests started at once) are all there when owners take their turns.
      this.#clearTimer();
      this.#fullSoon ??= setImmediate(() => {
        this.#fullSoon = undefined;
        if (!this.#running && this.#fullBatchWaiting()) void this.#flush();
        else this.#plan();
      });
      return;
    }
    if (due >= this.#timerAt) return;
    this.#clearTimer();
    this.#timerAt = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.#plan();
    }, due - Date.now());
  }

  #dueAt(): number {
    let due = Number.POSITIVE_INFINITY;
    for (const w of this.#waiting) due = Math.min(due, w.arrived + this.#options.windowMs, w.deadline);
    return due;
  }

  #fullBatchWaiting(): boolean {
    const counts = new Map<string, number>();
    for (const w of this.#waiting) {
      const n = (counts.get(w.key) ?? 0) + 1;
      if (n >= this.#options.maxBatch) return true;
      counts.set(w.key, n);
    }
    return false;
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  /**
   * The next batch: the key of the item that is due first, then owners in turns (each owner's items in
   * arrival order, owners in the order of their oldest item).
   */
  #take(): Waiting<I, O>[] {
    const first = this.#waiting.reduce((a, b) =>
      Math.min(b.arrived + this.#options.windowMs, b.deadline) <
      Math.min(a.arrived + this.#options.windowMs, a.deadline)
        ? b
        : a,
    );
    const byOwner = new Map<unknown, Waiting<I, O>[]>();
    for (const w of this.#waiting) {
      if (w.key !== first.key) continue;
      byOwner.set(w.owner, [...(byOwner.get(w.owner) ?? []), w]);
    }
    const lanes = [...byOwner.values()];
    const batch: Waiting<I, O>[] = [];
    for (let round = 0; batch.length < this.#options.maxBatch; round++) {
      const before = batch.length;
      for (const lane of lanes) {
        const next = lane[round];
        if (next && batch.length < this.#options.maxBatch) batch.push(next);
      }
      if (batch.length === before) break;
    }
    // The item that made the batch due (window or deadline) is never left for the next one.
    if (!batch.includes(first)) batch[batch.length - 1] = first;
    const taken = new Set(batch);
    const rest = this.#waiting.filter((w) => !taken.has(w));
    this.#waiting.splice(0, this.#waiting.length, ...rest);
    return batch;
  }

  async #flush(): Promise<void> {
    this.#running = true;
    const batch = this.#take();
    try {
      await this.#runBatch(batch);
    } finally {
      // The next batch is formed on the next turn of the event loop: a model run that blocks the thread
      // (onnxruntime-node on the CPU) leaves the I/O that finished meanwhile (decoded images of other
      // requests) unprocessed, and those items belong in the next batch rather than the one after.
      setImmediate(() => {
        this.#running = false;
        this.#plan();
      });
    }
  }

  async #runBatch(batch: Waiting<I, O>[]): Promise<void> {
    this.#batches++;
    this.#items += batch.length;
    const now = performance.now();
    this.#options.onBatch?.(
      batch.length,
      batch.map((w) => now - w.queuedAt),
    );
    let results: (O | Error)[];
    try {
      results = await this.#options.run(batch.map((w) => w.item));
      if (results.length !== batch.length) {
        throw new Error(`batch run answered ${results.length} results for ${batch.length} items`);
      }
    } catch (err) {
      if (batch.length === 1) {
        const [only] = batch as [Waiting<I, O>];
        this.#settle(only, () => only.reject(err));
        return;
      }
      // Which item broke the batch is unknown: each runs again on its own and answers for itself.
      for (const w of batch) if (!w.settled) await this.#runBatch([w]);
      return;
    }
    batch.forEach((w, i) => {
      const result = results[i] as O | Error;
      this.#settle(w, () => (result instanceof Error ? w.reject(result) : w.resolve(result)));
    });
  }

  #settle(entry: Waiting<I, O>, answer: () => void): void {
    if (entry.settled) return;
    entry.settled = true;
    entry.detach();
    answer();
  }
}
