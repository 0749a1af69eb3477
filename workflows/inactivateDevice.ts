/**
 * Inactivate device (DESIGN §3.2): take a device out of MDM management in the one order that does not
 * brick it — request a non-forced inactivation, the user installs the removal profile, removes the
 * profiles, and only then deletes the client app; verify in the MDM, delete the record, update the asset.
 */
import { continueAsNew, setDefaultSignalHandler, setHandler } from '@temporalio/workflow';
import type { MdmJobRef } from '../activities/contracts';
import { bookkeeping, call } from './activityProxy';
import {
  ADMIN_COMMANDS,
  adminUpdates,
  INACTIVATION_EVENTS,
  isHumanEvent,
  reportSignals,
  reportUpdates,
  stateQuery,
  type HumanEventName,
  type HumanReport,
  type HumanTask,
  type InactivationInput,
  type LifecycleState,
  type Step,
} from './definitions';
import { noticeSender, reenrolAndVerify, resumeIndex, taskSpec } from './humanTasks';
import { Lifecycle, type TaskNotice } from './lifecycle';
import { waitForMdmJob } from './mdmJobWait';
import type { StepRefusal } from './reportIntake';

const APP_BEFORE_PROFILES =
  'app-removed is refused while the profiles are not removed: deleting the client app first can force a factory reset';
const PROFILES_BEFORE_REMOVAL_PROFILE =
  'profiles-removed is refused before removal-profile-installed: the MDM profile cannot be removed without the removal profile';

export async function inactivateDevice(input: InactivationInput): Promise<LifecycleState> {
  const lc = new Lifecycle(
    'inactivation',
    input.assetNumber,
    bookkeeping,
    input.requestedBy,
    input.limits,
    input.resume,
  );
  lc.continueWith = (resume) => continueAsNew<typeof inactivateDevice>({ ...input, resume });
  // The message contract, registered before the first await.
  setHandler(stateQuery, () => lc.state);
  for (const event of INACTIVATION_EVENTS) {
    setHandler(reportUpdates[event], (r) => lc.intake.accept(event, r), {
      validator: (r) => lc.intake.validate(event, r),
    });
    setHandler(reportSignals[event], (r) => lc.intake.onSignal(event, r));
  }
  // Another process's report sent as a Signal (UI, CLI) is recorded as rejected, as an unfit one is;
  // as an Update it has no handler here, so Temporal refuses it and nothing is written.
  setDefaultSignalHandler((name, r) => (isHumanEvent(name) ? lc.intake.onSignal(name, r as HumanReport) : undefined));
  for (const command of ADMIN_COMMANDS) {
    setHandler(adminUpdates[command], (c) => lc.control.accept(command, c), {
      validator: (c) => lc.control.validate(command, c),
    });
  }
  return lc.run(() => inactivationSteps(lc, input));
}

type Contact = HumanTask['contact'];

/** Where a continued run can pick up: the human tasks of the process (continue-as-new-1). */
const RESUME_POINTS = ['install-removal-profile', 'remove-profiles', 'remove-client-app', 'reenroll-device'];
const REENROLMENT = RESUME_POINTS.indexOf('reenroll-device');

/** What the steps after a human task need; carried to the next run when the process continues as new. */
interface InactivationCarry {
  contact?: Contact;
  ref?: MdmJobRef;
  [key: string]: unknown;
}

async function inactivationSteps(lc: Lifecycle, input: InactivationInput): Promise<void> {
  const c: InactivationCarry = { ...(input.resume?.carry as InactivationCarry | undefined) };
  let from = resumeIndex(input.resume?.at, RESUME_POINTS);
  if (from < 0) await prepare(lc, input, c);
  const notice = inactivationNotices(lc, input);

  for (;;) {
    if (from < 0) {
      lc.inactivationAttempts = (lc.inactivationAttempts ?? 0) + 1;
      c.ref = await requestInactivation(lc, input, lc.inactivationAttempts);
    }
    if (!input.forced) {
      const resumeAt = from;
      from = -1;
      if (resumeAt === REENROLMENT) {
        await reenrolAgain(lc, input, c, notice);
        continue;
      }
      if ((await deviceSideSteps(lc, input, c, notice, resumeAt)) === 'failed') {
        await recoverFromFailure(lc, input, c, notice);
        continue;
      }
    }
    if (await verifyInactivation(lc, input, c.ref as MdmJobRef)) break;
  }

  await lc.runStep('deleting-from-mdm', (ctx) => lc.mdm('deleteFromMdm', 'delete the device record from the MDM', ctx));
  await lc.runStep('updating-asset', (ctx) =>
    call('finishInactivation', `asset status := ${input.finalStatus}, MDM id cleared`, ctx, {
      finalStatus: input.finalStatus,
      forced: input.forced,
    }),
  );
}

/** Loads the asset: where it is and who uses it (the device-side tasks' contact). */
async function prepare(lc: Lifecycle, input: InactivationInput, c: InactivationCarry): Promise<void> {
  const asset = await lc.parkOnFailure('requesting-inactivation', () =>
    call('loadAsset', `load asset ${input.assetNumber}`, input.assetNumber),
  );
  lc.setWhereabouts(asset.department, asset.location);
  c.contact = {
    name: asset.userName ?? undefined,
    email: asset.userEmail ?? undefined,
    phone: asset.userPhone ?? undefined,
  };
  if (input.forced) {
    lc.note('Forced inactivation: the device-side steps are skipped and the MDM profile stays on the device.');
  }
  lc.inactivationAttempts = 0;
}

