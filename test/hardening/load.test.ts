/**
 * Load: 500 slash commands from 50 users through the real Slack adapter (Bolt's HTTP
 * receiver, signed requests) and the fake Slack Web API, all on loopback. Three rounds, each with its own
 * 50 users: an instant job with every user sending 10 one after another (the per-user quota is 8), a slow
 * job (a few ms on one slot) with every user sending 10 at once, then the instant round again to see that
 * memory came back. Asserted: every request gets exactly one answer (a result, or a refusal in words), the
 * queue never holds more than scheduler.highWater jobs, quota refusals say so, heap growth stays small.
 * Figures are printed as test diagnostics; nothing here asserts a duration.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type AnyCommand, defineCommand } from '../../src/contracts/command.js';
import { type Harness, startHarness } from '../bot/slack/harness.js';

const USERS = 50;
const PER_USER = 10;
const QUOTA = 8;
const HIGH_WATER = 60;
const SLOW_MS = 25;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The job: `work id:…` answers "done …" after `delayMs` (the round's backend), on the shared GPU queue. */
function workCommand(job: { delayMs: number; gate?: Promise<void> }): AnyCommand {
  return defineCommand<{ id: string }>({
    name: 'work',
    description: 'Answers "done <id>" after the configured delay.',
    options: [{ name: 'id', type: 'string', description: 'Request id.', required: true }],
    queue: 'gpu',
    async parse({ args }) {
      return { id: String(args.id) };
    },
    async run({ id }, ctx) {
      await job.gate;
      if (job.delayMs > 0) await new Promise((r) => setTimeout(r, job.delayMs));
      if (ctx.signal.aborted) throw ctx.signal.reason;
      return { text: `done ${id}` };
    },
  });
}

/** The round's backend: how long a job takes, and (burst) a gate holding jobs until every request is in. */
const job: { delayMs: number; gate?: Promise<void> } = { delayMs: 0 };
let h: Harness;
before(async () => {
  h = await startHarness({
    commands: [workCommand(job)],
    overrides: {
      'scheduler.highWater': HIGH_WATER,
      'scheduler.perUserConcurrent': 3,
      'scheduler.perUser': { jobs: QUOTA, windowSeconds: 3600 },
      'scheduler.perChannel': { jobs: 0, windowSeconds: 3600 },
    },
  });
});
after(() => h.stop());

const REFUSALS: Record<string, RegExp> = {
  quota: /^You've reached your limit of 8 jobs per hour — try again in \d+ min\.$/,
  too_many_jobs: /^You already have \d+ jobs running or queued — wait for one to finish\.$/,
  busy: /^iris is busy — \d+ jobs ahead\. Try again in a minute\.$/,
};

interface RoundFigures {
  sent: number;
  results: number;
  refused: Record<string, number>;
  maxQueued: number;
  seconds: number;
}

/**
 * Sends PER_USER commands for each of USERS users (`burst`: all at once; else each user waits for an answer
 * before the next) and waits until every one is answered. Answers are counted per user: result messages
 * carry the request id, refusals are ephemeral messages to that user.
 */
