/**
 * The layer rules in .dependency-cruiser.cjs (run by `npm run lint`) catch each kind of bad import: a
 * small tree of files shaped like iris's, with one deliberately bad import per rule, cruised with the
 * project's own config.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '..');
const depcruise = join(repo, 'node_modules', '.bin', 'depcruise');
const config = join(repo, '.dependency-cruiser.cjs');

/** Each file imports the files listed (paths from the tree's root). */
type Tree = Record<string, string[]>;

function writeTree(tree: Tree): string {
  const root = mkdtempSync(join(tmpdir(), 'iris-layers-'));
  writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext' } }));
  for (const [file, imports] of Object.entries(tree)) {
    const lines = imports.map(
      (target, i) => `import * as m${i} from '${relative(file, target)}';\nexport const use${i} = m${i};`,
    );
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), `${lines.join('\n')}\nexport const here = '${file}';\n`);
  }
  return root;
}

/** `target` as an import specifier from `file` (both relative to the tree's root), `.ts` → `.js`. */
function relative(file: string, target: string): string {
  const from = dirname(file).split('/');
  const to = target.split('/');
  while (from.length > 0 && from[0] === to[0]) {
    from.shift();
    to.shift();
  }
  const up = from.length === 0 ? ['.'] : from.map(() => '..');
  return [...up, ...to].join('/').replace(/\.ts$/, '.js');
}

interface Violation {
  rule: string;
  from: string;
  to: string;
}

/** Cruises a tree the way `npm run lint` does: whether it failed, and the violations it printed. */
async function cruise(tree: Tree): Promise<{ failed: boolean; violations: Violation[] }> {
  const root = writeTree(tree);
  roots.push(root);
  const { failed, stdout } = await run(depcruise, ['src', 'test', 'bench', '--config', config], {
    cwd: root,
  }).then(
    (r) => ({ failed: false, stdout: r.stdout }),
    (err: { stdout: string }) => ({ failed: true, stdout: err.stdout }),
  );
  const violations = [...stdout.matchAll(/error ([\w-]+): (\S+) →\s+(\S+)/g)].map(([, rule, from, to]) => ({
    rule: rule as string,
    from: from as string,
    to: to as string,
  }));
  return { failed, violations };
}

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** Files every tree has; all of these imports are allowed. */
const LAYERED: Tree = {
  'src/contracts/request.ts': [],
  'src/contracts/command.ts': ['src/contracts/request.ts', 'src/core/memory.ts'],
  'src/core/memory.ts': ['src/contracts/request.ts'],
  'src/core/dispatch.ts': ['src/contracts/command.ts', 'src/core/memory.ts'],
  'src/commands/ask.ts': ['src/contracts/command.ts', 'src/core/memory.ts'],
  'src/models/vqa/groq.ts': ['src/contracts/request.ts', 'src/core/memory.ts'],
  'src/bot/discord/adapter.ts': ['src/contracts/request.ts', 'src/core/dispatch.ts'],
  'src/bot/slack/format.ts': ['src/contracts/request.ts'],
  'src/bot/index.ts': ['src/bot/discord/adapter.ts', 'src/bot/slack/format.ts'],
  'src/demo/colourworld/clip.ts': ['src/core/memory.ts'],
  'src/app.ts': ['src/commands/ask.ts', 'src/models/vqa/groq.ts', 'src/core/dispatch.ts'],
  'src/cli/start.ts': ['src/app.ts', 'src/bot/index.ts', 'src/demo/colourworld/clip.ts'],
  'test/start.test.ts': ['src/cli/start.ts', 'src/demo/colourworld/clip.ts'],
  'bench/tag.ts': ['src/demo/colourworld/clip.ts', 'src/models/vqa/groq.ts'],
};

test('a tree that keeps to the layers passes', async () => {
  const { failed, violations } = await cruise(LAYERED);
  assert.deepEqual(violations, []);
  assert.equal(failed, false);
});

test('each bad import fails the cruise under its rule', async () => {
  const bad: [rule: string, from: string, to: string][] = [
    ['adapters-only-translate', 'src/bot/discord/adapter.ts', 'src/commands/ask.ts'],
    ['adapters-only-translate', 'src/bot/slack/format.ts', 'src/models/vqa/groq.ts'],
    ['adapters-stay-apart', 'src/bot/slack/format.ts', 'src/bot/discord/adapter.ts'],
    ['commands-never-a-platform-or-backend', 'src/commands/ask.ts', 'src/bot/slack/format.ts'],
    ['commands-never-a-platform-or-backend', 'src/commands/ask.ts', 'src/models/vqa/groq.ts'],
    ['backends-never-a-command', 'src/models/vqa/groq.ts', 'src/commands/ask.ts'],
    ['backends-never-a-command', 'src/models/vqa/groq.ts', 'src/core/dispatch.ts'],
    ['core-below-commands-and-adapters', 'src/core/dispatch.ts', 'src/bot/slack/format.ts'],
    ['contracts-are-shared', 'src/contracts/request.ts', 'src/core/dispatch.ts'],
    ['demo-only-for-cli-tests-benches', 'src/core/memory.ts', 'src/demo/colourworld/clip.ts'],
    ['demo-only-for-cli-tests-benches', 'src/app.ts', 'src/demo/colourworld/clip.ts'],
    ['app-below-cli', 'src/app.ts', 'src/cli/start.ts'],
    ['product-never-imports-tests', 'src/commands/ask.ts', 'test/start.test.ts'],
  ];
  const tree: Tree = structuredClone(LAYERED);
  for (const [, from, to] of bad) tree[from]?.push(to);
  const { failed, violations } = await cruise(tree);
  assert.equal(failed, true);
  for (const [rule, from, to] of bad) {
    assert.ok(
      violations.some((v) => v.rule === rule && v.from === from && v.to === to),
      `${rule}: ${from} → ${to} not reported (got ${JSON.stringify(violations)})`,
    );
  }
});

test('an import cycle fails the cruise', async () => {
  const tree: Tree = { ...structuredClone(LAYERED), 'src/core/memory.ts': ['src/core/dispatch.ts'] };
  const { failed, violations } = await cruise(tree);
  assert.equal(failed, true);
  assert.ok(violations.some((v) => v.rule === 'no-circular' && v.from.startsWith('src/core/')));
});
