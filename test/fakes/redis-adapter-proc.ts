/**
 * An adapter process for tests: the real composition root (createApp) with IRIS_REDIS_URL set, driven from
 * argv. Prints one JSON line per answer, then exits.
 *   tags N        N /tags requests (one red image) as the local CLI user, all at once
 * Env: REDIS_URL, PREFIX, QUOTA (jobs per hour per user).
 */

import { createApp } from '../../src/app.js';
import { runCliRequest } from '../../src/cli/request.js';
import { loadConfig } from '../../src/config.js';
import { solidPng } from './images.js';
import { quietLog } from './redis-app.js';

const config = loadConfig({
  env: { IRIS_REDIS_URL: process.env.REDIS_URL },
  overrides: {
    'queue.prefix': process.env.PREFIX ?? 'iris',
    'scheduler.perUser.jobs': Number(process.env.QUOTA ?? 60),
    'scheduler.perUserConcurrent': 50,
  },
});
const app = createApp(config, { log: quietLog() });
const [mode, a = ''] = process.argv.slice(2);
const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
if (mode === 'tags') {
  const data = await solidPng('#f00');
  const replies = await Promise.all(
    Array.from({ length: Number(a) }, () =>
      runCliRequest(app, { command: 'tags', args: { labels: 'red' }, images: [{ name: 'r.png', data }] }),
    ),
  );
  for (const r of replies) print({ text: r.text, code: r.error?.code });
}
await app.stop();
process.exit(0);
