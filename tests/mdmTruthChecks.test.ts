/**
 * The MDM as the truth about the device (issue 10, requirements 4 and 6), on real parts: the Temporal dev
 * server, the real activities, PostgreSQL, the MDM emulator over HTTP and the SMTP sink. The emulator's
 * device-side actions play the device user, so what the MDM shows is what the device did.
 * - A `profiles-removed` the MDM contradicts is refused with the MDM's profile list, as an Update and
 *   through the API (409 contradicted-by-mdm), is recorded as rejected and changes nothing.
 * - A human `wipe-confirmed` is refused while the MDM shows the wipe failed; one taken while the MDM could
 *   not answer the check is read against the MDM again before the record would be deleted.
 * - The device user gets each device-side step's instructions by mail, in the configured language.
 */
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { IOS_ENGLISH } from '../activities/deviceInstructions/iosEnglish';
import { IOS_JAPANESE } from '../activities/deviceInstructions/iosJapanese';
import type { DeviceTaskType, MailLanguage } from '../activities/deviceInstructions/procedures';
import type { ProcedureTexts } from '../activities/deviceInstructions/texts';
import * as assetsRepo from '../db/assetsRepo';
import * as eventsRepo from '../db/assetEventsRepo';
import {
  adminUpdates,
  reportUpdates,
  workflowIdFor,
  type HumanEventName,
  type HumanReport,
  type LifecycleState,
} from '../workflows/definitions';
import { TOKENS } from './support/apiHarness';
import {
  admin,
  changeUserInput,
  command,
  FAST_TIMINGS,
  inactivationInput,
  newAssetNumber,
  report,
} from './support/fixtures';
import type { Harness } from './support/lifecycleHarness';
import type { ReceivedMail } from './support/smtpSink';
import { useHarness, useHarnessWithApi } from './support/suite';

/** The device's user does the device-side steps and reports them. */
const user = { id: 'device.user@example.com', role: 'field-staff' as const };

const send = (
  handle: WorkflowHandle,
  event: HumanEventName,
  data: Record<string, unknown> = {},
  actor: HumanReport['actor'] = user,
) => handle.executeUpdate(reportUpdates[event], { args: [report(data, actor)] });

interface Refused {
  type?: string;
  message: string;
  details?: { step?: string; mdm?: Record<string, unknown> }[];
}

async function refusalOf(sending: Promise<unknown>): Promise<Refused> {
  const err = await sending.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return (err as WorkflowUpdateFailedError).cause as unknown as Refused;
}

/** An asset of its own, with its own user e-mail, so each test reads only its own mail. */
async function seed(h: Harness) {
  const assetNumber = newAssetNumber();
  const userEmail = `user-${assetNumber.toLowerCase()}@example.com`;
  const { mdmDeviceId } = await h.seedDevice({ assetNumber, userName: 'Hanako Device', userEmail });
  return { assetNumber, userEmail, mdmDeviceId };
}

const auditOf = async (h: Harness, assetNumber: string) => eventsRepo.listForAsset(h.db.pool, assetNumber);

/** What the MDM shows after the device removed only the configuration profile (the removal one is in). */
const LEFT_AFTER_CONFIGURATION_ONLY = [
  { identifier: 'com.example.mdm', kind: 'mdm', name: 'MDM Profile' },
  { identifier: 'com.example.mdm.removal', kind: 'removal', name: 'Removal Profile' },
];

/**
 * Phrases of the seed procedure (seeds/003) each language's mail must carry, written out here rather than
 * taken from the templates, so a template that loses the seed's terms fails.
 */
