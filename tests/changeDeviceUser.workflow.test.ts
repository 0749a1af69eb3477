/**
 * The change-user workflow on the real Temporal dev server: activities write to real PostgreSQL, call
 * the MDM emulator over HTTP and send mail to a real SMTP sink. Reports arrive as Updates and Signals.
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import * as applicationsRepo from '../db/applicationsRepo';
import * as assetsRepo from '../db/assetsRepo';
import * as eventsRepo from '../db/assetEventsRepo';
import {
  adminUpdates,
  CHANGE_USER_WORKFLOW,
  reportSignals,
  reportUpdates,
  stateQuery,
  type ChangeUserInput,
  type LifecycleState,
} from '../workflows/definitions';
import { NeedsAttentionKey } from '../temporal/searchAttributes';
import { admin, changeUserInput, command, field, newAssetNumber, report } from './support/fixtures';
import { recordHistoryIfAsked } from './support/histories';
import { useHarness } from './support/suite';

const h = useHarness();

const start = (assetNumber: string, extra: Partial<ChangeUserInput> = {}) =>
  h.startChangeUser(changeUserInput(assetNumber, extra));

describe('change device user on real Temporal, PostgreSQL, MDM emulator and SMTP', () => {
  it('moves a device from user X to user Y, with every step in the audit trail and the MDM', async () => {
    const assetNumber = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber, userName: 'Xavier Old', userEmail: 'x.old@example.com' });
    const handle = await start(assetNumber);

    await h.waitForStep(handle, 'awaiting-collection');
    const scheduled = await assetsRepo.get(h.db.pool, assetNumber);
    expect(scheduled?.plannedStatus).toBe('in_stock');
    const notice = await h.mail.waitFor((m) => m.to.includes('x.old@example.com'));
    expect(notice.subject).toContain(assetNumber);
    expect(notice.text).toContain('Employee moved to another team');

    const ack = await handle.executeUpdate(reportUpdates['device-collected'], {
      args: [report({ collectedBy: 'Bob Field', storageLocation: 'Shelf 3' })],
    });
    expect(ack).toMatchObject({ accepted: true, duplicate: false, event: 'device-collected' });
    expect(ack.step).not.toBe('awaiting-collection');

    const reenrol = await h.waitForStep(handle, 'awaiting-reenrollment');
    expect(reenrol.steps.map((s) => s.step)).toEqual(
      expect.arrayContaining(['returning-to-stock', 'wiping', 'removing-from-mdm']),
    );
    const commands = await h.mdm.listCommands(mdmDeviceId);
    const wipe = commands.filter((c) => c.type === 'wipe');
    expect(wipe).toHaveLength(1);
    expect(wipe[0].status).toBe('succeeded');
    expect(await h.mdm.getDevice(mdmDeviceId)).toBeNull(); // the record was deleted
    const inStock = await assetsRepo.get(h.db.pool, assetNumber);
    expect(inStock).toMatchObject({
      status: 'in_stock',
      location: 'Shelf 3',
      department: 'IT',
      userName: 'IT Admin',
      mdmDeviceId: null,
    });

    // Reported too early: the answer says the MDM must confirm it first; the MDM shows no enrolment yet,
    // so the task opens again and the report's record says why.
    const tooEarly = report();
    const early = await handle.executeUpdate(reportUpdates['device-reenrolled'], { args: [tooEarly] });
    expect(early).toMatchObject({ accepted: true, step: 'assigning', pending: expect.stringMatching(/MDM/) });
    const reopened = await h.waitForState(handle, (s) =>
      s.reports.some((r) => r.idempotencyKey === tooEarly.idempotencyKey && r.followUp !== undefined),
    );
    expect(reopened.reports.find((r) => r.idempotencyKey === tooEarly.idempotencyKey)?.followUp).toMatch(
      /not confirmed by the MDM/,
    );
    expect(reopened).toMatchObject({ step: 'awaiting-reenrollment', pendingTask: { type: 'reenroll-device' } });

    // Field staff re-enrol the device; the emulator gives it a new MDM id which the workflow must find.
    const enrolled = await h.emulator.reEnroll(mdmDeviceId);
    await handle.executeUpdate(reportUpdates['device-reenrolled'], { args: [report()] });
    await h.waitForStep(handle, 'awaiting-delivery');
    const assigned = await assetsRepo.get(h.db.pool, assetNumber);
    expect(assigned).toMatchObject({
      status: 'in_use',
      plannedStatus: null,
      userName: 'Yuki New',
      department: 'Engineering',
      mdmDeviceId: enrolled.newDeviceId,
    });
    await h.mail.waitFor((m) => m.to.includes('y.new@example.com'));

    await handle.executeUpdate(reportUpdates['device-delivered'], {
      args: [report({ receivedBy: 'Yuki New', signature: 'data:image/png;base64,iVBORw0KGgo=' })],
    });
    const final: LifecycleState = await handle.result();
    expect(final.status).toBe('completed');
    await recordHistoryIfAsked('change-user-completed', handle, CHANGE_USER_WORKFLOW);

    const history = await eventsRepo.listForAsset(h.db.pool, assetNumber);
    expect(history.map((e) => e.eventType)).toEqual([
      'collection-scheduled',
      'notice-sent',
      'device-collected',
      'returned-to-stock',
      'wipe-requested',
      'wipe-finished',
      'mdm-record-deleted',
      'device-reenrolled',
      'device-reenrolled',
      'reenrollment-verified',
      'user-assigned',
      'notice-sent',
      'device-delivered',
      'delivery-receipt',
    ]);
    expect(history.find((e) => e.eventType === 'device-collected')?.actor).toBe(field.id);
    expect(history.find((e) => e.eventType === 'collection-scheduled')?.actor).toBe(admin.id);
    expect(history.find((e) => e.eventType === 'delivery-receipt')?.details).toMatchObject({
      receipt: { receivedBy: 'Yuki New' },
    });
  });

  it('refuses an out-of-order update atomically and records an out-of-order signal as rejected', async () => {
    const assetNumber = newAssetNumber();
    await h.seedDevice({ assetNumber });
    const handle = await start(assetNumber);
    await h.waitForStep(handle, 'awaiting-collection');

    // What an admin filters on in the Web UI, through the Temporal client's visibility API.
    const query =
      `LifecycleStep = 'awaiting-collection' AND AwaitingTask = 'collect-device' AND AssetNumber = '${assetNumber}' ` +
      `AND LifecycleProcess = 'change-user' AND Department = 'Sales'`;
    await expect
      .poll(async () => {
        const ids: string[] = [];
        for await (const wf of h.client.workflow.list({ query })) ids.push(wf.workflowId);
        return ids;
      })
      .toEqual([handle.workflowId]);
    const description = await handle.describe();
    expect(description.typedSearchAttributes.get(NeedsAttentionKey)).toBe(false);

    const before = await eventsRepo.listForAsset(h.db.pool, assetNumber);

    const err = await handle
      .executeUpdate(reportUpdates['device-delivered'], {
        args: [report({ receivedBy: 'Someone', signature: 'x' })],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as WorkflowUpdateFailedError).cause as { type?: string; details?: unknown[] };
    expect(cause.type).toBe('EventNotExpected');
    expect(cause.details?.[0]).toMatchObject({ step: 'awaiting-collection', expects: ['device-collected'] });
    expect(await eventsRepo.listForAsset(h.db.pool, assetNumber)).toHaveLength(before.length);

    await handle.signal(reportSignals['device-delivered'], report({ receivedBy: 'Someone', signature: 'x' }));
    const state = await h.waitForState(handle, (s) => s.reports.some((r) => r.outcome === 'rejected'));
    expect(state.step).toBe('awaiting-collection');
    expect(state.reports.find((r) => r.outcome === 'rejected')).toMatchObject({
      event: 'device-delivered',
      actor: field,
    });
    await expect.poll(() => h.eventTypes(assetNumber)).toContain('report-rejected');

    // A repeated report (same idempotency key) is acknowledged, not applied twice.
    const collected = report({ collectedBy: 'Bob' });
    const first = await handle.executeUpdate(reportUpdates['device-collected'], { args: [collected] });
    const again = await handle.executeUpdate(reportUpdates['device-collected'], { args: [collected] });
    expect(first.duplicate).toBe(false);
    expect(again.duplicate).toBe(true);
    // The answer comes before the audit write; the steps after it wait for that write.
    await h.waitForStep(handle, 'awaiting-reenrollment');
    const events = await eventsRepo.listForAsset(h.db.pool, assetNumber);
    expect(events.filter((e) => e.eventType === 'device-collected')).toHaveLength(1);
    await handle.terminate('test done');
  });

  it('parks a step that keeps failing in needs-attention; an admin retry resumes it and a cancel ends it', async () => {
    const assetNumber = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber });
    const handle = await start(assetNumber);
    await h.waitForStep(handle, 'awaiting-collection');
    // The MDM refuses the wipe (4xx, not retryable): the workflow must wait for an admin, not fail.
    await h.emulator.addFault({
      kind: 'error',
      status: 403,
      count: 1,
      method: 'POST',
      pathPrefix: `/devices/${mdmDeviceId}/commands`,
    });
    await handle.executeUpdate(reportUpdates['device-collected'], { args: [report({ collectedBy: 'Bob' })] });
    const parked = await h.waitForStep(handle, 'needs-attention');
    expect(parked).toMatchObject({ status: 'needs-attention', failedStep: 'wiping' });
    expect(parked.lastError).toMatch(/requestWipe/);

    const ack = await handle
      .executeUpdate(reportUpdates['device-collected'], { args: [report({ collectedBy: 'Bob' })] })
      .catch((e: unknown) => e);
    expect(ack).toBeInstanceOf(WorkflowUpdateFailedError);

    await handle.executeUpdate(adminUpdates.retry, { args: [command()] });
    await h.waitForStep(handle, 'awaiting-reenrollment');
    const state = await handle.query(stateQuery);
    expect(state.status).toBe('running');
    const wipes = (await h.mdm.listCommands(mdmDeviceId)).filter((c) => c.type === 'wipe');
    expect(wipes).toHaveLength(1);
    await handle.executeUpdate(adminUpdates.cancel, { args: [command('user stays')] });
    const cancelled: LifecycleState = await handle.result();
    expect(cancelled.status).toBe('cancelled');
    const last = (await eventsRepo.listForAsset(h.db.pool, assetNumber)).at(-1);
    expect(last).toMatchObject({ eventType: 'cancelled', actor: admin.id, details: { reason: 'user stays' } });
    expect(await assetsRepo.get(h.db.pool, assetNumber)).toMatchObject({ status: 'in_stock' }); // nothing undone
    await recordHistoryIfAsked('change-user-needs-attention-retry-cancel', handle, CHANGE_USER_WORKFLOW);
  });

  it('waits for an assignment when no new user was given; an unusable application is refused with the reason', async () => {
    const assetNumber = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber });
    const handle = await start(assetNumber, { newUser: undefined });
    await h.waitForStep(handle, 'awaiting-collection');
    await handle.executeUpdate(reportUpdates['device-collected'], { args: [report({ collectedBy: 'Bob' })] });
    await h.waitForStep(handle, 'awaiting-reenrollment');
    await h.emulator.reEnroll(mdmDeviceId);
    await handle.executeUpdate(reportUpdates['device-reenrolled'], { args: [report()] });
    await h.waitForStep(handle, 'awaiting-assignment'); // no application was waiting

    const unknownApplication = report({ applicationId: '00000000-0000-4000-8000-000000000000' }, admin);
    const missing = await handle.executeUpdate(reportUpdates['user-assigned'], { args: [unknownApplication] });
    expect(missing).toMatchObject({ step: 'assigning', pending: expect.stringMatching(/application/) });
    const reopened = await h.waitForState(handle, (s) =>
      s.reports.some((r) => r.idempotencyKey === unknownApplication.idempotencyKey && r.followUp !== undefined),
    );
    expect(reopened.reports.find((r) => r.idempotencyKey === unknownApplication.idempotencyKey)?.followUp).toMatch(
      /could not be used/,
    );
    expect(reopened).toMatchObject({ step: 'awaiting-assignment', pendingTask: { type: 'assign-user' } });

    const { application } = await applicationsRepo.create(h.db.pool, {
      department: 'Legal',
      deliveryLocation: 'Sapporo',
      userName: 'Aki Applicant',
      userEmail: 'aki@example.com',
      createdBy: admin.id,
    });
    const ack = await handle.executeUpdate(reportUpdates['user-assigned'], {
      args: [report({ applicationId: application.id }, admin)],
    });
    expect(ack.step).toBe('assigning');
    await h.waitForStep(handle, 'awaiting-delivery');
    expect(await assetsRepo.get(h.db.pool, assetNumber)).toMatchObject({
      userName: 'Aki Applicant',
      location: 'Sapporo',
      status: 'in_use',
    });
    expect(await applicationsRepo.get(h.db.pool, application.id)).toMatchObject({
      state: 'assigned',
      assignedAssetNumber: assetNumber,
    });
    await handle.terminate('test done');
  });
});
