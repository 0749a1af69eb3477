/**
 * Inactivate device (DESIGN §3.2): take a device out of MDM management in the one order that does not
 * brick it — request a non-forced inactivation, the user installs the removal profile, removes the
 * profiles, and only then deletes the client app; verify in the MDM, delete the record, update the asset.
 */
import { CancellationScope, condition, continueAsNew } from '@temporalio/workflow';
import type { MdmJobRef } from '../activities/contracts';
import { bookkeeping, call, callCheck } from './activityProxy';
import {
  INACTIVATION_EVENTS,
  type HumanEventName,
  type HumanTask,
  type InactivationInput,
  type LifecycleState,
  type Step,
} from './definitions';
import { noticeSender, reenrolAndVerify, resumeIndex, taskSpec } from './humanTasks';
import { registerMessageContract } from './messageContract';
import { Lifecycle, TaskInterrupted, type TaskNotice } from './lifecycle';
import { waitForMdmJob } from './mdmJobWait';
import type { ReportCheck, StepRefusal } from './reportIntake';

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
  // The message contract (workflows/messageContract.ts), registered before the first await.
  registerMessageContract(lc, INACTIVATION_EVENTS);
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
    if (!input.forced && lc.features.mdmCapabilities && c.ref?.profilesRemovedByMdm) {
      lc.note(
        'The MDM removes the profiles by command: no device-side steps for a person; verifying what the MDM did.',
      );
    } else if (!input.forced) {
      const resumeAt = from;
      from = -1;
      if (resumeAt === REENROLMENT) {
        await reenrolAgain(lc, input, c, notice);
        continue;
      }
      const outcome = await deviceSideSteps(lc, input, c, notice, resumeAt);
      if (outcome === 'failed') {
        await recoverFromFailure(lc, input, c, notice);
        continue;
      }
      if (outcome !== 'done') {
        if ((await afterJobFailure(lc, input, c, notice, outcome)) === 'retired') return;
        continue;
      }
    }
    const verified = await verifyInactivation(lc, input, c.ref as MdmJobRef);
    if (verified === true) break;
    if (verified !== false && (await afterJobFailure(lc, input, c, notice, verified)) === 'retired') return;
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

/**
 * Device-side tasks wait on the device user; when nobody reports, the admins hear about it. From
 * mdm-weather-1 on, the device user's reminders repeat the step's instructions (sendDeviceInstructions).
 */
function inactivationNotices(lc: Lifecycle, input: InactivationInput): TaskNotice {
  const admins = adminNotices(lc, input);
  if (!lc.features.mdmWeather) return admins;
  return async (kind, task) => {
    if (kind !== 'reminder') return admins(kind, task);
    const ctx = lc.context(task.step, undefined, `${kind}-${task.remindersSent}-${Date.now()}`);
    const count = { occurrence: task.occurrence ?? 0, remindersSent: task.remindersSent, escalated: task.escalated };
    await call('sendDeviceInstructions', `reminder: instructions for ${task.type}`, ctx, {
      taskType: task.type,
      kind: 'reminder',
      count,
    });
  };
}

function adminNotices(lc: Lifecycle, input: InactivationInput): TaskNotice {
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
  watch?: JobWatch,
) {
  return (refusal?: StepRefusal, check?: ReportCheck) => ({
    ...taskSpec(input.timings, Date.now(), { type, step, expects, contact: c.contact, refusal, carry: c }),
    ...(watch ? { check: watch.checked(check), onOpen: watch.instruct(type) } : {}),
  });
}

/** Where the inactivation job stands while the device user works (mdm-weather-1); see watchingJob. */
interface JobFailure {
  failedJob: string;
  step: Step;
}

interface JobWatch {
  failure?: JobFailure;
  /** The step's own check, after the check that the job has not failed. */
  checked(check?: ReportCheck): ReportCheck;
  /** Mails the device user the step's instructions when its task opens. */
  instruct(taskType: string): () => Promise<void>;
}

/** The seed's order: removal profile, then the profiles, and only then the client app. */
async function deviceSideSteps(
  lc: Lifecycle,
  input: InactivationInput,
  c: InactivationCarry,
  notice: TaskNotice,
  resumeAt: number,
): Promise<'done' | 'failed' | JobFailure> {
  if (!lc.features.mdmWeather) return deviceSideTasks(lc, input, c, notice, resumeAt);
  return watchingJob(lc, input, c, (watch) => deviceSideTasks(lc, input, c, notice, resumeAt, watch));
}

