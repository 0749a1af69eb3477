/**
 * The emulator's clock: wall-clock time plus a persisted offset that tests move forward with
 * POST /admin/clock/advance, so jobs can be advanced without sleeping.
 */
import type { Store } from './store';

export interface Clock {
  now(): number;
  iso(): string;
  advance(ms: number): void;
}

export function createClock(store: Store, wallClock: () => number = Date.now): Clock {
  const clock: Clock = {
    now: () => wallClock() + store.state.clockOffsetMs,
    iso: () => new Date(clock.now()).toISOString(),
    advance(ms) {
      store.state.clockOffsetMs += ms;
    },
  };
  return clock;
}
