/**
 * Change device user (DESIGN §3.1): collect the device from its current user, return it to stock, wipe
 * it in the MDM, delete and re-enrol it, assign it to a new user and deliver it against a signature.
 */
import { continueAsNew, workflowInfo } from '@temporalio/workflow';
import type { AssetSnapshot, MdmJobRef } from '../activities/contracts';
import { bookkeeping, call, callCheck } from './activityProxy';
import {
  CHANGE_USER_EVENTS,
  type ActorRef,
  type ChangeUserInput,
  type HumanReport,
  type LifecycleState,
  type NewUser,
} from './definitions';
import { noticeSender, reenrolAndVerify, resumeIndex, taskSpec } from './humanTasks';
import { registerMessageContract } from './messageContract';
import { Lifecycle, type TaskNotice, type TaskSpec } from './lifecycle';
import type { NextStep, ReportCheck } from './reportIntake';
import { waitForMdmJob } from './mdmJobWait';
import { nowIso } from './stepLog';
import { taskContactOf } from './taskContact';

export async function changeDeviceUser(input: ChangeUserInput): Promise<LifecycleState> {
  const lc = new Lifecycle(
    'change-user',
    input.assetNumber,
    bookkeeping,
    input.requestedBy,
    input.limits,
    input.resume,
  );
  lc.continueWith = (resume) => continueAsNew<typeof changeDeviceUser>({ ...input, resume });
  // A cancel or abort puts back what was only planned (records-1).
  lc.undoOnStop = (ctx) =>
    call('undoPlanned', 'undo what was only planned', ctx, { firstRunId: workflowInfo().firstExecutionRunId });
  // The message contract (workflows/messageContract.ts), registered before the first await.
  registerMessageContract(lc, CHANGE_USER_EVENTS);
  return lc.run(() => changeUserSteps(lc, input));
}

/** Where a continued run can pick up: the human tasks of the process, in order (continue-as-new-1). */
const RESUME_POINTS = ['collect-device', 'confirm-wipe', 'reenroll-device', 'assign-user', 'deliver-device'];

/** What the steps after a human task need; carried to the next run when the process continues as new. */
interface ChangeUserCarry {
  asset?: AssetSnapshot;
  assignment?: Assignment;
  /** The wipe a person may have to confirm (mdm-weather-1): read again before the record is deleted. */
  wipeRef?: MdmJobRef;
  /** The collection task's row was opened by scheduleCollection (lean-1), at this time. */
  collectionOpenedAhead?: { createdAt: string };
  [key: string]: unknown;
}

async function changeUserSteps(lc: Lifecycle, input: ChangeUserInput): Promise<void> {
  const c: ChangeUserCarry = { ...(input.resume?.carry as ChangeUserCarry | undefined) };
  const from = resumeIndex(input.resume?.at, RESUME_POINTS);
  if (from < 0) c.asset = await scheduleCollection(lc, input, c);
  const notice = changeUserNotices(lc, input);

  if (from <= 0) {
    const collected = await waitForCollection(lc, input, c, notice);
    await returnToStock(lc, input, c, collected);
    await wipe(lc, input, notice, c);
  } else if (from === 1) {
    await confirmWipe(lc, input, notice, c);
  }
  if (from <= 1) {
    await lc.runStep('removing-from-mdm', (ctx) =>
      lc.mdm('deleteFromMdm', 'delete the device record from the MDM', ctx),
    );
  }

  if (from <= 2) {
    await reenrolAndVerify(lc, {
      timings: input.timings,
      contact: { name: input.adminInCharge.name, email: input.adminInCharge.email },
      verifySummary: `verify ${c.asset?.serialNumber} is enrolled in the MDM`,
      then: input.newUser ? 'assigning' : 'awaiting-assignment',
      notice,
      carry: c,
    });
  }

  if (from <= 3) {
    const assignment = await chooseNewUser(lc, input, notice, c, from === 3);
    c.assignment = assignment;
    c.asset = await lc.runStep(
      'assigning',
      (ctx) => call('assignUser', 'assign the device to the new user', ctx, assignment), // no name: issue 12
      assignment.actor,
    );
    lc.setWhereabouts(c.asset.department, c.asset.location);
  }

  await deliver(lc, input, c.assignment as Assignment, notice, c);
}

async function returnToStock(lc: Lifecycle, input: ChangeUserInput, c: ChangeUserCarry, collected: HumanReport) {
  const storageLocation = (collected.data as { storageLocation?: string }).storageLocation ?? input.storageLocation;
  const asset = await lc.runStep(
    'returning-to-stock',
    (ctx) =>
      call('returnToStock', `in stock at ${storageLocation}`, ctx, {
        storageLocation,
        admin: input.adminInCharge,
        report: { ...collected.data },
      }),
    collected.actor,
  );
  c.asset = asset;
  lc.setWhereabouts(asset.department, asset.location);
}

