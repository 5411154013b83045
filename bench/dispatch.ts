/**
 * `npm run bench -- dispatch [requests]`: what the dispatch funnel itself costs, through the playground's
 * request path (a typed line → BotRequest, the playground's responder writing into its channel with an
 * event stream listening) with an instant backend, the default config and the in-process executor.
 *
 * Two runs of 1,000 requests from 50 users:
 * - paced: one request every millisecond (round robin over the users), so the figures are the funnel's
 *   overhead per request (options, parse, quota, queue, run, reply) rather than a backlog it was handed;
 * - closed loop: each user sends their next request when the last one is answered, 50 at a time: jobs/s.
 * The last line is `dispatch overhead: p50 X ms, p99 Y ms` (the paced run; goal p50 < 5 ms, p99 < 20 ms).
 */
import { Writable } from 'node:stream';
import { mediaSettings } from '../src/app.js';
import { Channel } from '../src/bot/playground/channel.js';
import { PlaygroundResponder } from '../src/bot/playground/responder.js';
import { CONVERSATION, PLATFORM, parseTyped } from '../src/bot/playground/translate.js';
import { loadConfig } from '../src/config.js';
import { defineCommand } from '../src/contracts/command.js';
import type { BotRequest } from '../src/contracts/request.js';
import { Dispatcher } from '../src/core/dispatch.js';
import { createLogger } from '../src/core/log.js';
import { MemoryMapStore } from '../src/core/memory.js';
import { Scheduler } from '../src/core/scheduler.js';
import { fakeBackends } from '../test/fakes/backends.js';

const USERS = 50;

/** A command on the gpu queue whose backend answers at once. */
const instant = defineCommand<{ labels: string[] }>({
  name: 'instant',
  description: 'tags nothing, at once',
  options: [{ name: 'labels', type: 'string', description: 'labels' }],
  queue: 'gpu',
  async parse({ args }) {
    return { labels: String(args.labels ?? 'x').split(',') };
  },
  async run(input, ctx) {
    const tagger = await ctx.backend('tag');
    await tagger.run({ images: [], labels: input.labels }, { signal: ctx.signal });
    return { text: 'ok' };
  },
});

function setup() {
  const config = loadConfig({
    env: {},
    // The defaults, but the one playground conversation carries every user's requests.
    overrides: { 'scheduler.perChannel.jobs': 0, 'memory.store': 'memory', 'log.level': 'error' },
  });
  const log = createLogger({
    level: 'error',
    destination: new Writable({
      write(_c, _e, done) {
        done();
      },
    }),
  });
  const dispatcher = new Dispatcher({
    commands: [instant],
    executor: new Scheduler(config.scheduler),
    registry: fakeBackends({ tag: async ({ images }) => images.map(() => ({ labels: [] })) }),
    config,
    log,
    media: mediaSettings(config),
    memory: new MemoryMapStore(config.memory),
  });
  const channel = new Channel({ messages: 200, images: 200, imageBytes: 1 << 20 });
  let events = 0;
  channel.subscribe(() => events++); // an open event stream
  let n = 0;
  /** One typed message from user `u`, as the playground turns it into a request; resolves with ms taken. */
  const send = async (u: number): Promise<{ ms: number; ok: boolean }> => {
    const start = performance.now();
    const typed = parseTyped(`/instant labels:red,green`, [instant]);
    if (!typed) throw new Error('not a command');
    const req: BotRequest = {
      id: `${Channel.newId()}${++n}`,
      platform: PLATFORM,
      conversation: CONVERSATION,
      user: { id: `u${u}`, name: `user ${u}` },
      signal: new AbortController().signal,
      command: typed.command,
      args: typed.args,
      images: [],
    };
    const res = new PlaygroundResponder(channel, {});
    let ok = false;
    const sent = res.send.bind(res);
    res.send = async (reply) => {
      ok = reply.text === 'ok';
      await sent(reply);
    };
    await dispatcher.handle(req, res);
    return { ms: performance.now() - start, ok };
  };
  return { send, events: () => events };
}

async function paced(send: (u: number) => Promise<{ ms: number; ok: boolean }>, total: number) {
  const runs: Promise<{ ms: number; ok: boolean }>[] = [];
  for (let i = 0; i < total; i++) {
    runs.push(send(i % USERS));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return Promise.all(runs);
}

async function closedLoop(send: (u: number) => Promise<{ ms: number; ok: boolean }>, total: number) {
  const results: { ms: number; ok: boolean }[] = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: USERS }, async (_, u) => {
      for (let i = u; i < total; i += USERS) results.push(await send(u));
    }),
  );
  return { results, seconds: (performance.now() - start) / 1000 };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

export async function run(args: string[]): Promise<void> {
  const total = Number(args[0] ?? 1000);
  const { send } = setup();
  await closedLoop(send, 200); // warm-up
  const loop = await closedLoop(send, total);
  const pacedRuns = await paced(send, total);
  const ms = (rs: { ms: number }[]) => rs.map((r) => r.ms).sort((a, b) => a - b);
  const loopMs = ms(loop.results);
  const pacedMs = ms(pacedRuns);
  const ok = (rs: { ok: boolean }[]) => rs.filter((r) => r.ok).length;
  console.log(
    `dispatch bench: ${total} requests from ${USERS} users, playground request path, instant backend`,
  );
  console.log(
    `closed loop (${USERS} at a time): ${ok(loop.results)}/${total} ok, ${(total / loop.seconds).toFixed(0)} jobs/s, p50 ${percentile(loopMs, 50).toFixed(2)} ms, p99 ${percentile(loopMs, 99).toFixed(2)} ms`,
  );
  console.log(`paced (1 request/ms): ${ok(pacedRuns)}/${total} ok`);
  console.log(
    `dispatch overhead: p50 ${percentile(pacedMs, 50).toFixed(2)} ms, p99 ${percentile(pacedMs, 99).toFixed(2)} ms`,
  );
}
