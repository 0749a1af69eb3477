import { defineConfig } from 'vitest/config';

// The Temporal native bridge does not run in worker threads, so test files run in forked processes.
// Shared servers (Temporal dev server, PostgreSQL) start once per run in globalSetup, on free loopback ports.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    maxWorkers: 2,
    reporters: ['default', './tests/support/summaryReporter.ts'],
  },
});
