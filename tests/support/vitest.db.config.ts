import { defineConfig } from 'vitest/config';

// Database tests only, with their own PostgreSQL globalSetup, so they run before (and without) the
// project's full globalSetup: `npx vitest run --config tests/support/vitest.db.config.ts`.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    pool: 'forks',
    include: ['tests/db*.test.ts'],
    globalSetup: ['tests/support/postgresGlobalSetup.ts'],
    // Deadlines, not speed limits: tests wait for conditions. TEST_TIMEOUT_MS and PATIENCE_MS of
    // tests/support/patience.ts (not imported: Vite's config loader wants no extensionless imports).
    testTimeout: 600_000,
    hookTimeout: 600_000,
    expect: { poll: { timeout: 180_000, interval: 100 } },
  },
});
