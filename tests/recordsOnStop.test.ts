/**
 * Cancel and abort leave the records true (DESIGN §3, records-1), on real Temporal, PostgreSQL and the
 * MDM emulator: what a change-user process had only planned is put back, each change audited with the
 * admin who stopped it; what was done to the device is kept and said; LifecycleStatus tells the outcome.
 */
import { describe, expect, it } from 'vitest';
import { createActivities } from '../activities';
import * as applicationsRepo from '../db/applicationsRepo';
import * as assetsRepo from '../db/assetsRepo';
import * as eventsRepo from '../db/assetEventsRepo';
import type { MdmPort } from '../mdm/port';
import { LifecycleStatusKey } from '../temporal/searchAttributes';
import { adminUpdates, reportUpdates, type LifecycleState } from '../workflows/definitions';
import { admin, changeUserInput, command, field, newAssetNumber, report } from './support/fixtures';
import { ADMIN_EMAILS } from './support/lifecycleHarness';
import { useHarness } from './support/suite';

const h = useHarness();
const PLAN_BEFORE = { plannedStatus: 'in_use' as const, plannedDate: '2027-01-15' };

async function planned(assetNumber: string) {
  const asset = await assetsRepo.get(h.db.pool, assetNumber);
  return { plannedStatus: asset?.plannedStatus ?? null, plannedDate: asset?.plannedDate ?? null };
}

describe('a stopped change-user puts back what it had only planned', () => {
  it('cancelled while waiting for collection: the plan is restored and audited, LifecycleStatus is cancelled', async () => {
    const assetNumber = newAssetNumber();
    await h.seedDevice({ assetNumber, ...PLAN_BEFORE });
    const handle = await h.startChangeUser(changeUserInput(assetNumber));
    await h.waitForStep(handle, 'awaiting-collection');
    expect((await planned(assetNumber)).plannedStatus).toBe('in_stock');
    expect((await handle.describe()).typedSearchAttributes.get(LifecycleStatusKey)).toBe('running');

    await handle.executeUpdate(adminUpdates.cancel, { args: [command('employee stays')] });
    const final: LifecycleState = await handle.result();
    expect(final.status).toBe('cancelled');
    expect(await planned(assetNumber)).toEqual(PLAN_BEFORE);
    const events = await eventsRepo.listForAsset(h.db.pool, assetNumber);
    const restored = events.find((e) => e.eventType === 'plan-restored');
    expect(restored).toMatchObject({ actor: admin.id, details: { restored: PLAN_BEFORE } });
    expect(events.at(-1)).toMatchObject({
      eventType: 'cancelled',
      actor: admin.id,
      details: { undone: ['plan-restored'], doneToDevice: [] },
    });
    expect((await handle.describe()).typedSearchAttributes.get(LifecycleStatusKey)).toBe('cancelled');
  });

  it('cancelled after the wipe: the plan is restored, and what was done to the device is kept and said', async () => {
    const assetNumber = newAssetNumber();
    await h.seedDevice({ assetNumber, ...PLAN_BEFORE });
    const handle = await h.startChangeUser(changeUserInput(assetNumber));
    await h.waitForStep(handle, 'awaiting-collection');
    await handle.executeUpdate(reportUpdates['device-collected'], { args: [report({ collectedBy: 'Bob' }, field)] });
    await h.waitForStep(handle, 'awaiting-reenrollment');
    // The device never comes back: cancel (abort applies only to a parked process).
    await handle.executeUpdate(adminUpdates.cancel, { args: [command('device lost after the wipe')] });
    await handle.result();
    expect(await planned(assetNumber)).toEqual(PLAN_BEFORE);
    const stop = (await eventsRepo.listForAsset(h.db.pool, assetNumber)).at(-1);
    expect(stop?.details).toMatchObject({
      undone: ['plan-restored'],
      doneToDevice: ['returning-to-stock', 'wiping', 'removing-from-mdm'],
    });
    // Done to the device and kept: the asset is in stock, its MDM record gone.
    expect(await assetsRepo.get(h.db.pool, assetNumber)).toMatchObject({ status: 'in_stock', mdmDeviceId: null });
  });

  it('a plan someone changed meanwhile is kept, and the stop says so', async () => {
    const assetNumber = newAssetNumber();
    await h.seedDevice({ assetNumber, ...PLAN_BEFORE });
    const handle = await h.startChangeUser(changeUserInput(assetNumber));
    await h.waitForStep(handle, 'awaiting-collection');
    await assetsRepo.applyChange(
      h.db.pool,
      assetNumber,
      { plannedDate: '2027-03-01' },
      {
        event: {
          eventType: 'asset-updated',
          actor: admin.id,
          actorRole: 'admin',
          details: {},
          idempotencyKey: `edit-${assetNumber}`,
        },
      },
    );
    await handle.executeUpdate(adminUpdates.cancel, { args: [command()] });
    await handle.result();
    expect(await planned(assetNumber)).toEqual({ plannedStatus: 'in_stock', plannedDate: '2027-03-01' });
    const stop = (await eventsRepo.listForAsset(h.db.pool, assetNumber)).at(-1);
    expect(stop?.details).toMatchObject({ undone: [], kept: [expect.stringMatching(/changed since/)] });
  });

  it('releases an application the process reserved (the activity on real PostgreSQL), once', async () => {
    const assetNumber = newAssetNumber();
    await h.seedDevice({ assetNumber });
    const workflowId = `device-${assetNumber}-undo`;
    const { application } = await applicationsRepo.create(h.db.pool, {
      department: 'Sales',
      deliveryLocation: 'Tokyo',
      userName: 'Hanako',
      userEmail: 'hanako@example.com',
      createdBy: admin.id,
    });
    await applicationsRepo.assign(h.db.pool, application.id, { assetNumber, workflowId });
    const acts = createActivities({
      db: h.db.pool,
      mdm: {} as MdmPort,
      mail: undefined as never,
      adminEmails: ADMIN_EMAILS,
    });
    const ctx = {
      assetNumber,
      workflowId,
      runId: 'run-1',
      step: 'cancelled',
      actor: { id: admin.id, role: 'admin' },
      idempotencyKey: `${workflowId}:run-1:9:cancelled:undo`,
    };
    expect(await acts.undoPlanned(ctx, { firstRunId: 'run-1' })).toMatchObject({ undone: ['application-released'] });
    expect(await acts.undoPlanned(ctx, { firstRunId: 'run-1' })).toMatchObject({ undone: ['application-released'] });
    expect(await applicationsRepo.get(h.db.pool, application.id)).toMatchObject({ state: 'pending', workflowId: null });
    const released = (await eventsRepo.listForAsset(h.db.pool, assetNumber)).filter(
      (e) => e.eventType === 'application-released',
    );
    expect(released).toHaveLength(1);
    expect(released[0]).toMatchObject({ actor: admin.id, details: { applicationId: application.id } });
  });
});
