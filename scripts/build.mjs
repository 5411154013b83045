// `npm run build`: compiles src/ to dist/ (tsconfig.build.json) and copies the files the compiled code
// reads beside itself (the playground's page). bin/iris.js then runs dist/ without tsx.
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const root = new URL('..', import.meta.url);
const at = (path) => new URL(path, root);
rmSync(at('dist'), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', at('tsconfig.build.json').pathname], { stdio: 'inherit' });
cpSync(at('src/bot/playground/public'), at('dist/bot/playground/public'), { recursive: true });
