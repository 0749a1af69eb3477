/**
 * The inactivation workflow on real Temporal, PostgreSQL and the MDM emulator: the emulator's device-side
 * actions play the device user, so the emulator's view of the device matches each step.
 */
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import * as assetsRepo from '../db/assetsRepo';
import * as eventsRepo from '../db/assetEventsRepo';
import {
  adminUpdates,
  INACTIVATION_WORKFLOW,
  reportSignals,
  reportUpdates,
  stateQuery,
  type HumanEventName,
  type InactivationInput,
  type LifecycleState,
} from '../workflows/definitions';
import { admin, command, inactivationInput, newAssetNumber, report, SAFE_INACTIVATION_TRAIL } from './support/fixtures';
import { recordHistoryIfAsked } from './support/histories';
import { useHarness } from './support/suite';

/** The device's user does the device-side steps and reports them. */
const user = { id: 'device.user@example.com', role: 'field-staff' as const };

const h = useHarness();

const start = (asset: string, extra: Partial<InactivationInput> = {}) =>
  h.startInactivation(inactivationInput(asset, extra));

/** The audit trail without the instruction mails (notice-sent), which each device-side step sends. */
async function trail(asset: string): Promise<string[]> {
  return (await h.eventTypes(asset)).filter((t) => t !== 'notice-sent');
}

async function refusal(handle: WorkflowHandle, event: HumanEventName) {
  const err = await send(handle, event).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return (err as WorkflowUpdateFailedError).cause as { type?: string; message: string; details?: unknown[] };
}

async function send(handle: WorkflowHandle, event: HumanEventName, data: Record<string, unknown> = {}) {
  return handle.executeUpdate(reportUpdates[event], { args: [report(data, user)] });
}

