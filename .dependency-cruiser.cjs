/**
 * The layer rules of docs/architecture.md, checked by `npm run lint` (and so by CI).
 * contracts ← every layer; core ← commands, adapters, backends; adapters translate only; the demo models
 * are for the CLI, tests and benches.
 */
const ADAPTERS = '^src/bot/';
const COMMANDS = '^src/commands/';
const BACKENDS = '^src/models/';
const CORE = '^src/core/';
const CONTRACTS = '^src/contracts/';
const DEMO = '^src/demo/';
const CLI = '^src/cli/';
const COMPOSITION = '^src/app[.]ts$';
const DISPATCHER = '^src/core/(dispatch|jobs|scheduler|quota)[.]ts$|^src/core/redis/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles hide layering mistakes and break module start order.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'contracts-are-shared',
      severity: 'error',
      comment: 'src/contracts is what every layer may import: it depends on no layer above the core stores.',
      from: { path: CONTRACTS },
      to: { path: [ADAPTERS, COMMANDS, BACKENDS, DEMO, CLI, COMPOSITION, DISPATCHER] },
    },
    {
      name: 'core-below-commands-and-adapters',
      severity: 'error',
      comment: 'The core is what commands, adapters and backends build on; it names none of them.',
      from: { path: CORE },
      to: { path: [ADAPTERS, COMMANDS, BACKENDS, DEMO, CLI, COMPOSITION] },
    },
    {
      name: 'adapters-only-translate',
      severity: 'error',
      comment: 'Adapters (src/bot) translate platform <-> contracts and call the core; never a command or a backend.',
      from: { path: ADAPTERS },
      to: { path: [COMMANDS, BACKENDS, DEMO, CLI, COMPOSITION] },
    },
    {
      name: 'adapters-stay-apart',
      severity: 'error',
      comment: 'One platform never reaches into another platform.',
      from: { path: '^src/bot/([^/]+)/' },
      to: { path: '^src/bot/', pathNot: ['^src/bot/$1/'] },
    },
    {
      name: 'commands-never-a-platform-or-backend',
      severity: 'error',
      comment: 'Commands use contracts and the core; a backend is reached through CommandContext.backend().',
      from: { path: COMMANDS },
      to: { path: [ADAPTERS, BACKENDS, DEMO, CLI, COMPOSITION, DISPATCHER] },
    },
    {
      name: 'backends-never-a-command',
      severity: 'error',
      comment: 'Backends implement the model contracts; they know no command, platform or dispatcher.',
      from: { path: BACKENDS },
      to: { path: [ADAPTERS, COMMANDS, DEMO, CLI, COMPOSITION, DISPATCHER] },
    },
    {
      name: 'app-below-cli',
      severity: 'error',
      comment: 'src/app.ts composes the layers; the CLI starts it, never the other way round.',
      from: { path: COMPOSITION },
      to: { path: CLI },
    },
    {
      name: 'demo-only-for-cli-tests-benches',
      severity: 'error',
      comment: 'The colour-world demo models are no part of the product: only the CLI, tests and benches load them.',
      from: { pathNot: [DEMO, CLI, '^test/', '^bench/'] },
      to: { path: DEMO },
    },
    {
      name: 'product-never-imports-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    includeOnly: '^(src|test|bench)/',
    exclude: { path: '^src/bot/playground/public/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
