/**
 * Inactivate device (DESIGN §3.2): take a device out of MDM management in the one order that does not
 * brick it — request a non-forced inactivation, the user installs the removal profile, removes the
 * profiles, and only then deletes the client app; verify in the MDM, delete the record, update the asset.
 */
import type { MdmJobRef } from '../activities/contracts';
import { bookkeeping, call } from './activityProxy';
import type { HumanEventName, HumanTask, InactivationInput, LifecycleState, Step } from './definitions';
import { Lifecycle } from './lifecycle';
import { waitForMdmJob } from './mdmJobWait';

const APP_BEFORE_PROFILES =
  'app-removed is refused while the profiles are not removed: deleting the client app first can force a factory reset';

export async function inactivateDevice(input: InactivationInput): Promise<LifecycleState> {
  const lc = new Lifecycle('inactivation', input.assetNumber, bookkeeping, input.requestedBy);
  return lc.run(() => inactivationSteps(lc, input));
}

async function inactivationSteps(lc: Lifecycle, input: InactivationInput): Promise<void> {
  const asset = await lc.guard('requesting-inactivation', () => call('loadAsset', `load asset ${input.assetNumber}`, input.assetNumber));
  lc.setWhereabouts(asset.department, asset.location);
  const notify = escalator(lc, input);
  const contact = { name: asset.userName ?? undefined, email: asset.userEmail ?? undefined, phone: asset.userPhone ?? undefined };
  if (input.forced) lc.note('Forced inactivation: the device-side steps are skipped and the MDM profile stays on the device.');
  lc.state.inactivationAttempts = 0;

  for (;;) {
    lc.state.inactivationAttempts += 1;
    const ref = await lc.runStep('requesting-inactivation', (ctx) =>
      call('requestInactivation', `${input.forced ? 'FORCED' : 'non-forced'} inactivation request, attempt ${lc.state.inactivationAttempts}`,
        ctx, { forced: input.forced }));
    if (!input.forced) {
      const deviceSide = await deviceSideSteps(lc, input, contact, notify);
      if (deviceSide === 'failed') {
        await recoverFromFailure(lc, input, contact, notify);
        continue;
      }
    }
    if (await verified(lc, input, ref)) break;
  }

  await lc.runStep('deleting-from-mdm', (ctx) => call('deleteFromMdm', 'delete the device record from the MDM', ctx));
  await lc.runStep('updating-asset', (ctx) =>
    call('finishInactivation', `asset status := ${input.finalStatus}, MDM id cleared`, ctx, { finalStatus: input.finalStatus, forced: input.forced }));
}

type Notify = (kind: 'reminder' | 'escalation', task: HumanTask) => Promise<void>;

/** Device-side tasks wait on the device user; when nobody reports, the admins hear about it. */
function escalator(lc: Lifecycle, input: InactivationInput): Notify {
  return async (kind, task) => {
    await call('sendNotice', `${kind} for ${task.type}`, lc.context(task.step, undefined, `${kind}-${Date.now()}`), kind, {
      to: kind === 'reminder' && task.contact?.email ? [task.contact.email] : [],
      subject: `${kind === 'reminder' ? 'Reminder' : 'Overdue'}: ${task.type} for device ${input.assetNumber}`,
      text: `Device ${input.assetNumber} is being inactivated (${input.reason}). Waiting for ${task.expects.join(' or ')} since ${task.createdAt}.\n`,
    });
  };
}

type Contact = HumanTask['contact'];

function task(input: InactivationInput, contact: Contact, type: string, step: Step, expects: HumanEventName[], refusal?: (e: HumanEventName) => string | undefined) {
  const now = Date.now();
  return {
    type, step, expects, refusal,
    dueAt: new Date(now),
    escalateAt: new Date(now + input.timings.escalateAfterMs),
    repeatEveryMs: input.timings.taskReminderEveryMs,
    contact,
  };
}

async function deviceSideSteps(lc: Lifecycle, input: InactivationInput, contact: Contact, notify: Notify): Promise<'done' | 'failed'> {
  const installed = await lc.awaitTask(task(input, contact, 'install-removal-profile', 'awaiting-removal-profile',
    ['removal-profile-installed', 'profile-removal-failed'], (e) =>
      e === 'profiles-removed' ? 'profiles-removed is refused before removal-profile-installed: the MDM profile cannot be removed without the removal profile'
        : e === 'app-removed' ? APP_BEFORE_PROFILES : undefined), notify);
  if (installed.event === 'profile-removal-failed') return 'failed';

  const removed = await lc.awaitTask(task(input, contact, 'remove-profiles', 'awaiting-profile-removal',
    ['profiles-removed', 'profile-removal-failed'], (e) => (e === 'app-removed' ? APP_BEFORE_PROFILES : undefined)), notify);
  if (removed.event === 'profile-removal-failed') return 'failed';

  await lc.awaitTask(task(input, contact, 'remove-client-app', 'awaiting-app-removal', ['app-removed']), notify);
  return 'done';
}

/**
 * After a failed profile removal the device is re-registered and must show as active in the MDM before
 * the inactivation starts again; after too many attempts an admin decides.
 */
async function recoverFromFailure(lc: Lifecycle, input: InactivationInput, contact: Contact, notify: Notify): Promise<void> {
  if ((lc.state.inactivationAttempts ?? 0) >= input.maxAttempts) {
    await lc.needsAttention('awaiting-reenrollment',
      `profile removal failed ${lc.state.inactivationAttempts} times (limit ${input.maxAttempts}); retry allows one more attempt`);
  }
  for (;;) {
    const got = await lc.awaitTask(task(input, contact, 'reenroll-device', 'awaiting-reenrollment', ['device-reenrolled']), notify);
    const data = got.report.data as { mdmDeviceId?: string };
    const check = await lc.guard('awaiting-reenrollment', () => call('verifyEnrollment', 'verify the device is active in the MDM again',
      lc.context('awaiting-reenrollment', got.report.actor, 'verify'), { reportedMdmDeviceId: data.mdmDeviceId }));
    if (check.enrolled) return;
    lc.note(`Re-enrolment reported by ${got.report.actor.id} but the MDM does not show the device active: ${check.reason ?? ''}`);
  }
}

/** The job must have succeeded and the device must be inactive; a failed or stuck job needs an admin. */
async function verified(lc: Lifecycle, input: InactivationInput, ref: MdmJobRef): Promise<boolean> {
  lc.enterStep('verifying');
  const t = input.timings;
  const job = await waitForMdmJob(lc, ref, {
    deadlineMs: t.verifyDeadlineMs, pollInitialMs: t.pollInitialMs, pollMaxMs: t.pollMaxMs, what: 'inactivation job', step: 'verifying',
  });
  if (job.outcome === 'succeeded') {
    const device = await lc.guard('verifying', () => call('getDeviceState', 'check the device is inactive', lc.context('verifying')));
    if (device.status === 'inactive') {
      await lc.guard('verifying', () =>
        call('recordEvent', 'record the verified inactivation', lc.context('verifying', undefined, 'verified'), 'inactivation-verified', { ...ref }));
      return true;
    }
    await lc.needsAttention('verifying', `the inactivation job succeeded but the device status is ${device.status ?? 'unknown'}, not inactive`);
    return false;
  }
  await lc.needsAttention('verifying', job.outcome === 'failed'
    ? `the MDM inactivation job failed: ${job.detail}; retry requests the inactivation again`
    : `the inactivation job did not finish within ${Math.round(t.verifyDeadlineMs / 60_000)} minutes; retry requests it again`);
  return false;
}
