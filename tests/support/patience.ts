/**
 * How long tests wait. No test measures how fast something happens (speed belongs in a benchmark); a test
 * waits for a condition and gives up only after a deadline that no correct run on a busy machine reaches.
 * A passing test never waits a deadline out, so they are set by the slowest *correct* behaviour, not by a
 * typical run. The vitest configs repeat the two numbers (their loader takes no extensionless import).
 */

/**
 * The deadline for one thing that happens on its own: a workflow reaching a step, a mail arriving, a
 * visibility update, a worker answering a query or an Update. Its floor is the slowest recovery the
 * product has under load: an activity task lost on its way to a starved worker (recorded as started, never
 * run) is dispatched again only when its start-to-close timeout (2 minutes, workflows/activityProxy.ts)
 * expires, plus the first retry interval.
 */
export const PATIENCE_MS = 180_000;

/** A test or a hook may wait for several such things in a row. */
export const TEST_TIMEOUT_MS = 600_000;