const PHRASES: Record<MailLanguage, Record<DeviceTaskType, string>> = {
  ja: {
    'install-removal-profile': '「不正なパスワード」と表示された場合は、何も入力せずに「OK」ボタンをタップします',
    'remove-profiles': '「構成プロファイル」より、IVI MDMプロファイルを削除します',
    'remove-client-app': '「MobiConnect」を長押しします',
    'reenroll-device': '【端末の再登録】',
  },
  en: {
    'install-removal-profile': 'If the device says "Invalid password", enter nothing and tap "OK".',
    'remove-profiles': 'Likewise, under "Configuration Profile", remove the IVI MDM profile.',
    'remove-client-app': 'On the home screen, touch and hold "MobiConnect".',
    'reenroll-device': 'Register the device in the MDM as when it was first set up',
  },
};

const TEXTS: Record<MailLanguage, ProcedureTexts> = { ja: IOS_JAPANESE, en: IOS_ENGLISH };

const subjectOf = (language: MailLanguage, step: DeviceTaskType, assetNumber: string) =>
  `${TEXTS[language].subjectPrefix.instructions}${TEXTS[language].steps[step].topic(assetNumber)}`;

/** Waits for the step's instruction mail and checks it: to the asset's user, in the language, the seed's terms. */
async function instructionMail(
  h: Harness,
  language: MailLanguage,
  to: string,
  assetNumber: string,
  step: DeviceTaskType,
): Promise<ReceivedMail> {
  const subject = subjectOf(language, step, assetNumber);
  const mail = await h.mail.waitFor((m) => m.to.includes(to) && m.subject === subject);
  expect(mail.to).toEqual([to]);
  expect(mail.text).toContain(PHRASES[language][step]);
  expect(mail.text).toContain(assetNumber);
  return mail;
}

/** The instruction mails the user of `userEmail` has received so far, by subject, in order. */
const instructionSubjects = (h: Harness, language: MailLanguage, userEmail: string) =>
  h.mail
    .messages()
    .filter((m) => m.to.includes(userEmail) && m.subject.startsWith(TEXTS[language].subjectPrefix.instructions))
    .map((m) => m.subject);

const countOf = (h: Harness, to: string, subject: string) =>
  h.mail.messages().filter((m) => m.to.includes(to) && m.subject === subject).length;

/** The safe order, played by the emulator; each device-side step's mail arrives before it is done. */
async function walkWithMail(h: Harness, language: MailLanguage) {
  const { assetNumber, userEmail, mdmDeviceId } = await seed(h);
  const handle = await h.startInactivation(inactivationInput(assetNumber));
  await instructionMail(h, language, userEmail, assetNumber, 'install-removal-profile');
  await h.waitForStep(handle, 'awaiting-removal-profile');
  await h.inactivationDelivered(mdmDeviceId);
  await h.emulator.installRemovalProfile(mdmDeviceId);
  await send(handle, 'removal-profile-installed');
  await instructionMail(h, language, userEmail, assetNumber, 'remove-profiles');
  await h.emulator.removeProfiles(mdmDeviceId);
  await send(handle, 'profiles-removed');
  await instructionMail(h, language, userEmail, assetNumber, 'remove-client-app');
  await h.emulator.removeApp(mdmDeviceId);
  await send(handle, 'app-removed');
  expect((await handle.result()).status).toBe('completed');
  // One mail per step, in the seed's order, and none in the other language.
  expect(instructionSubjects(h, language, userEmail)).toEqual(
    (['install-removal-profile', 'remove-profiles', 'remove-client-app'] as const).map((step) =>
      subjectOf(language, step, assetNumber),
    ),
  );
  const other: MailLanguage = language === 'ja' ? 'en' : 'ja';
  expect(instructionSubjects(h, other, userEmail)).toEqual([]);
}

/**
 * The removal profile fails on the device: the user must register the device again, and is told how when
 * that task opens. The mail is sent before the task waits for its report, so once the next attempt's
 * install mail has arrived it is in the sink: checked then, without waiting out a deadline.
 */
