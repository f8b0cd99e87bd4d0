import { defineConfig } from 'vitest/config';

/**
 * `npm run test:faults`: the fault suite (test/faults), one topology after the other. Each file
 * starts its own stack on free ports; nothing is shared with `npm test`.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 900_000,
    teardownTimeout: 120_000,
    setupFiles: ['test/support/quiet-runtime.ts'],
  },
});
