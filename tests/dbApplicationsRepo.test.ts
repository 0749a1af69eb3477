import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as applicationsRepo from '../db/applicationsRepo';
import * as assetsRepo from '../db/assetsRepo';
import {
  ApplicationUnavailableError,
  ConstraintViolationError,
  InvalidInputError,
  type ApplicationInput,
} from '../db/types';
import { createTestDatabase, type TestDatabase } from './support/postgres';

let db: TestDatabase;
let seq = 0;

async function newAssetNumber(): Promise<string> {
  seq += 1;
  const assetNumber = `A-${String(200_000 + seq).padStart(6, '0')}`;
  await assetsRepo.upsert(db.pool, {
    assetNumber,
    serialNumber: `APP-SN-${seq}`,
    model: 'iPad Air (5th generation)',
    status: 'in_stock',
    department: 'IT Operations',
    location: '東京本社 IT倉庫',
  });
  return assetNumber;
}

function application(overrides: Partial<ApplicationInput> = {}): ApplicationInput {
  return {
    department: '開発部',
    deliveryLocation: '大阪支社',
    userName: '高橋 結衣',
    userEmail: 'yui.takahashi@example.com',
    userPhone: '06-1234-5678',
    note: '新入社員用',
    createdBy: 'admin@example.com',
    ...overrides,
  };
}

beforeAll(async () => {
  db = await createTestDatabase({ poolSize: 20 });
});
afterAll(async () => {
  await db?.drop();
});