async function deviceSideTasks(
  lc: Lifecycle,
  input: InactivationInput,
  c: InactivationCarry,
  notice: TaskNotice,
  resumeAt: number,
  watch?: JobWatch,
): Promise<'done' | 'failed'> {
  if (resumeAt <= 0 && (await installRemovalProfile(lc, input, c, notice, watch)) === 'failed') return 'failed';
  if (resumeAt <= 1 && (await removeProfiles(lc, input, c, notice, watch)) === 'failed') return 'failed';
  const appStep = deviceTask(input, c, 'remove-client-app', 'awaiting-app-removal', ['app-removed'], watch);
  await lc.awaitTask(appStep(), notice);
  return 'done';
}

/**
 * Runs the device-side tasks while watching the inactivation job in the MDM (mdm-weather-1): once the MDM
 * says it failed (the device was reset, the removal profile failed), the open task ends, device-side
 * reports for this attempt are refused with that reason, and the failure path starts at once.
 */
async function watchingJob(
  lc: Lifecycle,
  input: InactivationInput,
  c: InactivationCarry,
  tasks: (watch: JobWatch) => Promise<'done' | 'failed'>,
): Promise<'done' | 'failed' | JobFailure> {
  const ref = c.ref as MdmJobRef;
  const failed = (detail: string, step: Step): string => {
    const failedJob = `the MDM reports the inactivation job of attempt ${lc.inactivationAttempts ?? 1} failed (${detail})`;
    watch.failure ??= { failedJob, step };
    lc.interruptTask(failedJob);
    return `${failedJob}: device-side reports for this attempt are refused`;
  };
  const watch: JobWatch = {
    checked: (check) => async (event, report) => {
      if (watch.failure)
        return {
          reason: `${watch.failure.failedJob}: device-side reports for this attempt are refused`,
          mdm: { job: 'failed' },
        };
      const job = await callCheck('getMdmJobState', `check the inactivation job before taking ${event}`, ref).catch(
        () => undefined,
      );
      if (job?.state === 'failed') {
        // A reported failure agrees with the MDM: it is taken, and the failure path follows.
        if (event === 'profile-removal-failed') return undefined;
        const detail = job.detail ?? 'no detail';
        return { reason: failed(detail, lc.log.step), mdm: { job: 'failed', detail } };
      }
      return check?.(event, report);
    },
    instruct: (taskType) => instructions(lc, taskType),
  };
  const scope = new CancellationScope();
  const watching = scope.run(() => pollJob(lc, input, ref, (detail) => failed(detail, lc.log.step)));
  try {
    return await tasks(watch);
  } catch (err) {
    if (err instanceof TaskInterrupted && watch.failure) return watch.failure;
    throw err;
  } finally {
    scope.cancel();
    await watching.catch(() => undefined);
  }
}

/** Polls the job with backoff while the device user works; a read that fails is simply tried later. */
async function pollJob(lc: Lifecycle, input: InactivationInput, ref: MdmJobRef, onFailed: (d: string) => void) {
  const t = input.timings;
  for (let interval = t.pollInitialMs; ; interval = Math.min(interval * 2, t.pollMaxMs)) {
    await condition(() => lc.stopRequested(), interval, { summary: 'watch the inactivation job' });
    const job = await lc.mdm('getMdmJobState', 'watch the inactivation job', ref).catch(() => undefined);
    if (job?.state === 'failed') return onFailed(job.detail ?? 'no detail');
    if (job?.state === 'succeeded') return;
  }
}

