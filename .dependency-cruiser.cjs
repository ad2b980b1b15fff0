// The layers of src/, checked by the test command (bun run test):
// errors.ts knows nothing; db/ knows only errors.ts; http/ knows db/ and
// errors.ts but no feature; features use any of those; nothing is circular.
const FEATURES = '^src/(auth|tasks|lists|sync|events|reminders|mcp|health|docs|recurrence|webhooks|settings|idempotency)/'

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'errors-is-neutral',
      comment: 'src/errors.ts is the base every layer shares: it imports nothing of ours.',
      severity: 'error',
      from: { path: '^src/errors\\.ts$' },
      to: { path: '^src/' },
    },
    {
      name: 'db-knows-no-http-and-no-feature',
      comment: 'The data layer knows nothing of HTTP or of a feature.',
      severity: 'error',
      from: { path: '^src/db/' },
      to: { path: ['^src/http/', FEATURES, '^src/(app|index|config)\\.ts$'] },
    },
    {
      name: 'http-knows-no-feature',
      comment: 'Generic HTTP pieces serve every feature and depend on none.',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: [FEATURES, '^src/(app|index)\\.ts$'] },
    },
    {
      name: 'features-do-not-reach-the-app',
      severity: 'error',
      from: { path: FEATURES },
      to: { path: '^src/(app|index)\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    // TypeScript 7 has no compiler API for it to use: swc parses instead.
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
  },
}
