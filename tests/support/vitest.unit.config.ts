import { defineConfig } from 'vitest/config';

// For tests that need no shared servers: the main config's globalSetup (Temporal, PostgreSQL) is left out.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    pool: 'forks',
    include: ['tests/**/*.test.ts'],
    // Deadlines, not speed limits: tests wait for conditions. TEST_TIMEOUT_MS and PATIENCE_MS of
    // tests/support/patience.ts (not imported: Vite's config loader wants no extensionless imports).
    testTimeout: 600_000,
    hookTimeout: 600_000,
    expect: { poll: { timeout: 180_000, interval: 100 } },
  },
});