async function reenrolWithMail(h: Harness, language: MailLanguage) {
  const { assetNumber, userEmail, mdmDeviceId: firstId } = await seed(h);
  const handle = await h.startInactivation(inactivationInput(assetNumber));
  await h.waitForStep(handle, 'awaiting-removal-profile');
  await h.inactivationDelivered(firstId);
  await h.emulator.failRemovalProfile(firstId);
  await h.waitForStep(handle, 'awaiting-reenrollment');
  const mdmDeviceId = (await h.emulator.reEnroll(firstId)).newDeviceId;
  await send(handle, 'device-reenrolled', { mdmDeviceId });
  await h.waitForState(handle, (s) => s.step === 'awaiting-removal-profile' && s.inactivationAttempts === 2);
  const install = subjectOf(language, 'install-removal-profile', assetNumber);
  await expect.poll(() => countOf(h, userEmail, install)).toBe(2);
  expect(instructionSubjects(h, language, userEmail)).toEqual([
    install,
    subjectOf(language, 'reenroll-device', assetNumber),
    install,
  ]);
  await instructionMail(h, language, userEmail, assetNumber, 'reenroll-device');
  await handle.terminate('test done');
}

describe('truth checks and instruction mails in a Japanese deployment', () => {
  const h = useHarness({ mailLanguage: 'ja' });

  it('refuses profiles-removed while the MDM still shows a profile, changes nothing, and takes it once none is left', async () => {
    const { assetNumber, mdmDeviceId } = await seed(h);
    const handle = await h.startInactivation(inactivationInput(assetNumber));
    await h.waitForStep(handle, 'awaiting-removal-profile');
    await h.inactivationDelivered(mdmDeviceId);
    await h.emulator.installRemovalProfile(mdmDeviceId);
    expect((await send(handle, 'removal-profile-installed')).step).toBe('awaiting-profile-removal');

    // The user removes the configuration profile only and says the profiles are gone.
    await h.emulator.removeConfigurationProfile(mdmDeviceId);
    const refused = await refusalOf(send(handle, 'profiles-removed'));
    expect(refused.type).toBe('ContradictedByMdm');
    expect(refused.message).toMatch(
      /profiles-removed is refused: the MDM still shows MDM Profile \(com\.example\.mdm\)/,
    );
    expect(refused.details?.[0]).toMatchObject({
      step: 'awaiting-profile-removal',
      mdm: { profiles: LEFT_AFTER_CONFIGURATION_ONLY, deviceStatus: 'active' },
    });

    // Nothing moved: same step and task, no profiles-removed in the trail; the refusal is recorded.
    const state = await h.waitForState(handle, (s) =>
      s.reports.some((r) => r.event === 'profiles-removed' && r.outcome === 'rejected'),
    );
    expect(state).toMatchObject({ step: 'awaiting-profile-removal', status: 'running' });
    expect(state.pendingTask).toMatchObject({ type: 'remove-profiles' });
    expect(state.reports.filter((r) => r.event === 'profiles-removed').map((r) => r.outcome)).toEqual(['rejected']);
    // The rejection reaches the audit trail through an activity, shortly after the state shows it.
    const rejections = async () => (await auditOf(h, assetNumber)).filter((e) => e.eventType === 'report-rejected');
    await expect.poll(async () => (await rejections()).length).toBe(1);
    const rejected = await rejections();
    expect(rejected[0].details).toMatchObject({ event: 'profiles-removed', via: 'update' });
    expect(String(rejected[0].details.reason)).toMatch(/MDM Profile/);
    expect((await auditOf(h, assetNumber)).map((e) => e.eventType)).not.toContain('profiles-removed');
    expect((await h.emulator.device(mdmDeviceId)).status).toBe('active');

    // Once the device has removed the rest, the same report is taken and the process goes on to the end.
    await h.emulator.removeProfiles(mdmDeviceId);
    expect((await send(handle, 'profiles-removed')).step).toBe('awaiting-app-removal');
    await h.emulator.removeApp(mdmDeviceId);
    await send(handle, 'app-removed');
    const final: LifecycleState = await handle.result();
    expect(final.status).toBe('completed');
    expect(await assetsRepo.get(h.db.pool, assetNumber)).toMatchObject({ status: 'retired', mdmDeviceId: null });
    const trail = (await auditOf(h, assetNumber)).map((e) => e.eventType).filter((t) => t !== 'notice-sent');
    expect(trail).toEqual([
      'inactivation-requested',
      'removal-profile-installed',
      'report-rejected',
      'profiles-removed',
      'app-removed',
      'inactivation-verified',
      'mdm-record-deleted',
      'inactivation-completed',
    ]);
  });

  it('refuses a human wipe-confirmed while the MDM shows the wipe failed, and reads the MDM again before deleting the record', async () => {
    const { assetNumber, mdmDeviceId } = await seed(h);
    const handle = await h.startChangeUser(
      changeUserInput(assetNumber, { timings: { ...FAST_TIMINGS, wipeAckTimeoutMs: 2_000 } }),
    );
    await h.waitForStep(handle, 'awaiting-collection');
    // The MDM never acknowledges the first wipe: after wipeAckTimeoutMs a person is asked to confirm it.
    await h.emulator.addFault({ kind: 'stall-jobs', deviceId: mdmDeviceId, count: 1 });
    await send(handle, 'device-collected', { collectedBy: 'Bob' });
    const waiting = await h.waitForState(handle, (s) => s.pendingTask?.type === 'confirm-wipe');
    expect(waiting.step).toBe('wiping');

    // The MDM now shows the wipe failed (cancelled in the console: the job fails with code cancelled).
    const wipes = () =>
      h.emulator.jobs().then((jobs) => jobs.filter((j) => j.deviceId === mdmDeviceId && j.type === 'wipe'));
    const [job] = await wipes();
    expect(job.status).toBe('queued');
    const cancelled = await h.mdm.cancelCommand?.({
      deviceId: mdmDeviceId,
      jobId: job.jobId,
      idempotencyKey: job.idempotencyKey,
    });
    expect(cancelled).toMatchObject({ status: 'failed', error: { code: 'cancelled' } });

    const refused = await refusalOf(send(handle, 'wipe-confirmed', { note: 'setup assistant on screen' }, admin));
    expect(refused.type).toBe('ContradictedByMdm');
    expect(refused.message).toMatch(/wipe-confirmed is refused: the MDM reports the wipe failed \(cancelled/);
    expect(refused.details?.[0]).toMatchObject({
      step: 'wiping',
      mdm: { job: 'failed', detail: expect.stringMatching(/^cancelled/) },
    });
    const state = await h.waitForState(handle, (s) => s.reports.some((r) => r.event === 'wipe-confirmed'));
    expect(state).toMatchObject({ step: 'wiping', status: 'running', pendingTask: { type: 'confirm-wipe' } });
    await expect.poll(async () => (await auditOf(h, assetNumber)).map((e) => e.eventType)).toContain('report-rejected');
    let types = (await auditOf(h, assetNumber)).map((e) => e.eventType);
    expect(types).not.toContain('wipe-confirmed');
    expect(types).not.toContain('mdm-record-deleted');
    expect((await h.emulator.device(mdmDeviceId)).status).not.toBe('deleted');

    // The MDM cannot answer the Update's one-try check (503 on the job's status): the confirmation is
    // taken, but the MDM is read again before the record is deleted. It shows the wipe failed: an admin decides.
    await h.emulator.addFault({
      kind: 'error',
      status: 503,
      count: 3,
      method: 'GET',
      pathPrefix: `/jobs/${job.jobId}`,
    });
    const taken = await send(handle, 'wipe-confirmed', { note: 'setup assistant on screen' }, admin);
    expect(taken).toMatchObject({ accepted: true, status: 'needs-attention' });
    const parked = await h.waitForStep(handle, 'needs-attention');
    expect(parked.lastError).toMatch(/wipe-confirmed was reported, but the MDM reports the wipe failed \(cancelled/);
    types = (await auditOf(h, assetNumber)).map((e) => e.eventType);
    expect(types).toContain('wipe-confirmed');
    expect(types).not.toContain('mdm-record-deleted');
    expect((await h.emulator.device(mdmDeviceId)).status).not.toBe('deleted');

    // Retry sends the wipe again; this one the MDM carries out, and only then is the record deleted.
    await handle.executeUpdate(adminUpdates.retry, { args: [command('wipe again')] });
    await h.waitForStep(handle, 'awaiting-reenrollment');
    expect((await wipes()).map((j) => j.status)).toEqual(['failed', 'succeeded']);
    expect((await auditOf(h, assetNumber)).map((e) => e.eventType).slice(-3)).toEqual([
      'wipe-requested',
      'wipe-finished',
      'mdm-record-deleted',
    ]);
    await handle.terminate('test done');
  });

  it('mails the device user each device-side step in Japanese, to the asset user', async () => {
    await walkWithMail(h, 'ja');
  });

  it('mails the re-enrolment instructions in Japanese when the task opens after a failed removal profile', async () => {
    await reenrolWithMail(h, 'ja');
  });
});

describe('truth checks through the API, and instruction mails in the default language (English)', () => {
  const { h, api } = useHarnessWithApi();

  const post = (workflowId: string, event: HumanEventName) =>
    api.call('POST', `/api/v1/workflows/${workflowId}/events/${event}`, { token: TOKENS.field, body: { data: {} } });
  const view = async (workflowId: string) =>
    (await api.call('GET', `/api/v1/workflows/${workflowId}`, { token: TOKENS.viewer })).body as {
      step?: string;
      status?: string;
    };

  it('answers a contradicted profiles-removed with 409 contradicted-by-mdm and the MDM view, and changes nothing', async () => {
    const { assetNumber, mdmDeviceId } = await seed(h);
    const start = await api.call('POST', `/api/v1/devices/${assetNumber}/inactivation`, {
      token: TOKENS.admin,
      body: { reason: 'Contract ended' },
    });
    expect(start.status, JSON.stringify(start.body)).toBe(201);
    const workflowId = workflowIdFor(assetNumber);
    const handle = api.temporal.workflow.getHandle(workflowId);
    await h.waitForStep(handle, 'awaiting-removal-profile');
    await h.inactivationDelivered(mdmDeviceId);
    await h.emulator.installRemovalProfile(mdmDeviceId);
    expect((await post(workflowId, 'removal-profile-installed')).status).toBe(200);
    await h.waitForStep(handle, 'awaiting-profile-removal');

    await h.emulator.removeConfigurationProfile(mdmDeviceId);
    const res = await post(workflowId, 'profiles-removed');
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(res.body.error).toMatchObject({
      code: 'contradicted-by-mdm',
      message: expect.stringMatching(/the MDM still shows MDM Profile \(com\.example\.mdm\)/),
      details: {
        workflowId,
        step: 'awaiting-profile-removal',
        status: 'running',
        mdm: { profiles: LEFT_AFTER_CONFIGURATION_ONLY, deviceStatus: 'active' },
      },
    });
    expect(await view(workflowId)).toMatchObject({ step: 'awaiting-profile-removal', status: 'running' });
    await expect.poll(async () => (await h.eventTypes(assetNumber)).includes('report-rejected')).toBe(true);
    expect(await h.eventTypes(assetNumber)).not.toContain('profiles-removed');

    await h.emulator.removeProfiles(mdmDeviceId);
    const taken = await post(workflowId, 'profiles-removed');
    expect(taken.status, JSON.stringify(taken.body)).toBe(200);
    expect(taken.body.step).toBe('awaiting-app-removal');
    await h.emulator.removeApp(mdmDeviceId);
    expect((await post(workflowId, 'app-removed')).status).toBe(200);
    await expect.poll(async () => (await view(workflowId)).status).toBe('completed');
  });

  it('mails the device user each device-side step in English when no language is configured', async () => {
    await walkWithMail(h, 'en');
  });

  it('mails the re-enrolment instructions in English when the task opens after a failed removal profile', async () => {
    await reenrolWithMail(h, 'en');
  });
});
