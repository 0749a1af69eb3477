import { defineConfig } from 'vitest/config';

// Database tests only, with their own PostgreSQL globalSetup, so they run before (and without) the
// project's full globalSetup: `npx vitest run --config tests/support/vitest.db.config.ts`.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    pool: 'forks',
    include: ['tests/db*.test.ts'],
    globalSetup: ['tests/support/postgresGlobalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