/**
 * Plans the device back into stock on its date and tells its user; from fleet-scale-1 on in one activity,
 * which from lean-1 on also opens the collection task's row in the task index.
 */
async function scheduleCollection(lc: Lifecycle, input: ChangeUserInput, c: ChangeUserCarry): Promise<AssetSnapshot> {
  const schedule = () =>
    lc.runStep('scheduled', (ctx) => {
      const ahead = lc.features.lean ? { createdAt: nowIso() } : undefined;
      c.collectionOpenedAhead = ahead;
      return call('scheduleCollection', 'plan collection and notify the current user', ctx, {
        plannedDate: input.plannedCollectionDate,
        reason: input.reason,
        ...(ahead ? { collectionTask: lc.rowAhead(collectionTask(input), ahead.createdAt) } : {}),
      });
    });
  if (lc.features.fleetScale) {
    const asset = await schedule();
    lc.setWhereabouts(asset.department, asset.location);
    return asset;
  }
  const loaded = await lc.parkOnFailure('scheduled', () =>
    call('loadAsset', `load asset ${input.assetNumber}`, input.assetNumber),
  );
  lc.setWhereabouts(loaded.department, loaded.location);
  return schedule();
}

function changeUserNotices(lc: Lifecycle, input: ChangeUserInput): TaskNotice {
  return noticeSender(lc, (kind, task) => ({
    subject:
      kind === 'reminder'
        ? `Reminder: ${task.type} for device ${input.assetNumber} is due ${task.dueAt.slice(0, 10)}`
        : `Overdue: ${task.type} for device ${input.assetNumber} (due ${task.dueAt.slice(0, 10)})`,
    text:
      `Device ${input.assetNumber}: ${task.type} (waiting for ${task.expects.join(' or ')}) was due ${task.dueAt}.\n` +
      `Reason for the change: ${input.reason}\n`,
  }));
}

/** Reminders before and at the planned date go to the current user; admins hear when it is overdue. */
async function waitForCollection(
  lc: Lifecycle,
  input: ChangeUserInput,
  c: ChangeUserCarry,
  notice: TaskNotice,
): Promise<HumanReport> {
  const asset = c.asset as AssetSnapshot;
  const spec: TaskSpec = { ...collectionTask(input), contact: taskContactOf(asset), carry: c };
  if (c.collectionOpenedAhead) spec.openedAhead = c.collectionOpenedAhead;
  const received = await lc.awaitTask(spec, notice);
  return received.report;
}

/** The collection task: due on the planned date, reminded the day before and on it, escalated after. */
function collectionTask(input: ChangeUserInput): TaskSpec {
  const planned = new Date(input.plannedCollectionDate);
  const { timings } = input;
  return {
    type: 'collect-device',
    step: 'awaiting-collection',
    expects: ['device-collected'],
    dueAt: planned,
    remindAt: [new Date(planned.getTime() - timings.reminderBeforeMs), planned],
    escalateAt: new Date(planned.getTime() + timings.escalateAfterMs),
    repeatEveryMs: timings.taskReminderEveryMs,
  };
}

/**
 * MDM initialize with the keep-record option, then wait for the command. An erase the MDM never
 * acknowledges falls back to a person confirming the wipe; a failed one needs an admin.
 */
async function wipe(lc: Lifecycle, input: ChangeUserInput, notice: TaskNotice, c: ChangeUserCarry): Promise<void> {
  const { timings } = input;
  for (;;) {
    const ref = await lc.runStep('wiping', (ctx) =>
      lc.mdm('requestWipe', `MDM wipe (keep record: ${input.keepRecordAfterWipe})`, ctx, {
        keepRecord: input.keepRecordAfterWipe,
      }),
    );
    if (lc.features.mdmWeather) c.wipeRef = ref;
    const result = await waitForMdmJob(lc, ref, {
      deadlineMs: timings.wipeAckTimeoutMs,
      pollInitialMs: timings.pollInitialMs,
      pollMaxMs: timings.pollMaxMs,
      what: 'MDM wipe',
      step: 'wiping',
    });
    if (result.outcome === 'succeeded') {
      await lc.parkOnFailure('wiping', () =>
        call('recordEvent', 'record the finished wipe', lc.context('wiping', undefined, 'finished'), 'wipe-finished', {
          ...ref,
        }),
      );
      return;
    }
    if (result.outcome === 'timed-out') {
      lc.note('The MDM did not acknowledge the wipe in time; waiting for a person to confirm it.');
      await confirmWipe(lc, input, notice, c);
      return;
    }
    await lc.waitForAdminDecision('wiping', `MDM wipe failed: ${result.detail}`, 'mdm-job-failed');
  }
}

/**
 * The fallback when the MDM never acknowledges the wipe: a person confirms it. From mdm-weather-1 on the
 * MDM is read again first: a confirmation is refused while the MDM shows the wipe failed, and after it is
 * taken the record is deleted only if the MDM still does not show that (else an admin decides, and retry
 * sends the wipe again).
 */
