import { defineConfig } from 'vitest/config';

// The Temporal native bridge does not run in worker threads, so test files run in forked processes.
// Shared servers (Temporal dev server, PostgreSQL) start once per run in globalSetup, on free loopback ports.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/globalSetup.ts'],
    // Deadlines, not speed limits: tests wait for conditions. TEST_TIMEOUT_MS and PATIENCE_MS of
    // tests/support/patience.ts (not imported: Vite's config loader wants no extensionless imports).
    testTimeout: 600_000,
    hookTimeout: 600_000,
    expect: { poll: { timeout: 180_000, interval: 100 } },
    maxWorkers: 2,
    reporters: ['default', './tests/support/summaryReporter.ts'],
  },
});