describe('inactivate device on real Temporal, PostgreSQL and the MDM emulator', () => {
  it('walks the one safe order and retires the asset', async () => {
    const asset = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber: asset });
    const handle = await start(asset);
    await h.waitForStep(handle, 'awaiting-removal-profile');
    const job = (await h.mdm.listCommands(mdmDeviceId)).find((c) => c.type === 'inactivate');
    expect(job).toMatchObject({ status: expect.stringMatching(/queued|acknowledged/) });

    await h.inactivationDelivered(mdmDeviceId);
    await h.emulator.installRemovalProfile(mdmDeviceId);
    expect((await send(handle, 'removal-profile-installed')).step).toBe('awaiting-profile-removal');
    await h.emulator.removeProfiles(mdmDeviceId);
    expect((await send(handle, 'profiles-removed')).step).toBe('awaiting-app-removal');
    expect((await h.emulator.device(mdmDeviceId)).status).toBe('inactive');
    await h.emulator.removeApp(mdmDeviceId);
    await send(handle, 'app-removed');
    const final: LifecycleState = await handle.result();
    expect(final.status).toBe('completed');
    await recordHistoryIfAsked('inactivation-completed', handle, INACTIVATION_WORKFLOW);

    expect(await h.mdm.getDevice(mdmDeviceId)).toBeNull();
    expect(await assetsRepo.get(h.db.pool, asset)).toMatchObject({ status: 'retired', mdmDeviceId: null });
    expect(await trail(asset)).toEqual(SAFE_INACTIVATION_TRAIL);
    // The device user got the instructions of each device-side step, in the seed's order.
    const mailed = (await eventsRepo.listForAsset(h.db.pool, asset)).filter((e) => e.eventType === 'notice-sent');
    expect(mailed.map((e) => e.details.taskType)).toEqual([
      'install-removal-profile',
      'remove-profiles',
      'remove-client-app',
    ]);
  });

  it('refuses the unsafe order and changes nothing', async () => {
    const asset = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber: asset });
    const handle = await start(asset);
    await h.waitForStep(handle, 'awaiting-removal-profile');
    const before = await trail(asset);

    for (const event of ['app-removed', 'profiles-removed'] as const) {
      const err = await send(handle, event).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
      const cause = (err as WorkflowUpdateFailedError).cause as { type?: string; message: string; details?: unknown[] };
      expect(cause.type).toBe('EventNotExpected');
      expect(cause.message).toMatch(event === 'app-removed' ? /factory reset/ : /before removal-profile-installed/);
    }
    await h.inactivationDelivered(mdmDeviceId);
    await h.emulator.installRemovalProfile(mdmDeviceId);
    await send(handle, 'removal-profile-installed');
    const err = await send(handle, 'app-removed').catch((e: unknown) => e);
    expect(((err as WorkflowUpdateFailedError).cause as Error).message).toMatch(/profiles are not removed/);

    // The same refusal arriving as a signal is recorded as rejected; the workflow stays where it was.
    await handle.signal(reportSignals['app-removed'], report({}, user));
    const state = await h.waitForState(handle, (s) => s.reports.some((r) => r.outcome === 'rejected'));
    expect(state.step).toBe('awaiting-profile-removal');
    // The rejection reaches the audit trail through an activity, shortly after the state shows it.
    await expect.poll(() => trail(asset)).toEqual([...before, 'removal-profile-installed', 'report-rejected']);
    expect((await h.emulator.device(mdmDeviceId)).status).toBe('active');
    await handle.terminate('test done');
  });

  it('loops through re-enrolment twice after failed profile removals, then succeeds', async () => {
    const asset = newAssetNumber();
    let { mdmDeviceId } = await h.seedDevice({ assetNumber: asset });
    const handle = await start(asset);
    for (let attempt = 1; attempt <= 2; attempt++) {
      await h.waitForStep(handle, 'awaiting-removal-profile');
      await h.inactivationDelivered(mdmDeviceId);
      if (attempt === 1) {
        // The person reports the failure while the MDM still waits for the device: taken at once.
        expect((await send(handle, 'profile-removal-failed', { reason: 'no install screen appeared' })).step).toBe(
          'awaiting-reenrollment',
        );
      } else {
        // The device fails the install and nobody reports it: the MDM's failed job alone moves the process
        // on, and a late report of that attempt is refused with the reason.
        await h.emulator.failRemovalProfile(mdmDeviceId);
        await h.waitForStep(handle, 'awaiting-reenrollment');
        const late = await refusal(handle, 'removal-profile-installed');
        expect(late.message).toMatch(/inactivation job of attempt 2 failed \(removal_profile_failed/);
      }
      mdmDeviceId = (await h.emulator.reEnroll(mdmDeviceId)).newDeviceId;
      await send(handle, 'device-reenrolled', { mdmDeviceId });
      await h.waitForState(
        handle,
        (s) => s.step === 'awaiting-removal-profile' && s.inactivationAttempts === attempt + 1,
      );
    }
    expect((await assetsRepo.get(h.db.pool, asset))?.mdmDeviceId).toBe(mdmDeviceId);
    await h.inactivationDelivered(mdmDeviceId);
    await h.emulator.installRemovalProfile(mdmDeviceId);
    await send(handle, 'removal-profile-installed');
    await h.emulator.removeProfiles(mdmDeviceId);
    await send(handle, 'profiles-removed');
    await h.emulator.removeApp(mdmDeviceId);
    await send(handle, 'app-removed');
    expect((await handle.result()).inactivationAttempts).toBe(3);
    await recordHistoryIfAsked('inactivation-failure-loop-twice', handle, INACTIVATION_WORKFLOW);
    expect(await assetsRepo.get(h.db.pool, asset)).toMatchObject({ status: 'retired' });
  });

  it('cancels the open job of an earlier attempt before requesting the inactivation again', async () => {
    const asset = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber: asset });
    const handle = await start(asset);
    await h.waitForStep(handle, 'awaiting-removal-profile');
    await h.inactivationDelivered(mdmDeviceId);
    // The person reports the failure while the MDM still waits for the device: its job stays open.
    await send(handle, 'profile-removal-failed', { reason: 'the install screen never appeared' });
    // The device is still enrolled under the same id, so the re-enrolment is confirmed at once.
    await send(handle, 'device-reenrolled', { mdmDeviceId });
    await h.waitForState(handle, (s) => s.step === 'awaiting-removal-profile' && s.inactivationAttempts === 2);
    const jobs = (await h.emulator.jobs()).filter((j) => j.deviceId === mdmDeviceId && j.type === 'inactivate');
    expect(jobs.map((j) => [j.status, j.error?.code])).toEqual([
      ['failed', 'cancelled'],
      [expect.stringMatching(/queued|acknowledged/), undefined],
    ]);
    expect(await trail(asset)).toContain('mdm-command-cancelled');
    expect((await handle.query(stateQuery)).status).toBe('running');
    await handle.terminate('test done');
  });

  it('goes to needs-attention after the attempts limit; abort ends it with nothing undone', async () => {
    const asset = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber: asset });
    const handle = await start(asset, { maxAttempts: 1 });
    await h.waitForStep(handle, 'awaiting-removal-profile');
    await h.inactivationDelivered(mdmDeviceId);
    await h.emulator.failRemovalProfile(mdmDeviceId);
    const parked = await h.waitForStep(handle, 'needs-attention');
    expect(parked.lastError).toMatch(/limit 1/);
    await handle.executeUpdate(adminUpdates.abort, { args: [command('device lost')] });
    const final: LifecycleState = await handle.result();
    expect(final.status).toBe('aborted');
    await recordHistoryIfAsked('inactivation-attempts-limit-abort', handle, INACTIVATION_WORKFLOW);
    const events = await eventsRepo.listForAsset(h.db.pool, asset);
    expect(events.at(-1)).toMatchObject({ eventType: 'aborted', actor: admin.id });
    expect(await assetsRepo.get(h.db.pool, asset)).toMatchObject({ status: 'in_use' });
  });

  it('runs a forced inactivation; a factory reset is found in the MDM and the admin retires the asset as reset', async () => {
    const asset = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber: asset });
    const handle = await start(asset, { forced: true, acknowledgeProfileStays: true });
    // Forced: no device-side steps; the emulator finishes the job at once.
    const final: LifecycleState = await handle.result();
    expect(final.status).toBe('completed');
    expect(final.steps.map((s) => s.step)).not.toContain('awaiting-removal-profile');
    const events = await eventsRepo.listForAsset(h.db.pool, asset);
    expect(events.map((e) => e.eventType)).toContain('forced-inactivation-requested');
    expect(events.find((e) => e.eventType === 'inactivation-completed')?.details).toMatchObject({
      forced: true,
      profileStaysOnDevice: true,
    });
    expect(await h.mdm.getDevice(mdmDeviceId)).toBeNull();

    // A job that fails in the MDM: the device's user removes the app first -> a factory reset; the
    // emulator fails the job. The workflow learns it from the MDM, not from people.
    const asset2 = newAssetNumber();
    const second = await h.seedDevice({ assetNumber: asset2 });
    const handle2 = await start(asset2);
    await h.waitForStep(handle2, 'awaiting-removal-profile');
    await h.inactivationDelivered(second.mdmDeviceId);
    await h.emulator.removeApp(second.mdmDeviceId); // the device-side mistake the workflow cannot prevent
    const parked = await h.waitForStep(handle2, 'needs-attention');
    expect(parked).toMatchObject({ failedStep: 'awaiting-removal-profile' });
    expect(parked.lastError).toMatch(/factory reset.*device_factory_reset.*retire-as-reset/);
    // Device-side reports for that attempt are refused with the reason; nothing is recorded for them.
    for (const event of ['removal-profile-installed', 'profiles-removed', 'app-removed'] as const) {
      expect((await refusal(handle2, event)).message).toMatch(/needs attention: the device was factory reset/);
    }
    await expect
      .poll(() => trail(asset2))
      .toEqual(['inactivation-requested', 'factory-reset-detected', 'needs-attention']);
    // The admin retires it as reset: the MDM record goes and the asset is retired, with the reason.
    await handle2.executeUpdate(adminUpdates.retry, {
      args: [{ ...command('device was wiped by the user'), resolution: 'retire-as-reset' }],
    });
    expect((await handle2.result()).status).toBe('completed');
    await recordHistoryIfAsked('inactivation-factory-reset-retired', handle2, INACTIVATION_WORKFLOW);
    expect(await assetsRepo.get(h.db.pool, asset2)).toMatchObject({ status: 'retired', mdmDeviceId: null });
    expect((await trail(asset2)).slice(-4)).toEqual([
      'needs-attention',
      'retry',
      'mdm-record-deleted',
      'retired-as-reset',
    ]);
    expect(await h.mdm.getDevice(second.mdmDeviceId)).toBeNull();
  });
});