function requestInactivation(lc: Lifecycle, input: InactivationInput, attempt: number): Promise<MdmJobRef> {
  const kind = input.forced ? 'FORCED' : 'non-forced';
  return lc.runStep('requesting-inactivation', (ctx) =>
    lc.mdm('requestInactivation', `${kind} inactivation request, attempt ${attempt}`, ctx, { forced: input.forced }),
  );
}

/** Device-side tasks wait on the device user; when nobody reports, the admins hear about it. */
function inactivationNotices(lc: Lifecycle, input: InactivationInput): TaskNotice {
  return noticeSender(lc, (kind, task) => ({
    subject: `${kind === 'reminder' ? 'Reminder' : 'Overdue'}: ${task.type} for device ${input.assetNumber}`,
    text:
      `Device ${input.assetNumber} is being inactivated (${input.reason}). ` +
      `Waiting for ${task.expects.join(' or ')} since ${task.createdAt}.\n`,
  }));
}

function deviceTask(
  input: InactivationInput,
  c: InactivationCarry,
  type: string,
  step: Step,
  expects: HumanEventName[],
) {
  return (refusal?: StepRefusal) =>
    taskSpec(input.timings, Date.now(), { type, step, expects, contact: c.contact, refusal, carry: c });
}

/** The seed's order: removal profile, then the profiles, and only then the client app. */
async function deviceSideSteps(
  lc: Lifecycle,
  input: InactivationInput,
  c: InactivationCarry,
  notice: TaskNotice,
  resumeAt: number,
): Promise<'done' | 'failed'> {
  if (resumeAt <= 0 && (await installRemovalProfile(lc, input, c, notice)) === 'failed') return 'failed';
  if (resumeAt <= 1 && (await removeProfiles(lc, input, c, notice)) === 'failed') return 'failed';
  const appStep = deviceTask(input, c, 'remove-client-app', 'awaiting-app-removal', ['app-removed']);
  await lc.awaitTask(appStep(), notice);
  return 'done';
}

async function installRemovalProfile(
  lc: Lifecycle,
  input: InactivationInput,
  c: InactivationCarry,
  notice: TaskNotice,
) {
  const installStep = deviceTask(input, c, 'install-removal-profile', 'awaiting-removal-profile', [
    'removal-profile-installed',
    'profile-removal-failed',
  ]);
  const installed = await lc.awaitTask(
    installStep((e) =>
      e === 'profiles-removed'
        ? PROFILES_BEFORE_REMOVAL_PROFILE
        : e === 'app-removed'
          ? APP_BEFORE_PROFILES
          : undefined,
    ),
    notice,
  );
  return installed.event === 'profile-removal-failed' ? 'failed' : 'done';
}

async function removeProfiles(lc: Lifecycle, input: InactivationInput, c: InactivationCarry, notice: TaskNotice) {
  const removeStep = deviceTask(input, c, 'remove-profiles', 'awaiting-profile-removal', [
    'profiles-removed',
    'profile-removal-failed',
  ]);
  const removed = await lc.awaitTask(
    removeStep((e) => (e === 'app-removed' ? APP_BEFORE_PROFILES : undefined)),
    notice,
  );
  return removed.event === 'profile-removal-failed' ? 'failed' : 'done';
}

/**
 * After a failed profile removal the device is re-registered and must show as active in the MDM before
 * the inactivation starts again; after too many attempts an admin decides.
 */
async function recoverFromFailure(lc: Lifecycle, input: InactivationInput, c: InactivationCarry, notice: TaskNotice) {
  const attempts = lc.inactivationAttempts ?? 0;
  if (attempts >= input.maxAttempts) {
    await lc.waitForAdminDecision(
      'awaiting-reenrollment',
      `profile removal failed ${attempts} times (limit ${input.maxAttempts}); retry allows one more attempt`,
    );
  }
  await reenrolAgain(lc, input, c, notice);
}

function reenrolAgain(lc: Lifecycle, input: InactivationInput, c: InactivationCarry, notice: TaskNotice) {
  return reenrolAndVerify(lc, {
    timings: input.timings,
    contact: c.contact,
    verifySummary: 'verify the device is active in the MDM again',
    then: 'requesting-inactivation',
    notice,
    carry: c,
  });
}

/** The job must have succeeded and the device must be inactive; a failed or stuck job needs an admin. */
async function verifyInactivation(lc: Lifecycle, input: InactivationInput, ref: MdmJobRef): Promise<boolean> {
  lc.enterStep('verifying');
  const t = input.timings;
  const job = await waitForMdmJob(lc, ref, {
    deadlineMs: t.verifyDeadlineMs,
    pollInitialMs: t.pollInitialMs,
    pollMaxMs: t.pollMaxMs,
    what: 'inactivation job',
    step: 'verifying',
  });
  if (job.outcome !== 'succeeded') {
    await lc.waitForAdminDecision(
      'verifying',
      job.outcome === 'failed'
        ? `the MDM inactivation job failed: ${job.detail}; retry requests the inactivation again`
        : `the inactivation job did not finish within ${Math.round(t.verifyDeadlineMs / 60_000)} minutes; retry requests it again`,
    );
    return false;
  }
  const device = await lc.parkOnFailure('verifying', () =>
    lc.mdm('getDeviceState', 'check the device is inactive', lc.context('verifying')),
  );
  if (device.status !== 'inactive') {
    await lc.waitForAdminDecision(
      'verifying',
      `the inactivation job succeeded but the device status is ${device.status ?? 'unknown'}, not inactive`,
    );
    return false;
  }
  await lc.parkOnFailure('verifying', () =>
    call(
      'recordEvent',
      'record the verified inactivation',
      lc.context('verifying', undefined, 'verified'),
      'inactivation-verified',
      {
        ...ref,
      },
    ),
  );
  return true;
}