async function round(name: string, burst: boolean): Promise<RoundFigures> {
  const users = Array.from({ length: USERS }, (_, i) => `U${name}${String(i).padStart(2, '0')}`);
  const ephemerals = (user: string) =>
    h.fake.callsTo('chat.postEphemeral').filter((c) => c.args.user === user);
  const results = (user: string) =>
    h.fake.messages.filter((m) => m.text?.startsWith(`done ${user}-`)).map((m) => m.text as string);
  const answered = (user: string) => ephemerals(user).length + results(user).length;

  let maxQueued = 0;
  const sampler = setInterval(() => {
    maxQueued = Math.max(maxQueued, h.scheduler.stats().queues.gpu?.queued ?? 0);
  }, 2);
  const send = async (user: string, i: number) => {
    const res = await h.command({
      command: '/work',
      text: `id:${user}-${i}`,
      user_id: user,
      channel_id: `C${name}${i % 5}`,
    });
    assert.equal(res.status, 200, 'Bolt acked the command');
  };
  const waitAnswers = async (user: string, n: number) => {
    for (let tries = 0; answered(user) < n; tries++) {
      if (tries > 1500) {
        const id = `${user}-${n - 1}`;
        const trail = [
          ...h.fake.calls
            .filter((c) => JSON.stringify(c.args).includes(id))
            .map((c) => `${c.method} ${JSON.stringify(c.args)}\n`),
          ...h.fake.messages
            .filter((m) => JSON.stringify(m).includes(id))
            .map((m) => `MSG ${JSON.stringify(m)}\n`),
          ...h.logs.filter((l) => l.includes(id) || /"level":(40|50)/.test(l)),
        ].slice(-30);
        throw new Error(
          `${user}: ${answered(user)} of ${n} answered; queues ${JSON.stringify(h.scheduler.stats())}; log:\n${trail.join('')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  // Burst: the jobs wait at a gate until every request is either answered or in the queue, so the queue
  // fills to its high-water mark however fast this machine drains it; then they run SLOW_MS each.
  let open = () => {};
  job.gate = burst ? new Promise<void>((resolve) => (open = resolve)) : undefined;
  const settled = async () => {
    for (let tries = 0; ; tries++) {
      const { queued = 0, running = 0 } = h.scheduler.stats().queues.gpu ?? {};
      const answers = users.reduce((sum, user) => sum + answered(user), 0);
      if (answers + queued + running >= USERS * PER_USER) return open();
      if (tries > 3000) throw new Error(`burst: ${answers} answered, ${queued + running} queued`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const started = process.hrtime.bigint();
  try {
    if (burst) {
      for (const user of users) for (let i = 0; i < PER_USER; i++) void send(user, i);
      await settled();
    }
    await Promise.all(
      users.map(async (user) => {
        for (let i = 0; i < PER_USER && !burst; i++) {
          await send(user, i);
          await waitAnswers(user, i + 1);
        }
        await waitAnswers(user, PER_USER);
      }),
    );
  } finally {
    clearInterval(sampler);
    open();
    job.gate = undefined;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await new Promise((r) => setTimeout(r, 100)); // a duplicate answer would show up now

  const refused: Record<string, number> = {};
  let resultCount = 0;
  for (const user of users) {
    const mine = results(user);
    assert.equal(new Set(mine).size, mine.length, `${user}: no request answered twice`);
    assert.equal(answered(user), PER_USER, `${user}: exactly one answer per request`);
    resultCount += mine.length;
    for (const call of ephemerals(user)) {
      const text = String(call.args.text);
      const code = Object.keys(REFUSALS).find((c) => REFUSALS[c]?.test(text));
      assert.ok(code, `${user} got a refusal in words: ${JSON.stringify(text)}`);
      refused[code] = (refused[code] ?? 0) + 1;
    }
  }
  return { sent: USERS * PER_USER, results: resultCount, refused, maxQueued, seconds };
}

/** Heap in use once the test's own records (the fake Slack's calls and messages, the log lines) are dropped. */
function heapMB(): number {
  h.fake.calls.length = 0;
  h.fake.messages.length = 0;
  h.logs.length = 0;
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

test('500 requests from 50 users, instant then slow (burst) then instant: all answered, queue bounded, quota in words, heap flat', async (t) => {
  job.delayMs = 0;
  const first = await round('a', false);
  const heapAfterFirst = heapMB();

  job.delayMs = SLOW_MS;
  const burst = await round('b', true);
  heapMB(); // drops the burst's records too

  job.delayMs = 0;
  const third = await round('c', false);
  const heapAfterThird = heapMB();

  const show = (label: string, r: RoundFigures) =>
    t.diagnostic(
      `${label}: ${r.sent} sent, ${r.results} results, refused ${JSON.stringify(r.refused)}, max queued ${r.maxQueued}, ${(r.sent / r.seconds).toFixed(0)} requests/s`,
    );
  show('instant, sequential per user', first);
  show(`slow (${SLOW_MS} ms, 1 slot), burst`, burst);
  show('instant again', third);
  t.diagnostic(
    `heap after round 1 ${heapAfterFirst.toFixed(1)} MB, after round 3 ${heapAfterThird.toFixed(1)} MB (+${(heapAfterThird - heapAfterFirst).toFixed(1)} MB)`,
  );

  // Sequential users: nothing but the quota stops them — exactly QUOTA results each, the rest refused in words.
  for (const r of [first, third]) {
    assert.equal(r.results, USERS * QUOTA);
    assert.deepEqual(r.refused, { quota: USERS * (PER_USER - QUOTA) });
  }
  // The burst: the queue held at most highWater jobs; what did not fit was refused in words, not dropped.
  // (stats count a job handed to a free slot but not started yet as queued: highWater waiting + 1 slot.)
  assert.ok(burst.maxQueued <= HIGH_WATER + 1, `max queued ${burst.maxQueued} ≤ ${HIGH_WATER} + 1`);
  assert.ok(burst.maxQueued > 0, 'the slow round really queued');
  assert.ok((burst.refused.too_many_jobs ?? 0) > 0, 'users past their concurrent cap were told');
  assert.ok((burst.refused.busy ?? 0) > 0, 'requests past the high-water mark were told iris is busy');
  assert.equal(
    burst.results + Object.values(burst.refused).reduce((a, b) => a + b, 0),
    burst.sent,
    'every burst request was answered',
  );
  // Memory: 1,000 more requests from 100 new users leave the heap where it was (a leak of one response
  // object per request would already be several MB).
  assert.ok(
    heapAfterThird - heapAfterFirst < 8,
    `heap grew ${(heapAfterThird - heapAfterFirst).toFixed(1)} MB`,
  );
  assert.equal(h.scheduler.stats().queues.gpu?.running, 0);
  assert.equal(h.scheduler.stats().queues.gpu?.queued, 0);
});