async function installRemovalProfile(
  lc: Lifecycle,
  input: InactivationInput,
  c: InactivationCarry,
  notice: TaskNotice,
  watch?: JobWatch,
) {
  const installStep = deviceTask(
    input,
    c,
    'install-removal-profile',
    'awaiting-removal-profile',
    ['removal-profile-installed', 'profile-removal-failed'],
    watch,
  );
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

async function removeProfiles(
  lc: Lifecycle,
  input: InactivationInput,
  c: InactivationCarry,
  notice: TaskNotice,
  watch?: JobWatch,
) {
  const step: Step = 'awaiting-profile-removal';
  const expects: HumanEventName[] = ['profiles-removed', 'profile-removal-failed'];
  const removeStep = deviceTask(input, c, 'remove-profiles', step, expects, watch);
  const refusal: StepRefusal = (e) => (e === 'app-removed' ? APP_BEFORE_PROFILES : undefined);
  let reopenedBecause: string | undefined;
  for (;;) {
    const spec = watch ? removeStep(refusal, profilesGoneCheck(lc)) : removeStep(refusal);
    const removed = await lc.awaitTask({ ...spec, reopenedBecause }, notice);
    if (removed.event === 'profile-removal-failed') return 'failed';
    if (!watch) return 'done';
    // The app-removal task opens only when the MDM shows no profile left (a Signal skips the Update's check).
    const left = await profilesLeft(lc, step);
    if (!left) return 'done';
    reopenedBecause = await lc.reopenTask(step, `profiles-removed was reported, but ${left}`);
  }
}

/** What the MDM still shows on the device of the profiles that must go first; undefined when none. */
async function profilesLeft(lc: Lifecycle, step: Step): Promise<string | undefined> {
  const seen = await lc.parkOnFailure(step, () =>
    lc.mdm('getDeviceProfiles', 'check no profile is left on the device', lc.context(step, undefined, 'profiles')),
  );
  return describeProfilesLeft(seen.profiles);
}

function describeProfilesLeft(profiles: { kind: string; name: string; identifier: string }[]): string | undefined {
  const left = profiles.filter((p) => MUST_GO.includes(p.kind));
  if (!left.length) return undefined;
  return `the MDM still shows ${left.map((p) => `${p.name} (${p.identifier})`).join(', ')} on the device`;
}

const MUST_GO = ['mdm', 'configuration', 'removal'];

/** The Update's truth check for profiles-removed: refused with the MDM's profile list while one is left. */
function profilesGoneCheck(lc: Lifecycle): ReportCheck {
  return async (event) => {
    if (event !== 'profiles-removed') return undefined;
    const step = lc.log.step;
    const ctx = lc.context(step, undefined, 'profiles-check');
    const seen = await callCheck('getDeviceProfiles', 'check no profile is left before taking the report', ctx).catch(
      () => undefined,
    );
    const left = seen && describeProfilesLeft(seen.profiles);
    if (!seen || !left) return undefined;
    return {
      reason: `profiles-removed is refused: ${left}. Remove them on the device, then report again`,
      mdm: { profiles: seen.profiles, deviceStatus: seen.status ?? null },
    };
  };
}

/**
 * After a failed profile removal the device is re-registered and must show as active in the MDM before
 * the inactivation starts again; after too many attempts an admin decides.
 */
async function recoverFromFailure(
  lc: Lifecycle,
  input: InactivationInput,
  c: InactivationCarry,
  notice: TaskNotice,
  failedJob?: string,
) {
  const attempts = lc.inactivationAttempts ?? 0;
  if (attempts >= input.maxAttempts) {
    await lc.waitForAdminDecision(
      'awaiting-reenrollment',
      `profile removal failed ${attempts} times (limit ${input.maxAttempts}); retry allows one more attempt`,
      'attempt-limit',
    );
  }
  await reenrolAgain(lc, input, c, notice, failedJob);
}

function reenrolAgain(
  lc: Lifecycle,
  input: InactivationInput,
  c: InactivationCarry,
  notice: TaskNotice,
  failedJob?: string,
) {
  return reenrolAndVerify(lc, {
    timings: input.timings,
    contact: c.contact,
    verifySummary: 'verify the device is active in the MDM again',
    then: 'requesting-inactivation',
    notice,
    carry: c,
    ...(failedJob ? { refusal: lateDeviceReport(failedJob) } : {}),
    // The device user learns how to re-register the device when that task opens (records-1).
    ...(lc.features.records ? { onOpen: instructions(lc, 'reenroll-device') } : {}),
  });
}

/** Mails the device user a device-side step's instructions when its task opens. */
function instructions(lc: Lifecycle, taskType: string): () => Promise<void> {
  return async () => {
    const ctx = lc.context(lc.log.step, undefined, 'instructions');
    await call('sendDeviceInstructions', `instructions for ${taskType}`, ctx, { taskType, kind: 'instructions' });
  };
}

/** After the MDM failed the job, a late device-side report of that attempt is refused with the reason. */
function lateDeviceReport(failedJob: string): StepRefusal {
  return (event) =>
    DEVICE_SIDE_EVENTS.includes(event) ? `${failedJob}: device-side reports for this attempt are refused` : undefined;
}

const DEVICE_SIDE_EVENTS: HumanEventName[] = [
  'removal-profile-installed',
  'profile-removal-failed',
  'profiles-removed',
  'app-removed',
];

/**
 * The inactivation job failed (mdm-weather-1): recorded, then the failure path. After a factory reset the
 * admin chooses: retry re-enrols the device and tries again, retry with resolution `retire-as-reset`
 * deletes the MDM record and retires the asset as reset. Any other failure re-enrols and tries again, as
 * a reported profile-removal failure does.
 */
async function afterJobFailure(
  lc: Lifecycle,
  input: InactivationInput,
  c: InactivationCarry,
  notice: TaskNotice,
  failure: JobFailure,
): Promise<'retry' | 'retired'> {
  const { step } = failure;
  const device = await lc.parkOnFailure(step, () =>
    lc.mdm('getDeviceState', 'read the device after the failed job', lc.context(step, undefined, 'after-failure')),
  );
  const reset = /device_factory_reset|factory.reset/i.test(failure.failedJob) || device.status === 'wiped';
  await lc.parkOnFailure(step, () =>
    call(
      'recordEvent',
      'record the failed inactivation job',
      lc.context(step, undefined, 'job-failed'),
      reset ? 'factory-reset-detected' : 'inactivation-job-failed',
      { ...c.ref, detail: failure.failedJob, deviceStatus: device.status ?? null },
    ),
  );
  if (!reset) {
    await recoverFromFailure(lc, input, c, notice, failure.failedJob);
    return 'retry';
  }
  const decision = await lc.waitForAdminDecision(
    step,
    `the device was factory reset during the inactivation (${failure.failedJob}). Retry re-enrols it and tries ` +
      'again; retry with resolution "retire-as-reset" deletes its MDM record and retires the asset as reset',
    'factory-reset',
  );
  if (decision.resolution !== 'retire-as-reset') {
    await reenrolAgain(lc, input, c, notice, failure.failedJob);
    return 'retry';
  }
  await lc.runStep('deleting-from-mdm', (ctx) => lc.mdm('deleteFromMdm', 'delete the reset device from the MDM', ctx));
  await lc.runStep('updating-asset', (ctx) =>
    call('retireAsReset', 'asset status := retired (factory reset)', ctx, { detail: failure.failedJob }),
  );
  return 'retired';
}

/**
 * The job must have succeeded and the device must be inactive; a failed or stuck job needs an admin. From
 * mdm-weather-1 on, a failed job takes the failure path instead (returned as a JobFailure).
 */
async function verifyInactivation(
  lc: Lifecycle,
  input: InactivationInput,
  ref: MdmJobRef,
): Promise<boolean | JobFailure> {
  lc.enterStep('verifying');
  const t = input.timings;
  const job = await waitForMdmJob(lc, ref, {
    deadlineMs: t.verifyDeadlineMs,
    pollInitialMs: t.pollInitialMs,
    pollMaxMs: t.pollMaxMs,
    what: 'inactivation job',
    step: 'verifying',
  });
  if (job.outcome === 'failed' && lc.features.mdmWeather) {
    return { failedJob: `the MDM reports the inactivation job failed (${job.detail})`, step: 'verifying' };
  }
  if (job.outcome !== 'succeeded') {
    await lc.waitForAdminDecision(
      'verifying',
      job.outcome === 'failed'
        ? `the MDM inactivation job failed: ${job.detail}; retry requests the inactivation again`
        : `the inactivation job did not finish within ${Math.round(t.verifyDeadlineMs / 60_000)} minutes; retry requests it again`,
      job.outcome === 'failed' ? 'mdm-job-failed' : 'mdm-job-timeout',
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
      'device-mismatch',
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
