/**
 * Hooks that record a backend's vision-encoder runs (their sizes) and let a test wait until `n` images or
 * frames in all have joined its batcher, so a test knows a batch is waiting before it cancels or adds more.
 */
export function visionRecorder() {
  const runs: number[] = [];
  let joined = 0;
  const waiters: { n: number; resolve(): void }[] = [];
  const hooks = {
    onVisionRun: (n: number) => {
      runs.push(n);
    },
    onVisionQueued: (n: number) => {
      joined += n;
      for (const w of waiters.filter((w) => joined >= w.n)) w.resolve();
    },
  };
  const queued = (n: number) =>
    joined >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }));
  return { runs, hooks, queued };
}