describe('applicationsRepo', () => {
  it('creates a pending application, once per idempotency key', async () => {
    const first = await applicationsRepo.create(db.pool, application({ idempotencyKey: 'req-1' }));
    const again = await applicationsRepo.create(db.pool, application({ idempotencyKey: 'req-1' }));
    expect(first).toMatchObject({ created: true, application: { state: 'pending', userName: '高橋 結衣' } });
    expect(again).toEqual({ created: false, application: first.application });
    expect(await applicationsRepo.get(db.pool, first.application.id)).toEqual(first.application);
    expect(await applicationsRepo.get(db.pool, 'not-a-uuid')).toBeNull();
  });

  it('refuses invalid input with the field and why, writing nothing', async () => {
    const before = (await db.pool.query('SELECT count(*)::int AS n FROM applications')).rows[0].n;
    await expect(applicationsRepo.create(db.pool, application({ userEmail: 'nope' }))).rejects.toThrow(/userEmail/);
    await expect(
      applicationsRepo.create(db.pool, { ...application(), colour: 'red' } as ApplicationInput),
    ).rejects.toThrow(InvalidInputError);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM applications')).rows[0].n).toBe(before);
  });

  it('gives an application to exactly one of two racing workflows', async () => {
    const { application: app } = await applicationsRepo.create(db.pool, application());
    const [assetA, assetB] = [await newAssetNumber(), await newAssetNumber()];
    const results = await Promise.allSettled([
      applicationsRepo.assign(db.pool, app.id, { assetNumber: assetA, workflowId: `device-${assetA}` }),
      applicationsRepo.assign(db.pool, app.id, { assetNumber: assetB, workflowId: `device-${assetB}` }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason).toBeInstanceOf(ApplicationUnavailableError);
    const stored = await applicationsRepo.get(db.pool, app.id);
    expect(stored?.state).toBe('assigned');
    // The winner's retry is acknowledged, not refused.
    const winner = { assetNumber: stored!.assignedAssetNumber!, workflowId: stored!.workflowId! };
    expect(await applicationsRepo.assign(db.pool, app.id, winner)).toEqual(stored);
    // Claimed is not yet assigned to the user: the distribution list shows the devices whose process waits
    // for the delivery (tests/apiDistributionList.test.ts), so a claim alone puts nothing on it.
    expect((await assetsRepo.distributionList(db.pool)).map((a) => a.assetNumber)).not.toContain(winner.assetNumber);
  });

  it('lets many workflows claim the oldest pending applications without taking one twice', async () => {
    const fresh = await createTestDatabase({ poolSize: 20 });
    try {
      const created = [];
      for (let i = 0; i < 5; i++) created.push((await applicationsRepo.create(fresh.pool, application())).application);
      const assets = [];
      for (let i = 0; i < 8; i++) {
        const assetNumber = `A-${String(300_000 + i).padStart(6, '0')}`;
        await assetsRepo.upsert(fresh.pool, {
          assetNumber,
          serialNumber: `CLAIM-${i}`,
          model: 'Pixel 8',
          department: 'IT Operations',
          location: '倉庫',
        });
        assets.push(assetNumber);
      }
      const claims = await Promise.all(
        assets.map((assetNumber) =>
          applicationsRepo.claimNextPending(fresh.pool, { assetNumber, workflowId: `device-${assetNumber}` }),
        ),
      );
      const taken = claims.filter((c) => c !== null);
      expect(taken).toHaveLength(5);
      expect(new Set(taken.map((c) => c.id))).toEqual(new Set(created.map((c) => c.id)));
      expect(claims.filter((c) => c === null)).toHaveLength(3);
      // A retried claim returns what the workflow already holds.
      const holder = taken[0]!;
      const retry = await applicationsRepo.claimNextPending(fresh.pool, {
        assetNumber: holder.assignedAssetNumber!,
        workflowId: holder.workflowId!,
      });
      expect(retry?.id).toBe(holder.id);
    } finally {
      await fresh.drop();
    }
  });

  it('lists pending applications oldest first, page by page', async () => {
    const fresh = await createTestDatabase();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 7; i++)
        ids.push((await applicationsRepo.create(fresh.pool, application({ userName: `u${i}` }))).application.id);
      const assetNumber = `A-${String(400_000).padStart(6, '0')}`;
      await assetsRepo.upsert(fresh.pool, {
        assetNumber,
        serialNumber: 'P-1',
        model: 'Pixel 8',
        department: 'd',
        location: 'l',
      });
      await applicationsRepo.assign(fresh.pool, ids[2]!, { assetNumber, workflowId: 'device-x' });
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof applicationsRepo.listPending>> = await applicationsRepo.listPending(
          fresh.pool,
          { cursor, limit: 2 },
        );
        seen.push(...page.items.map((a) => a.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen).toEqual(ids.filter((_, i) => i !== 2));
    } finally {
      await fresh.drop();
    }
  });

  it('delivers and cancels idempotently, and never gives one device to two open applications', async () => {
    const assetNumber = await newAssetNumber();
    const workflowId = `device-${assetNumber}`;
    const { application: a } = await applicationsRepo.create(db.pool, application());
    const { application: b } = await applicationsRepo.create(db.pool, application());
    await applicationsRepo.assign(db.pool, a.id, { assetNumber, workflowId });
    await expect(applicationsRepo.assign(db.pool, b.id, { assetNumber, workflowId: 'device-other' })).rejects.toThrow(
      ConstraintViolationError,
    );
    expect((await applicationsRepo.get(db.pool, b.id))?.state).toBe('pending');

    const delivered = await applicationsRepo.markDelivered(db.pool, a.id, workflowId);
    expect(delivered.state).toBe('delivered');
    expect(delivered.deliveredAt).not.toBeNull();
    expect(await applicationsRepo.markDelivered(db.pool, a.id, workflowId)).toEqual(delivered);
    await expect(applicationsRepo.cancel(db.pool, a.id)).rejects.toThrow(ApplicationUnavailableError);

    const cancelled = await applicationsRepo.cancel(db.pool, b.id);
    expect(await applicationsRepo.cancel(db.pool, b.id)).toEqual(cancelled);
    await expect(applicationsRepo.assign(db.pool, b.id, { assetNumber, workflowId })).rejects.toThrow(/cancelled/);
  });

  it('releases a reservation only for its holder, and only once', async () => {
    const [assetA, assetB] = [await newAssetNumber(), await newAssetNumber()];
    const { application: app } = await applicationsRepo.create(db.pool, application());
    await applicationsRepo.assign(db.pool, app.id, { assetNumber: assetA, workflowId: `device-${assetA}` });

    await applicationsRepo.releaseReservation(db.pool, app.id, `device-${assetB}`);
    expect(await applicationsRepo.get(db.pool, app.id)).toMatchObject({
      state: 'assigned',
      workflowId: `device-${assetA}`,
    });

    await applicationsRepo.releaseReservation(db.pool, app.id, `device-${assetA}`);
    const released = await applicationsRepo.get(db.pool, app.id);
    expect(released).toMatchObject({ state: 'pending', assignedAssetNumber: null, workflowId: null, assignedAt: null });
    await applicationsRepo.releaseReservation(db.pool, app.id, `device-${assetA}`);
    expect(await applicationsRepo.get(db.pool, app.id)).toEqual(released);

    await applicationsRepo.assign(db.pool, app.id, { assetNumber: assetB, workflowId: `device-${assetB}` });
    await applicationsRepo.markDelivered(db.pool, app.id, `device-${assetB}`);
    await applicationsRepo.releaseReservation(db.pool, app.id, `device-${assetB}`);
    expect((await applicationsRepo.get(db.pool, app.id))?.state).toBe('delivered');
  });
});
