/**
 * A worker process for tests that need real process death: the real IrisWorker with the fake tagger and the
 * `work` test command. Prints `ready`, then `start <label>` as each work job begins. Env: REDIS_URL, PREFIX,
 * SLOTS, MAX_STALLS.
 */
import { redisConfig, startFakeWorker, TEST_COMMANDS } from './redis-app.js';

const config = redisConfig(process.env.REDIS_URL ?? '', {
  'queue.prefix': process.env.PREFIX ?? 'iris',
  'queue.maxStalls': Number(process.env.MAX_STALLS ?? 2),
});
const commands = TEST_COMMANDS.map((c) =>
  c.name === 'work'
    ? {
        ...c,
        run: (input: { label: string }, ctx: Parameters<typeof c.run>[1]) => {
          process.stdout.write(`start ${input.label}\n`);
          return c.run(input, ctx);
        },
      }
    : c,
);
const stop = await startFakeWorker(config, { slots: Number(process.env.SLOTS ?? 1), commands });
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void stop().then(() => process.exit(0));
});
