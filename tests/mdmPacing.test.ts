/**
 * MDM pacing on a real PostgreSQL (mdm/pacing.ts, db/mdmCallSlotsRepo.ts): two limiters on two pools, as
 * two worker replicas, never grant more than N calls per sliding window between them, counting a call
 * until it finishes; a write counts in both buckets; a caller waits for a slot, and past the wait limit
 * gets a retryable MdmRateLimitedError with retryAfterMs; a slot never released stops counting after its
 * lease; the paced port takes a slot of the right kind around every method.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createPool } from '../db/pool';
import { MdmRateLimitedError, MdmUnavailableError } from '../mdm/errors';
import { createPacedMdm } from '../mdm/pacedMdm';
import { createMdmCallLimiter, type MdmCallKind, type MdmCallLimiter, type MdmPacingOptions } from '../mdm/pacing';
import type { MdmPort } from '../mdm/port';
import { createTestDatabase, type TestDatabase } from './support/postgres';

const databases: TestDatabase[] = [];
afterEach(async () => {
  await Promise.all(databases.splice(0).map((db) => db.drop()));
});

/** A fresh database whose slot log is copied, grants and finishes alike, into `slot_log` (pruning aside). */
async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  databases.push(db);
  await db.pool.query(`
    CREATE TABLE slot_log (id bigint PRIMARY KEY, kind text NOT NULL, granted_at timestamptz NOT NULL,
                           counted_until timestamptz NOT NULL);
    CREATE FUNCTION log_slot() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO slot_log VALUES (NEW.id, NEW.kind, NEW.granted_at, NEW.counted_until)
        ON CONFLICT (id) DO UPDATE SET counted_until = EXCLUDED.counted_until;
      RETURN NEW;
    END $$;
    CREATE TRIGGER log_slot AFTER INSERT OR UPDATE ON mdm_call_slots FOR EACH ROW EXECUTE FUNCTION log_slot();`);
  return db;
}

interface LoggedSlot {
  kind: MdmCallKind;
  /** Microseconds since the epoch, database clock. */
  grantedUs: number;
  finishedUs: number;
}

async function slotLog(db: TestDatabase): Promise<LoggedSlot[]> {
  const { rows } = await db.pool.query<{ kind: MdmCallKind; granted_us: string; finished_us: string }>(
    `SELECT kind, (extract(epoch FROM granted_at) * 1e6)::bigint AS granted_us,
            (extract(epoch FROM counted_until) * 1e6)::bigint AS finished_us
       FROM slot_log ORDER BY granted_at`,
  );
  return rows.map((r) => ({ kind: r.kind, grantedUs: Number(r.granted_us), finishedUs: Number(r.finished_us) }));
}

/** The most grants in any window of `windowMs` ending at a grant (a sliding window). */
function mostGrantsPerWindow(slots: LoggedSlot[], windowMs: number): number {
  return Math.max(
    0,
    ...slots.map(
      (s) => slots.filter((o) => o.grantedUs <= s.grantedUs && o.grantedUs > s.grantedUs - windowMs * 1000).length,
    ),
  );
}

/**
 * The most calls an MDM could have seen within one window: at each grant, the calls granted no later that
 * had not finished a window before it. A request reaches the MDM between its grant and its finish.
 */
