import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as assetEventsRepo from '../db/assetEventsRepo';
import * as assetsRepo from '../db/assetsRepo';
import {
  ConcurrentUpdateError,
  ConstraintViolationError,
  IdempotencyKeyConflictError,
  InvalidCursorError,
  InvalidInputError,
  NotFoundError,
  type AssetInput,
} from '../db/types';
import { createTestDatabase, type TestDatabase } from './support/postgres';

let db: TestDatabase;
let seq = 0;

/** A distinct valid asset per call, so tests never depend on each other's rows. */
function newAsset(overrides: Partial<AssetInput> = {}): AssetInput {
  seq += 1;
  return {
    assetNumber: `A-${String(100_000 + seq).padStart(6, '0')}`,
    serialNumber: `SN-${seq}`,
    model: 'iPhone 15',
    status: 'in_use',
    department: '営業部',
    location: '東京本社',
    userName: '佐藤 健',
    userEmail: 'ken.sato@example.com',
    userPhone: '090-1234-5678',
    ...overrides,
  };
}

const event = (key: string, extra: Partial<assetEventsRepo.RecordResult['event']> = {}) => ({
  eventType: 'planned-status-set',
  actor: 'admin@example.com',
  actorRole: 'admin',
  workflowId: 'device-test',
  runId: 'run-1',
  step: 'scheduled',
  details: { reason: 'test' },
  idempotencyKey: key,
  ...extra,
});

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 25 });
});
afterAll(async () => {
  await db?.drop();
});

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM (${sql}) x`, params);
  return Number(rows[0]!.n);
}

describe('assetsRepo.upsert and get', () => {
  it('creates, then updates only what changed, bumping the version once per real change', async () => {
    const input = newAsset();
    const created = await assetsRepo.upsert(db.pool, input);
    expect(created).toMatchObject({ created: true, applied: true, asset: { version: 1, status: 'in_use' } });

    const same = await assetsRepo.upsert(db.pool, input);
    expect(same).toMatchObject({ created: false, applied: false, asset: { version: 1 } });

    const moved = await assetsRepo.upsert(db.pool, { ...input, location: '大阪支社' });
    expect(moved.asset).toMatchObject({ version: 2, location: '大阪支社', userEmail: input.userEmail });

    const got = await assetsRepo.get(db.pool, input.assetNumber);
    expect(got).toEqual(moved.asset);
    expect(got?.createdAt).toMatch(/Z$/);
  });

  it('writes an audit event for an audited upsert, once per key', async () => {
    const input = newAsset();
    const audit = { actor: 'admin@example.com', actorRole: 'admin', idempotencyKey: `create-${input.assetNumber}` };
    const first = await assetsRepo.upsert(db.pool, input, audit);
    const again = await assetsRepo.upsert(db.pool, input, audit);
    expect(first.event?.eventType).toBe('asset-created');
    expect(first.event?.changes?.location).toEqual({ from: null, to: '東京本社' });
    expect(again).toMatchObject({ created: true, applied: false, event: { id: first.event?.id } });
    const updated = await assetsRepo.upsert(
      db.pool,
      { ...input, userName: '新しい 利用者' },
      { ...audit, idempotencyKey: `upd-${input.assetNumber}` },
    );
    expect(updated).toMatchObject({
      created: false,
      applied: true,
      event: { eventType: 'asset-updated', assetVersion: 2 },
    });
    expect(await assetEventsRepo.listForAsset(db.pool, input.assetNumber)).toHaveLength(2);
  });

  it('keeps a planned date as the calendar day given', async () => {
    const input = newAsset({ plannedStatus: 'in_stock', plannedDate: '2026-03-31' });
    const { asset } = await assetsRepo.upsert(db.pool, input);
    expect(asset.plannedDate).toBe('2026-03-31');
  });

  it('refuses a malformed asset number or unknown status before writing anything', async () => {
    const before = await count('SELECT 1 FROM assets');
    await expect(assetsRepo.upsert(db.pool, newAsset({ assetNumber: 'A-12' }))).rejects.toThrow(InvalidInputError);
    await expect(assetsRepo.upsert(db.pool, newAsset({ status: 'broken' as never }))).rejects.toThrow(/status/);
    await expect(assetsRepo.get(db.pool, "A-000001' OR 1=1 --")).rejects.toThrow(InvalidInputError);
    expect(await count('SELECT 1 FROM assets')).toBe(before);
  });

  it('has the database refuse bad rows that bypass the code, naming the constraint', async () => {
    await expect(
      db.pool.query(
        "INSERT INTO assets (asset_number, serial_number, model, department, location) VALUES ('B-1', 's', 'm', 'd', 'l')",
      ),
    ).rejects.toMatchObject({ code: '23514', constraint: 'assets_asset_number_format' });
    await expect(
      db.pool.query(
        "INSERT INTO assets (asset_number, serial_number, model, status, department, location) VALUES ('A-999999', 's', 'm', 'gone', 'd', 'l')",
      ),
    ).rejects.toMatchObject({ code: '23514', constraint: 'assets_status_check' });
  });

  it('reports a duplicate serial number as a constraint violation', async () => {
    const first = newAsset();
    await assetsRepo.upsert(db.pool, first);
    const dup = assetsRepo.upsert(db.pool, newAsset({ serialNumber: first.serialNumber }));
    await expect(dup).rejects.toThrow(ConstraintViolationError);
    await expect(dup).rejects.toMatchObject({ constraint: 'assets_serial_number_key' });
  });
});

describe('assetsRepo.applyChange', () => {
  let assetNumber: string;
  beforeEach(async () => {
    ({
      asset: { assetNumber },
    } = await assetsRepo.upsert(db.pool, newAsset()));
  });

  it('changes the asset and writes its event exactly once for one idempotency key', async () => {
    const patch = { plannedStatus: 'in_stock' as const, plannedDate: '2026-04-01' };
    const first = await assetsRepo.applyChange(db.pool, assetNumber, patch, { event: event(`k-${assetNumber}`) });
    const retry = await assetsRepo.applyChange(db.pool, assetNumber, patch, { event: event(`k-${assetNumber}`) });

    expect(first.applied).toBe(true);
    expect(first.asset).toMatchObject({ version: 2, plannedStatus: 'in_stock', plannedDate: '2026-04-01' });
    expect(first.event).toMatchObject({
      assetVersion: 2,
      actor: 'admin@example.com',
      step: 'scheduled',
      changes: { plannedStatus: { from: null, to: 'in_stock' }, plannedDate: { from: null, to: '2026-04-01' } },
    });
    expect(retry.applied).toBe(false);
    expect(retry.event?.id).toBe(first.event?.id);
    expect(retry.asset.version).toBe(2);
    expect(await assetEventsRepo.listForAsset(db.pool, assetNumber)).toHaveLength(1);
  });

  it('treats a replay as success even when the asset has moved on and the version is stale', async () => {
    const first = await assetsRepo.applyChange(
      db.pool,
      assetNumber,
      { location: 'A' },
      {
        event: event(`a-${assetNumber}`),
        expectedVersion: 1,
      },
    );
    await assetsRepo.applyChange(db.pool, assetNumber, { location: 'B' }, { event: event(`b-${assetNumber}`) });
    const replay = await assetsRepo.applyChange(
      db.pool,
      assetNumber,
      { location: 'A' },
      {
        event: event(`a-${assetNumber}`),
        expectedVersion: 1,
      },
    );
    expect(replay).toMatchObject({ applied: false, asset: { location: 'B', version: 3 } });
    expect(replay.event?.id).toBe(first.event?.id);
  });

  it('applies 20 concurrent changes with distinct keys without losing one', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        assetsRepo.applyChange(
          db.pool,
          assetNumber,
          { location: `棚 ${i}` },
          { event: event(`c-${assetNumber}-${i}`) },
        ),
      ),
    );
    expect(results.every((r) => r.applied)).toBe(true);
    expect(results.map((r) => r.asset.version).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 2),
    );
    const asset = await assetsRepo.get(db.pool, assetNumber);
    expect(asset?.version).toBe(21);
    const events = await assetEventsRepo.listForAsset(db.pool, assetNumber);
    expect(events).toHaveLength(20);
    // Each event saw the value its predecessor wrote: the updates were serialised, none overwritten blind.
    const byVersion = [...events].sort((a, b) => a.assetVersion! - b.assetVersion!);
    for (let i = 1; i < byVersion.length; i++) {
      expect(byVersion[i]!.changes?.location?.from).toBe(byVersion[i - 1]!.changes?.location?.to);
    }
    expect(asset?.location).toBe(byVersion.at(-1)!.changes?.location?.to);
  });

  it('lets exactly one of several writers holding the same version win', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        assetsRepo.applyChange(
          db.pool,
          assetNumber,
          { userName: `user ${i}` },
          {
            event: event(`v-${assetNumber}-${i}`),
            expectedVersion: 1,
          },
        ),
      ),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(9);
    for (const r of lost) {
      expect(r.reason).toBeInstanceOf(ConcurrentUpdateError);
      expect(r.reason).toMatchObject({ expectedVersion: 1, actualVersion: 2 });
    }
    expect((await assetsRepo.get(db.pool, assetNumber))?.version).toBe(2);
    expect(await assetEventsRepo.listForAsset(db.pool, assetNumber)).toHaveLength(1);
  });

  it('writes one event when the same key is sent concurrently', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        assetsRepo.applyChange(db.pool, assetNumber, { status: 'in_stock' }, { event: event(`same-${assetNumber}`) }),
      ),
    );
    expect(results.filter((r) => r.applied)).toHaveLength(1);
    expect(new Set(results.map((r) => r.event?.id)).size).toBe(1);
    expect((await assetsRepo.get(db.pool, assetNumber))?.version).toBe(2);
  });

  it('refuses a key reused for another asset', async () => {
    const other = (await assetsRepo.upsert(db.pool, newAsset())).asset.assetNumber;
    await assetsRepo.applyChange(db.pool, assetNumber, { location: 'X' }, { event: event(`dup-${assetNumber}`) });
    await expect(
      assetsRepo.applyChange(db.pool, other, { location: 'Y' }, { event: event(`dup-${assetNumber}`) }),
    ).rejects.toThrow(IdempotencyKeyConflictError);
    expect((await assetsRepo.get(db.pool, other))?.location).toBe('東京本社');
  });

  it('rolls back the asset change when its event is invalid, and refuses bad patches', async () => {
    await expect(
      assetsRepo.applyChange(db.pool, assetNumber, { status: 'retired' }, { event: event('') }),
    ).rejects.toThrow(InvalidInputError);
    await expect(
      assetsRepo.applyChange(
        db.pool,
        assetNumber,
        { status: 'scrapped' as never },
        { event: event(`bad-${assetNumber}`) },
      ),
    ).rejects.toThrow(/status/);
    await expect(
      assetsRepo.applyChange(db.pool, assetNumber, { colour: 'red' } as never, { event: event(`bad2-${assetNumber}`) }),
    ).rejects.toThrow(/colour/);
    // A serial number clash is only found by the database: the update and the event must both roll back.
    const other = newAsset();
    await assetsRepo.upsert(db.pool, other);
    await expect(
      assetsRepo.applyChange(
        db.pool,
        assetNumber,
        { serialNumber: other.serialNumber, location: 'Z' },
        {
          event: event(`clash-${assetNumber}`),
        },
      ),
    ).rejects.toThrow(ConstraintViolationError);
    const asset = await assetsRepo.get(db.pool, assetNumber);
    expect(asset).toMatchObject({ version: 1, status: 'in_use', location: '東京本社' });
    expect(await assetEventsRepo.listForAsset(db.pool, assetNumber)).toHaveLength(0);
  });

  it('reports an unknown asset as not found', async () => {
    await expect(
      assetsRepo.applyChange(db.pool, 'A-999998', { location: 'X' }, { event: event('nf') }),
    ).rejects.toThrow(NotFoundError);
  });

  it('joins the caller transaction when given a client', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await assetsRepo.applyChange(
        client,
        assetNumber,
        { location: 'rolled back' },
        { event: event(`tx-${assetNumber}`) },
      );
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect((await assetsRepo.get(db.pool, assetNumber))?.location).toBe('東京本社');
    expect(await assetEventsRepo.getByIdempotencyKey(db.pool, `tx-${assetNumber}`)).toBeNull();
  });
});

describe('asset_events', () => {
  it('is append-only: UPDATE, DELETE and TRUNCATE are refused', async () => {
    const { asset } = await assetsRepo.upsert(db.pool, newAsset());
    const { event: e } = await assetEventsRepo.record(db.pool, asset.assetNumber, event(`ao-${asset.assetNumber}`));
    await expect(db.pool.query("UPDATE asset_events SET actor = 'mallory' WHERE id = $1", [e.id])).rejects.toThrow(
      /append-only: UPDATE/,
    );
    await expect(db.pool.query('DELETE FROM asset_events WHERE id = $1', [e.id])).rejects.toThrow(
      /append-only: DELETE/,
    );
    await expect(db.pool.query('TRUNCATE asset_events')).rejects.toThrow(/append-only/);
    // ON DELETE RESTRICT: an asset with history cannot be deleted (it is retired instead).
    await expect(
      db.pool.query('DELETE FROM assets WHERE asset_number = $1', [asset.assetNumber]),
    ).rejects.toMatchObject({
      code: '23001',
    });
    expect((await assetEventsRepo.listForAsset(db.pool, asset.assetNumber))[0]).toEqual(e);
  });

  it('records idempotently and lists by asset and by workflow, oldest first', async () => {
    const { asset } = await assetsRepo.upsert(db.pool, newAsset());
    const wf = `device-${asset.assetNumber}`;
    const a = await assetEventsRepo.record(db.pool, asset.assetNumber, event(`r1-${wf}`, { workflowId: wf }));
    const again = await assetEventsRepo.record(db.pool, asset.assetNumber, event(`r1-${wf}`, { workflowId: wf }));
    const b = await assetEventsRepo.record(db.pool, asset.assetNumber, {
      ...event(`r2-${wf}`, { workflowId: wf, runId: 'run-2' }),
      eventType: 'device-collected',
    });
    expect(a.inserted).toBe(true);
    expect(again).toEqual({ inserted: false, event: a.event });
    expect((await assetEventsRepo.listForAsset(db.pool, asset.assetNumber)).map((x) => x.id)).toEqual([
      a.event.id,
      b.event.id,
    ]);
    expect((await assetEventsRepo.listForWorkflow(db.pool, wf)).map((x) => x.id)).toEqual([a.event.id, b.event.id]);
    expect((await assetEventsRepo.listForWorkflow(db.pool, wf, { runId: 'run-2' })).map((x) => x.id)).toEqual([
      b.event.id,
    ]);
  });

  it('refuses an event for an unknown asset', async () => {
    await expect(assetEventsRepo.record(db.pool, 'A-999997', event('orphan'))).rejects.toThrow(NotFoundError);
  });
});

describe('assetsRepo.list and reports', () => {
  let fresh: TestDatabase;
  beforeAll(async () => {
    fresh = await createTestDatabase();
    const { generateDemoAssets } = await import('../db/demoAssets');
    for (const a of generateDemoAssets()) await assetsRepo.upsert(fresh.pool, a);
  });
  afterAll(async () => {
    await fresh?.drop();
  });

  it('pages through every asset once, in asset-number order, even while rows are added', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<typeof assetsRepo.list>> = await assetsRepo.list(fresh.pool, { cursor, limit: 7 });
      seen.push(...page.items.map((a) => a.assetNumber));
      cursor = page.nextCursor;
      if (pages++ === 2) await assetsRepo.upsert(fresh.pool, newAsset({ assetNumber: 'A-000000' })); // before the cursor
    } while (cursor);
    const all = (
      await fresh.pool.query<{ n: string }>(
        "SELECT asset_number AS n FROM assets WHERE asset_number <> 'A-000000' ORDER BY asset_number",
      )
    ).rows.map((r) => r.n);
    expect(seen).toEqual(all);
    expect(seen.length).toBeGreaterThanOrEqual(60);
  });

  it('filters and refuses a forged cursor', async () => {
    const page = await assetsRepo.list(fresh.pool, { limit: 500, filters: { status: 'in_use', location: '東京本社' } });
    expect(page.items.length).toBeGreaterThan(0);
    expect(page.items.every((a) => a.status === 'in_use' && a.location === '東京本社')).toBe(true);
    await expect(assetsRepo.list(fresh.pool, { cursor: 'not-a-cursor' })).rejects.toThrow(InvalidCursorError);
  });

  it('lists devices due for collection sorted by department then location, and counts by planned status', async () => {
    const list = await assetsRepo.collectionList(fresh.pool);
    expect(list.length).toBeGreaterThan(0);
    expect(list.every((a) => a.plannedStatus === 'in_stock' && a.status !== 'in_stock')).toBe(true);
    // In Japanese order (db/japaneseCollation.ts), which Intl.Collator('ja') agrees with on the demo's names.
    const keys = list.map((a) => [a.department, a.location, a.assetNumber]);
    const ja = new Intl.Collator('ja');
    const byKeys = (x: string[], y: string[]) => x.reduce((d, _, i) => d || ja.compare(x[i]!, y[i]!), 0);
    expect(keys).toEqual([...keys].sort(byKeys));
    expect(keys.map((k) => k[0])).not.toEqual(keys.map((k) => k[0]).sort());

    const counts = await assetsRepo.countByPlannedStatus(fresh.pool);
    expect(counts.map((c) => c.plannedStatus)).toEqual(['in_use', 'in_stock', 'retired', 'lost', 'in_repair', null]);
    const total = counts.reduce((n, c) => n + c.count, 0);
    expect(total).toBe(await fresh.pool.query('SELECT count(*)::int AS n FROM assets').then((r) => r.rows[0].n));
    expect(counts.find((c) => c.plannedStatus === 'in_stock')!.count).toBeGreaterThanOrEqual(list.length);
  });

  it('lists no device for delivery while no process waits for one, planned statuses notwithstanding', async () => {
    // Assigned and not delivered is a process's open deliver-device task (tests/apiDistributionList.test.ts).
    const plannedInUse = await assetsRepo.list(fresh.pool, { limit: 1, filters: { plannedStatus: 'in_use' } });
    expect(plannedInUse.items).toHaveLength(1);
    expect(await assetsRepo.distributionList(fresh.pool)).toEqual([]);
  });
});
