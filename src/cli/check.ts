import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { createModelRegistry } from '../app.js';
import type { Config } from '../config.js';
import { judge, roundedScores } from '../core/safety-verdict.js';
import { UserError } from '../errors.js';

export interface CheckCliOptions {
  json?: boolean;
  out: (line: string) => void;
}

async function readImageFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (cause) {
    throw new UserError(
      'bad_image',
      `Cannot read ${basename(file)}: ${(cause as NodeJS.ErrnoException).code ?? 'unreadable'}.`,
      {
        cause,
      },
    );
  }
}

/**
 * `iris check IMAGE…`: the safety classifier's classes and scores for each image, and whether config
 * `safety` (classes, threshold) would flag it. `--json`: one `{"file":…,"safe":…,"scores":{…}}` per line.
 * Runs the classifier of tasks.safety directly (no queue, no platform). Returns the exit code.
 */
export async function checkCli(config: Config, files: string[], opts: CheckCliOptions): Promise<number> {
  const registry = createModelRegistry(config);
  try {
    const classifier = await registry.get('safety');
    const signal = new AbortController().signal;
    for (const file of files) {
      const bytes = await readImageFile(file);
      const [result] = await classifier.run({ images: [bytes] }, { signal });
      const scores = roundedScores(result?.scores ?? {});
      const verdict = judge(result?.scores ?? {}, config.safety);
      if (opts.json) {
        opts.out(JSON.stringify({ file, safe: !verdict.flagged, scores }));
        continue;
      }
      const bar = `${config.safety.classes.join('+')} ${verdict.score.toFixed(4)} ${verdict.flagged ? '≥' : '<'} ${config.safety.threshold}`;
      opts.out(
        `${file}: ${verdict.flagged ? 'FLAGGED' : 'safe'} (${bar}; ${classifier.id} ${classifier.model})`,
      );
      for (const [name, score] of Object.entries(scores))
        opts.out(`  ${name.padEnd(10)} ${score.toFixed(4)}`);
    }
    return 0;
  } finally {
    await registry.release();
  }
}
