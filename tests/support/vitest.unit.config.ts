import { defineConfig } from 'vitest/config';

// For tests that need no shared servers: the main config's globalSetup (Temporal, PostgreSQL) is left out.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    pool: 'forks',
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
