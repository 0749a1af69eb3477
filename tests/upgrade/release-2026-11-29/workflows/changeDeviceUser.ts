/**
 * Change device user (DESIGN §3.1): collect the device from its current user, return it to stock, wipe
 * it in the MDM, delete and re-enrol it, assign it to a new user and deliver it against a signature.
 */
import type { AssetSnapshot } from '../activities/contracts';
import { bookkeeping, call } from './activityProxy';
import type { ChangeUserInput, HumanReport, HumanTask, LifecycleState, NewUser } from './definitions';
import { Lifecycle } from './lifecycle';
import { waitForMdmJob } from './mdmJobWait';

export async function changeDeviceUser(input: ChangeUserInput): Promise<LifecycleState> {
  const lc = new Lifecycle('change-user', input.assetNumber, bookkeeping, input.requestedBy);
  return lc.run(() => changeUserSteps(lc, input));
}

async function changeUserSteps(lc: Lifecycle, input: ChangeUserInput): Promise<void> {
  let asset = await lc.guard('scheduled', () => call('loadAsset', `load asset ${input.assetNumber}`, input.assetNumber));
  lc.setWhereabouts(asset.department, asset.location);
  const notify = noticeSender(lc, input);

  asset = await lc.runStep('scheduled', (ctx) =>
    call('scheduleCollection', 'plan collection and notify the current user', ctx, { plannedDate: input.plannedCollectionDate, reason: input.reason }));

  const collected = await awaitCollection(lc, input, asset, notify);

  const storageLocation = (collected.data as { storageLocation?: string }).storageLocation ?? input.storageLocation;
  asset = await lc.runStep('returning-to-stock', (ctx) =>
    call('returnToStock', `in stock at ${storageLocation}`, ctx, { storageLocation, admin: input.adminInCharge, report: { ...collected.data } }),
  collected.actor);
  lc.setWhereabouts(asset.department, asset.location);

  await wipe(lc, input, notify);

  await lc.runStep('removing-from-mdm', (ctx) => call('deleteFromMdm', 'delete the device record from the MDM', ctx));

  await reenrol(lc, input, asset, notify);

  const assignment = await chooseNewUser(lc, input, notify);
  asset = await lc.runStep('assigning', (ctx) =>
    call('assignUser', `assign to ${assignment.user.name}`, ctx, assignment), assignment.actor);
  lc.setWhereabouts(asset.department, asset.location);

  const delivered = await lc.awaitTask(
    { ...taskTimes(input, Date.now()), type: 'deliver-device', step: 'awaiting-delivery', expects: ['device-delivered'],
      contact: { name: assignment.user.name, email: assignment.user.email, phone: assignment.user.phone } },
    notify,
  );
  await lc.guard('awaiting-delivery', () => call('recordDelivery', 'keep the signed receipt as evidence',
    lc.context('awaiting-delivery', delivered.report.actor, 'receipt'), { receipt: { ...delivered.report.data }, applicationId: assignment.applicationId }));
}

type Notify = (kind: 'reminder' | 'escalation', task: HumanTask) => Promise<void>;

/** Reminders go to the person the task concerns; escalations go to the admins (the activity knows them). */
function noticeSender(lc: Lifecycle, input: ChangeUserInput): Notify {
  return async (kind, task) => {
    const ctx = lc.context(task.step, undefined, `${kind}-${task.remindersSent}-${Date.now()}`);
    const to = kind === 'reminder' && task.contact?.email ? [task.contact.email] : [];
    await call('sendNotice', `${kind} for ${task.type}`, ctx, kind, {
      to,
      subject: kind === 'reminder'
        ? `Reminder: ${task.type} for device ${input.assetNumber} is due ${task.dueAt.slice(0, 10)}`
        : `Overdue: ${task.type} for device ${input.assetNumber} (due ${task.dueAt.slice(0, 10)})`,
      text: `Device ${input.assetNumber}: ${task.type} (waiting for ${task.expects.join(' or ')}) was due ${task.dueAt}.\n` +
        `Reason for the change: ${input.reason}\n`,
    });
  };
}

function taskTimes(input: ChangeUserInput, from: number) {
  const due = from + input.timings.escalateAfterMs;
  return { dueAt: new Date(from), escalateAt: new Date(due), repeatEveryMs: input.timings.taskReminderEveryMs };
}

