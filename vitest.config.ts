import { defineConfig } from 'vitest/config';

/** The fast tier: pure rules, and workflow logic over fake activities; no PostgreSQL, no dev server. */
const UNIT = ['test/unit/**/*.test.ts'];
const WORKFLOWS = ['test/workflows/**/*.test.ts'];
/** The SDK's runtime logs warnings and errors only, so test output stays readable. */
const QUIET = 'test/support/quiet-runtime.ts';

export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    // `npm test` runs every project; `npm run test:unit` the fast tier (unit and workflows) alone.
    // Each project's global setup runs only when one of its files is queued.
    projects: [
      // Pure rules load no Temporal runtime at all.
      { extends: true, test: { name: 'unit', include: UNIT } },
      { extends: true, test: { name: 'workflows', include: WORKFLOWS, globalSetup: ['test/support/fast-setup.ts'], setupFiles: [QUIET] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          // The fault suite (test/faults) runs on its own: npm run test:faults.
          exclude: [...UNIT, ...WORKFLOWS, 'test/faults/**'],
          // One Temporal dev server and one PostgreSQL for the whole run; each file isolates itself by
          // task queue, ids and schema (test/support/harness.ts).
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles: [QUIET],
        },
      },
    ],
  },
});