async function confirmWipe(lc: Lifecycle, input: ChangeUserInput, notice: TaskNotice, c: ChangeUserCarry) {
  const confirm = taskSpec(input.timings, Date.now(), {
    type: 'confirm-wipe',
    step: 'wiping',
    expects: ['wipe-confirmed'],
    carry: c,
  });
  const ref = lc.features.mdmWeather ? c.wipeRef : undefined;
  if (!ref) {
    await lc.awaitTask(confirm, notice);
    return;
  }
  await lc.awaitTask({ ...confirm, check: wipeNotFailedCheck(ref) }, notice);
  const job = await lc.parkOnFailure('wiping', () =>
    lc.mdm('getMdmJobState', 'read the wipe again before the record is deleted', ref),
  );
  if (job.state !== 'failed') return;
  await lc.waitForAdminDecision(
    'wiping',
    `wipe-confirmed was reported, but the MDM reports the wipe failed (${job.detail ?? 'no detail'}); retry sends the wipe again`,
    'mdm-job-failed',
  );
  await wipe(lc, input, notice, c);
}

function wipeNotFailedCheck(ref: MdmJobRef): ReportCheck {
  return async () => {
    const job = await callCheck('getMdmJobState', 'read the wipe before taking the confirmation', ref).catch(
      () => undefined,
    );
    if (job?.state !== 'failed') return undefined;
    const detail = job.detail ?? 'no detail';
    return {
      reason: `wipe-confirmed is refused: the MDM reports the wipe failed (${detail})`,
      mdm: { job: 'failed', detail },
    };
  };
}

interface Assignment {
  user: NewUser;
  applicationId?: string;
  actor: ActorRef;
}

/** The new user comes from the start request, a waiting application, or a `user-assigned` report. */
async function chooseNewUser(
  lc: Lifecycle,
  input: ChangeUserInput,
  notice: TaskNotice,
  c: ChangeUserCarry,
  resumed: boolean,
): Promise<Assignment> {
  if (input.newUser) return { user: input.newUser, actor: input.requestedBy };
  const step = 'awaiting-assignment';
  if (!resumed) {
    const oldest = await lc.parkOnFailure(step, () =>
      call('claimApplication', 'take the oldest waiting application', lc.context(step, undefined, 'claim-oldest'), {}),
    );
    if (oldest.applicationId)
      return { user: oldest.user, applicationId: oldest.applicationId, actor: input.requestedBy };
  }
  const contact = { name: input.adminInCharge.name, email: input.adminInCharge.email };
  let reopenedBecause: string | undefined;
  for (;;) {
    const spec = taskSpec(input.timings, Date.now(), {
      type: 'assign-user',
      step,
      expects: ['user-assigned'],
      contact,
      next: toAssigning,
      carry: c,
    });
    const got = await lc.awaitTask({ ...spec, reopenedBecause }, notice);
    const data = got.report.data as { applicationId?: string; user?: NewUser };
    if (data.user) return { user: data.user, actor: got.report.actor };
    const app = await lc.parkOnFailure(step, () =>
      call(
        'claimApplication',
        `take application ${data.applicationId}`,
        lc.context(step, got.report.actor, `claim-${data.applicationId}`),
        { applicationId: data.applicationId },
      ),
    );
    if (app.applicationId) return { user: app.user, applicationId: app.applicationId, actor: got.report.actor };
    const because = `Application ${data.applicationId} could not be used: ${'reason' in app ? app.reason : 'unknown'}`;
    reopenedBecause = await lc.reopenTask(step, because);
  }
}

/** A user given in the report is assigned at once; an application must still be available first. */
const toAssigning: NextStep = (_event, report) =>
  (report.data as { applicationId?: string }).applicationId
    ? { step: 'assigning', pending: 'the application must still be available' }
    : { step: 'assigning' };

/** The new user signs for the device; the signed receipt is kept as evidence. */
async function deliver(
  lc: Lifecycle,
  input: ChangeUserInput,
  assignment: Assignment,
  notice: TaskNotice,
  c: ChangeUserCarry,
) {
  const step = 'awaiting-delivery';
  const contact = { name: assignment.user.name, email: assignment.user.email, phone: assignment.user.phone };
  const spec = taskSpec(input.timings, Date.now(), {
    type: 'deliver-device',
    step,
    expects: ['device-delivered'],
    contact,
    next: () => ({ step: 'completed', pending: 'the signed receipt is being stored' }),
    carry: c,
  });
  const delivered = await lc.awaitTask(spec, notice);
  await lc.parkOnFailure(step, () =>
    call('recordDelivery', 'keep the signed receipt as evidence', lc.context(step, delivered.report.actor, 'receipt'), {
      receipt: { ...delivered.report.data },
      applicationId: assignment.applicationId,
    }),
  );
}
