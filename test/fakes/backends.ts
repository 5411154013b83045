import type {
  Backend,
  BackendProvider,
  ModelStatus,
  RunOptions,
  TaskIO,
  TaskName,
} from '../../src/contracts/backend.js';
import { queueOf } from '../../src/models/tasks.js';

type Runners = { [T in TaskName]?: (input: TaskIO[T]['in'], opts: RunOptions) => Promise<TaskIO[T]['out']> };

/**
 * Backends for dispatch tests: each task runs the function the test gives; a task the test did not
 * implement throws, so a test can never pass by accident through a backend it forgot.
 */
export function fakeBackends(
  runners: Runners,
): BackendProvider & { calls: { task: TaskName; input: unknown }[] } {
  const calls: { task: TaskName; input: unknown }[] = [];
  return {
    calls,
    queueOf,
    async get<T extends TaskName>(task: T): Promise<Backend<T>> {
      const run = runners[task];
      if (!run) throw new Error(`fake backends: task ${task} is not implemented by this test`);
      return {
        task,
        id: 'fake',
        model: 'fake',
        run: (input, opts) => {
          calls.push({ task, input });
          return run(input, opts);
        },
        dispose: async () => {},
      };
    },
    status(): ModelStatus[] {
      return Object.keys(runners).map((task) => ({
        task: task as TaskName,
        backend: 'fake',
        model: 'fake',
        state: 'loaded',
      }));
    },
  };
}

/** A promise the test resolves or rejects by hand (for holding a GPU slot). */
export function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

type SafetyRunner = (input: TaskIO['safety']['in'], opts: RunOptions) => Promise<TaskIO['safety']['out']>;

/** A safety classifier that finds every image harmless (for tests about something else). */
export const neutralSafety: SafetyRunner = async ({ images }) =>
  images.map(() => ({ scores: { Neutral: 0.97, Drawing: 0.01, Porn: 0.01, Hentai: 0.005, Sexy: 0.005 } }));

/** A safety classifier whose `n`-th call (from 0) scores `scores(n)`: the threshold path, injected. */
export function scriptedSafety(scores: (n: number) => Record<string, number>): SafetyRunner {
  let n = 0;
  return async ({ images }) => images.map(() => ({ scores: scores(n++) }));
}