async function awaitCollection(lc: Lifecycle, input: ChangeUserInput, asset: AssetSnapshot, notify: Notify): Promise<HumanReport> {
  const planned = new Date(input.plannedCollectionDate);
  const received = await lc.awaitTask({
    type: 'collect-device',
    step: 'awaiting-collection',
    expects: ['device-collected'],
    dueAt: planned,
    contact: { name: asset.userName ?? undefined, email: asset.userEmail ?? undefined, phone: asset.userPhone ?? undefined },
    remindAt: [new Date(planned.getTime() - input.timings.reminderBeforeMs), planned],
    escalateAt: new Date(planned.getTime() + input.timings.escalateAfterMs),
    repeatEveryMs: input.timings.taskReminderEveryMs,
  }, notify);
  return received.report;
}

/**
 * MDM initialize with the keep-record option, then wait for the command. An erase the MDM never
 * acknowledges falls back to a person confirming the wipe; a failed one needs an admin.
 */
async function wipe(lc: Lifecycle, input: ChangeUserInput, notify: Notify): Promise<void> {
  for (;;) {
    const ref = await lc.runStep('wiping', (ctx) =>
      call('requestWipe', `MDM wipe (keep record: ${input.keepRecordAfterWipe})`, ctx, { keepRecord: input.keepRecordAfterWipe }));
    const result = await waitForMdmJob(lc, ref, {
      deadlineMs: input.timings.wipeAckTimeoutMs, pollInitialMs: input.timings.pollInitialMs, pollMaxMs: input.timings.pollMaxMs, what: 'MDM wipe', step: 'wiping',
    });
    if (result.outcome === 'succeeded') {
      await lc.guard('wiping', () => call('recordEvent', 'record the finished wipe', lc.context('wiping', undefined, 'finished'), 'wipe-finished', { ...ref }));
      return;
    }
    if (result.outcome === 'timed-out') {
      lc.note('The MDM did not acknowledge the wipe in time; waiting for a person to confirm it.');
      await lc.awaitTask({
        ...taskTimes(input, Date.now()), type: 'confirm-wipe', step: 'wiping', expects: ['wipe-confirmed'],
      }, notify);
      return;
    }
    await lc.needsAttention('wiping', `MDM wipe failed: ${result.detail}`);
  }
}

/** The device is re-registered by a person; the MDM must then show it enrolled before we go on. */
async function reenrol(lc: Lifecycle, input: ChangeUserInput, asset: AssetSnapshot, notify: Notify): Promise<void> {
  for (;;) {
    const report = await lc.awaitTask({
      ...taskTimes(input, Date.now()), type: 'reenroll-device', step: 'awaiting-reenrollment', expects: ['device-reenrolled'],
      contact: { name: input.adminInCharge.name, email: input.adminInCharge.email },
    }, notify);
    const data = report.report.data as { mdmDeviceId?: string };
    const verified = await lc.guard('awaiting-reenrollment', () => call('verifyEnrollment', `verify ${asset.serialNumber} is enrolled in the MDM`,
      lc.context('awaiting-reenrollment', report.report.actor, 'verify'), { reportedMdmDeviceId: data.mdmDeviceId }));
    if (verified.enrolled) return;
    lc.note(`Re-enrolment reported by ${report.report.actor.id} but not confirmed by the MDM: ${verified.reason ?? 'not enrolled'}`);
  }
}

interface Assignment {
  user: NewUser;
  applicationId?: string;
  actor: { id: string; role: string };
}

/** The new user comes from the start request, a waiting application, or a `user-assigned` report. */
async function chooseNewUser(lc: Lifecycle, input: ChangeUserInput, notify: Notify): Promise<Assignment> {
  if (input.newUser) return { user: input.newUser, actor: input.requestedBy };
  const claimed = await lc.guard('awaiting-assignment', () =>
    call('claimApplication', 'take the oldest waiting application', lc.context('awaiting-assignment', undefined, 'claim-oldest'), {}));
  if (claimed.applicationId) return { user: claimed.user, applicationId: claimed.applicationId, actor: input.requestedBy };
  for (;;) {
    const got = await lc.awaitTask({
      ...taskTimes(input, Date.now()), type: 'assign-user', step: 'awaiting-assignment', expects: ['user-assigned'],
      contact: { name: input.adminInCharge.name, email: input.adminInCharge.email },
    }, notify);
    const data = got.report.data as { applicationId?: string; user?: NewUser };
    if (data.user) return { user: data.user, actor: got.report.actor };
    const app = await lc.guard('awaiting-assignment', () => call('claimApplication', `take application ${data.applicationId}`,
      lc.context('awaiting-assignment', got.report.actor, `claim-${data.applicationId}`), { applicationId: data.applicationId }));
    if (app.applicationId) return { user: app.user, applicationId: app.applicationId, actor: got.report.actor };
    lc.note(`Application ${data.applicationId} could not be used: ${'reason' in app ? app.reason : 'unknown'}`);
  }
}
