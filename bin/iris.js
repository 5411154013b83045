#!/usr/bin/env node
// `iris`: runs the compiled CLI (dist/, from `npm run build`) when it is there, with no TypeScript at run
// time (a production install has no tsx). In a checkout whose src/ changed after the build, the source
// runs through tsx instead, so a stale dist/ never hides an edit.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/cli/index.js', import.meta.url));
const source = fileURLToPath(new URL('../src/', import.meta.url));

function changedSinceBuild() {
  if (!existsSync(source)) return false;
  const built = statSync(compiled).mtimeMs;
  return readdirSync(source, { recursive: true }).some((f) => statSync(`${source}${f}`).mtimeMs > built);
}

async function tsx() {
  try {
    return await import('tsx/esm/api');
  } catch {
    return undefined;
  }
}

const built = existsSync(compiled);
const loader = !built || changedSinceBuild() ? await tsx() : undefined;
if (loader) {
  loader.register();
  await import('../src/cli/index.ts');
} else if (built) {
  await import('../dist/cli/index.js');
} else {
  process.stderr.write('error: iris is not built: run `npm run build` (or `npm ci` for the development tools)\n');
  process.exitCode = 1;
}