function mostCallsSeenPerWindow(slots: LoggedSlot[], windowMs: number): number {
  return Math.max(
    0,
    ...slots.map(
      (s) => slots.filter((o) => o.grantedUs <= s.grantedUs && o.finishedUs > s.grantedUs - windowMs * 1000).length,
    ),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One call through the limiter that takes `ms` at the "MDM". */
async function call(limiter: MdmCallLimiter, kind: MdmCallKind, ms: number): Promise<void> {
  const slot = await limiter.acquire(kind);
  await sleep(ms);
  await slot.release();
}

describe('MDM pacing shared through PostgreSQL', () => {
  it('two limiters on two pools never exceed N calls per sliding window together', async () => {
    const db = await database();
    const secondPool = createPool(db.url, 5, { applicationName: 'second-replica' });
    try {
      const rate = { calls: 5, windowMs: 300 };
      const waits: number[] = [];
      const options: MdmPacingOptions = { all: rate, writes: null, onWait: (e) => waits.push(e.waitMs) };
      const replicas = [createMdmCallLimiter(db.pool, options), createMdmCallLimiter(secondPool, options)];
      const callers = 12;
      const callsEach = 3;
      const started = Date.now();
      await Promise.all(
        replicas.flatMap((limiter) =>
          Array.from({ length: callers }, async (_, i) => {
            for (let n = 0; n < callsEach; n++) await call(limiter, i % 3 === 0 ? 'write' : 'read', (i * 7 + n) % 20);
          }),
        ),
      );
      const elapsed = Date.now() - started;

      const slots = await slotLog(db);
      const total = 2 * callers * callsEach;
      expect(slots).toHaveLength(total);
      expect(mostGrantsPerWindow(slots, rate.windowMs)).toBe(rate.calls); // reached, never passed
      expect(mostCallsSeenPerWindow(slots, rate.windowMs)).toBeLessThanOrEqual(rate.calls);
      // Both replicas were held back: 72 calls at 5 per 300 ms cannot finish in fewer than 14 windows.
      expect(waits.length).toBeGreaterThan(0);
      expect(elapsed).toBeGreaterThanOrEqual((total / rate.calls - 1) * rate.windowMs);
    } finally {
      await secondPool.end();
    }
  });

  it('counts a write in both buckets and a read in all only', async () => {
    const db = await database();
    const windowMs = 60_000;
    const limiter = createMdmCallLimiter(db.pool, {
      all: { calls: 4, windowMs },
      writes: { calls: 2, windowMs },
      maxWaitMs: 500,
    });
    await call(limiter, 'write', 0);
    await call(limiter, 'write', 0);
    const thirdWrite = await limiter.acquire('write').catch((e: unknown) => e);
    expect(thirdWrite).toBeInstanceOf(MdmRateLimitedError);
    expect((thirdWrite as Error).message).toMatch(/writes: 2 calls per/);

    await call(limiter, 'read', 0);
    await call(limiter, 'read', 0);
    const thirdRead = await limiter.acquire('read').catch((e: unknown) => e);
    expect(thirdRead).toBeInstanceOf(MdmRateLimitedError);
    expect((thirdRead as Error).message).toMatch(/all: 4 calls per/);

    // Past the wait limit: retryable, with how long until a slot frees (the window, less the time since).
    const err = thirdRead as MdmRateLimitedError;
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBeGreaterThan(windowMs - 30_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(windowMs + 1_000);
    expect((await slotLog(db)).map((s) => s.kind)).toEqual(['write', 'write', 'read', 'read']);
  });

  it('makes a caller wait until a slot leaves the window, counted from when the call finished', async () => {
    const db = await database();
    const rate = { calls: 1, windowMs: 400 };
    const waited: number[] = [];
    const limiter = createMdmCallLimiter(db.pool, { all: rate, writes: null, onWait: (e) => waited.push(e.waitMs) });
    const first = await limiter.acquire('read');
    const second = limiter.acquire('read');
    await sleep(150);
    await first.release(); // the first call ran 150 ms: the second may start only a window after that
    await (await second).release();

    const [a, b] = await slotLog(db);
    expect(waited.length).toBeGreaterThan(0);
    expect(a!.finishedUs - a!.grantedUs).toBeGreaterThanOrEqual(150_000);
    expect(b!.grantedUs - a!.finishedUs).toBeGreaterThanOrEqual(rate.windowMs * 1000);
    expect(mostCallsSeenPerWindow([a!, b!], rate.windowMs)).toBe(1);
  });

  it('gives every queued caller MdmRateLimitedError once the wait limit has passed', async () => {
    const db = await database();
    const limiter = createMdmCallLimiter(db.pool, {
      all: { calls: 1, windowMs: 60_000 },
      writes: null,
      maxWaitMs: 300,
    });
    await call(limiter, 'read', 0);
    const results = await Promise.all(
      Array.from({ length: 5 }, () => limiter.acquire('read').catch((e: unknown) => e)),
    );
    for (const result of results) {
      expect(result).toBeInstanceOf(MdmRateLimitedError);
      expect((result as MdmRateLimitedError).retryAfterMs).toBeGreaterThan(0);
    }
    expect(await slotLog(db)).toHaveLength(1);
  });

  it('stops counting a slot that was never released once its lease has ended (a replica died mid-call)', async () => {
    const db = await database();
    const rate = { calls: 1, windowMs: 200 };
    const leaseMs = 600;
    const limiter = createMdmCallLimiter(db.pool, { all: rate, writes: null, leaseMs, maxWaitMs: 5_000 });
    await limiter.acquire('write'); // never released
    await call(limiter, 'write', 0);
    const [dead, next] = await slotLog(db);
    expect(dead!.finishedUs - dead!.grantedUs).toBe(leaseMs * 1000);
    expect(next!.grantedUs - dead!.grantedUs).toBeGreaterThanOrEqual((leaseMs + rate.windowMs) * 1000);
  });

  it('asks nothing of the database when both limits are off', async () => {
    const db = await database();
    const limiter = createMdmCallLimiter(db.pool, { all: null, writes: null });
    await Promise.all(Array.from({ length: 20 }, (_, i) => call(limiter, i % 2 ? 'read' : 'write', 0)));
    expect(await slotLog(db)).toHaveLength(0);
  });

  it('limits writes only when the limit of all calls is off', async () => {
    const db = await database();
    const limiter = createMdmCallLimiter(db.pool, {
      all: null,
      writes: { calls: 1, windowMs: 60_000 },
      maxWaitMs: 200,
    });
    await call(limiter, 'write', 0);
    await expect(limiter.acquire('write')).rejects.toBeInstanceOf(MdmRateLimitedError);
    await call(limiter, 'read', 0);
    expect((await slotLog(db)).map((s) => s.kind)).toEqual(['write']);
  });
});

describe('the paced MDM port', () => {
  /** Records what each call acquired and whether it released before the next. */
  function recordingLimiter() {
    const events: string[] = [];
    const limiter: MdmCallLimiter = {
      acquire: async (kind) => {
        events.push(`acquire ${kind}`);
        return { release: async () => void events.push('release') };
      },
    };
    return { limiter, events };
  }

  const port = (overrides: Partial<MdmPort> = {}): MdmPort => ({
    getDevice: async () => null,
    findDevices: async () => [],
    registerDevice: async () => {
      throw new Error('not used');
    },
    sendCommand: async () => {
      throw new MdmUnavailableError('MDM down');
    },
    getCommandStatus: async () => null,
    listCommands: async () => [],
    listProfiles: async () => [],
    deleteDevice: async (deviceId) => ({ deviceId, alreadyGone: true }),
    ...overrides,
  });

  it('takes a read or a write slot around every method and releases it, failed calls included', async () => {
    const { limiter, events } = recordingLimiter();
    const paced = createPacedMdm(port(), limiter);
    expect(await paced.getDevice('d-1')).toBeNull();
    expect(await paced.findDevices({ serialNumber: 'S' })).toEqual([]);
    expect(await paced.getCommandStatus({ deviceId: 'd-1', idempotencyKey: 'k' })).toBeNull();
    expect(await paced.listCommands('d-1')).toEqual([]);
    expect(await paced.listProfiles('d-1')).toEqual([]);
    expect(await paced.deleteDevice('d-1', 'k')).toEqual({ deviceId: 'd-1', alreadyGone: true });
    await expect(
      paced.sendCommand({ deviceId: 'd-1', idempotencyKey: 'k', type: 'wipe', options: { keepEnrollmentData: true } }),
    ).rejects.toBeInstanceOf(MdmUnavailableError);
    expect(events).toEqual([
      ...Array.from({ length: 5 }, () => ['acquire read', 'release']).flat(),
      ...['acquire write', 'release', 'acquire write', 'release'],
    ]);
  });

  it('keeps cancelCommand absent when the MDM has none, and paces it as a write when it has', async () => {
    const { limiter, events } = recordingLimiter();
    expect(createPacedMdm(port(), limiter).cancelCommand).toBeUndefined();
    const cancelling = createPacedMdm(port({ cancelCommand: async () => null }), limiter);
    expect(await cancelling.cancelCommand!({ deviceId: 'd-1', idempotencyKey: 'k' })).toBeNull();
    expect(events).toEqual(['acquire write', 'release']);
  });

  it('does not call the MDM when no slot is granted', async () => {
    let called = false;
    const refusing: MdmCallLimiter = {
      acquire: async () => {
        throw new MdmRateLimitedError('no slot', 1_000);
      },
    };
    const paced = createPacedMdm(port({ getDevice: async () => ((called = true), null) }), refusing);
    await expect(paced.getDevice('d-1')).rejects.toBeInstanceOf(MdmRateLimitedError);
    expect(called).toBe(false);
  });
});
