/**
 * Every path a process can take, driven to its end on the fast layer (the real workflow code on the real
 * Temporal dev server, stub activities): the wipe fallback, reminders and escalations, applications,
 * rejected signals, cancel from the API and from the Temporal client, needs-attention then retry or abort,
 * forced inactivation, and tasks that open again. Each test checks its path and, with
 * RECORD_HISTORIES=<label>, records the run's history beside the others in tests/histories/ (once: a
 * recorded name is never written again), where tests/replay.test.ts replays it against every later version
 * of the workflow code.
 */
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import type { MdmJobRef, StepContext } from '../activities/contracts';
import {
  adminUpdates,
  CHANGE_USER_WORKFLOW,
  INACTIVATION_WORKFLOW,
  reportSignals,
  reportUpdates,
  type HumanEventName,
  type HumanReport,
  type LifecycleState,
  type LifecycleTimings,
  type Step,
} from '../workflows/definitions';
import {
  admin,
  command,
  eventually,
  FAST_TIMINGS,
  field,
  PATIENCE_MS,
  report,
  useFastHarnesses,
  type FastHarness,
  type LifecycleHandle,
} from './support/fastHarness';
import { recordHistoryIfAsked } from './support/histories';
import { stubFailure, type StubSetup } from './support/stubActivities';

const TEST_TIMEOUT_MS = 3 * PATIENCE_MS;
/** The device's user, who does the device-side steps of an inactivation. */
const deviceUser = { id: 'device.user@example.com', role: 'field-staff' as const };
const SIGNATURE = 'data:image/png;base64,iVBORw0KGgo=';
/** What the API sends a workflow for a stored signature (api/signatures.ts). */
const RECEIPT = `receipt:11111111-1111-1111-1111-111111111111:sha256:${'a'.repeat(64)}`;

const harness = useFastHarnesses();

/** A wipe's job and an inactivation's job are told apart by the step in the key they were sent with. */
const isWipeJob = (ref: MdmJobRef) => ref.idempotencyKey.includes(':wiping:');

/** Sends a report as an Update (the API's way) and expects it to be acknowledged. */
async function reportDone(
  h: FastHarness,
  handle: LifecycleHandle,
  event: HumanEventName,
  data: Record<string, unknown> = {},
  actor: HumanReport['actor'] = field,
) {
  const sent = report(data, actor);
  const outcome = await h.update(handle, reportUpdates[event], sent);
  expect(outcome, `${event}: ${JSON.stringify(outcome)}`).toMatchObject({ kind: 'ack', ack: { accepted: true } });
  return { sent, ack: outcome.kind === 'ack' ? outcome.ack : undefined };
}

/** Waits for the task at `step`, then reports `event` for it. */
async function atTask(
  h: FastHarness,
  handle: LifecycleHandle,
  step: Step,
  event: HumanEventName,
  data: Record<string, unknown> = {},
  actor: HumanReport['actor'] = field,
) {
  await h.waitForTask(handle, step);
  return reportDone(h, handle, event, data, actor);
}

const collect = (h: FastHarness, handle: LifecycleHandle) =>
  atTask(h, handle, 'awaiting-collection', 'device-collected', {
    collectedBy: 'Bob Field',
    storageLocation: 'Shelf 2',
  });
const reenrol = (h: FastHarness, handle: LifecycleHandle) =>
  atTask(h, handle, 'awaiting-reenrollment', 'device-reenrolled');
const deliver = (h: FastHarness, handle: LifecycleHandle) =>
  atTask(h, handle, 'awaiting-delivery', 'device-delivered', { receivedBy: 'Yuki New', signature: SIGNATURE });

/** The three device-side steps of an inactivation, in the one safe order. */
async function deviceSide(h: FastHarness, handle: LifecycleHandle) {
  await atTask(h, handle, 'awaiting-removal-profile', 'removal-profile-installed', {}, deviceUser);
  await atTask(h, handle, 'awaiting-profile-removal', 'profiles-removed', {}, deviceUser);
  await atTask(h, handle, 'awaiting-app-removal', 'app-removed', {}, deviceUser);
}

/** Waits until the report with `key` was taken and its step opened again, with the reason kept. */
async function reopenedAfter(h: FastHarness, handle: LifecycleHandle, key: string, step: Step) {
  const state = await h.waitForState(
    handle,
    (s) => s.reports.some((r) => r.idempotencyKey === key && r.followUp !== undefined),
    `the report ${key} followed up`,
  );
  await h.waitForTask(handle, step);
  return state.reports.find((r) => r.idempotencyKey === key)?.followUp;
}

/** The workflow's events as the stub audit kept them, for this workflow only. */
function auditOf(h: FastHarness, handle: LifecycleHandle): string[] {
  return h.stubs.events.filter((e) => e.ctx.workflowId === handle.workflowId).map((e) => e.eventType);
}

async function completed(handle: LifecycleHandle): Promise<LifecycleState> {
  const result = await handle.result();
  expect(result).toMatchObject({ status: 'completed', step: 'completed' });
  return result;
}

/** A process cancelled from the Temporal client (UI or CLI) ends CANCELLED, its cancel audited once. */
async function cancelledFromTemporal(h: FastHarness, handle: LifecycleHandle): Promise<void> {
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  expect((await handle.describe()).status.name).toBe('CANCELLED');
  await eventually(() => h.stubs.eventsOf('cancelled').length > 0, 'the cancel audited');
  expect(h.stubs.eventsOf('cancelled')).toHaveLength(1);
  expect(h.stubs.eventsOf('cancelled')[0].ctx.actor).toEqual({ id: 'temporal-cancel-request', role: 'operator' });
}

function noticesAt(h: FastHarness, step: Step, kind: 'reminder' | 'escalation'): number {
  return h.stubs.callsOf('sendNotice', (c) => c.args[0].step === step && c.args[1] === kind).length;
}

describe('change user: the wipe fallback', () => {
  it(
    'an erase the MDM never acknowledges waits for wipe-confirmed, then the process completes',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness((d) => ({
        getMdmJobState: async (ref) => (isWipeJob(ref) ? { state: 'queued' } : d.getMdmJobState(ref)),
      }));
      const handle = await h.startChangeUser({ timings: { ...FAST_TIMINGS, wipeAckTimeoutMs: 1_500 } });
      await collect(h, handle);
      const waiting = await h.waitForTask(handle, 'wiping');
      expect(waiting.pendingTask).toMatchObject({ type: 'confirm-wipe', expects: ['wipe-confirmed'] });
      expect(waiting.notes.join('\n')).toMatch(/did not acknowledge the wipe/);
      const { ack } = await reportDone(h, handle, 'wipe-confirmed', { note: 'setup assistant on screen' }, admin);
      expect(ack?.step).toBe('removing-from-mdm');
      await reenrol(h, handle);
      await deliver(h, handle);
      await completed(handle);
      const audit = auditOf(h, handle);
      expect(audit).toContain('wipe-confirmed');
      expect(audit).not.toContain('wipe-finished');
      expect(h.stubs.count('requestWipe')).toBe(1);
      await recordHistoryIfAsked('change-user-wipe-confirmed', handle, CHANGE_USER_WORKFLOW);
    },
  );

  it(
    'a wipe the MDM reports failed needs attention; retry wipes again and the process completes',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      let failedOnce = false;
      const h = await harness((d) => ({
        getMdmJobState: async (ref) => {
          if (isWipeJob(ref) && !failedOnce) {
            failedOnce = true;
            return { state: 'failed', detail: 'E42: the device refused the erase' };
          }
          return d.getMdmJobState(ref);
        },
      }));
      const handle = await h.startChangeUser();
      await collect(h, handle);
      const parked = await h.waitForNeedsAttention(handle);
      expect(parked).toMatchObject({ failedStep: 'wiping', lastError: expect.stringMatching(/E42/) });
      expect(await h.update(handle, adminUpdates.retry, command('the device is charged now'))).toMatchObject({
        kind: 'ack',
        ack: { status: 'running' },
      });
      await reenrol(h, handle);
      await deliver(h, handle);
      await completed(handle);
      expect(h.stubs.count('requestWipe')).toBe(2);
      expect(h.stubs.eventsOf('wipe-finished')).toHaveLength(1);
      await recordHistoryIfAsked('change-user-wipe-failed-retry', handle, CHANGE_USER_WORKFLOW);
    },
  );
});

describe('reminders and escalations', () => {
  it(
    'change user: reminders before and at the planned date, repeated escalations, then an escalation at a later task',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness();
      // Reminders ~2 s after the start and at the planned date (8 s), escalations from 10 s on every 2 s.
      const timings: LifecycleTimings = {
        ...FAST_TIMINGS,
        reminderBeforeMs: 6_000,
        escalateAfterMs: 2_000,
        taskReminderEveryMs: 2_000,
      };
      const handle = await h.startChangeUser({
        plannedCollectionDate: new Date(Date.now() + 8_000).toISOString(),
        timings,
      });
      await h.waitForTask(handle, 'awaiting-collection');
      await eventually(() => noticesAt(h, 'awaiting-collection', 'escalation') >= 2, 'two escalations at collection');
      expect(noticesAt(h, 'awaiting-collection', 'reminder')).toBeGreaterThanOrEqual(1);
      const waiting = await h.waitForTask(handle, 'awaiting-collection');
      expect(waiting.pendingTask).toMatchObject({ escalated: true });
      expect(waiting.pendingTask?.remindersSent).toBeGreaterThanOrEqual(1);
      // Reminders go to the device's user, escalations to the admins (no recipient: the activity knows them).
      const [reminder] = h.stubs.callsOf('sendNotice', (c) => c.args[1] === 'reminder');
      expect(reminder.args[2].to).toEqual(['x.old@example.com']);
      const [escalation] = h.stubs.callsOf('sendNotice', (c) => c.args[1] === 'escalation');
      expect(escalation.args[2].to).toEqual([]);

      await collect(h, handle);
      await h.waitForTask(handle, 'awaiting-reenrollment');
      await eventually(() => noticesAt(h, 'awaiting-reenrollment', 'escalation') >= 1, 'an escalation at re-enrolment');
      await reenrol(h, handle);
      await deliver(h, handle);
      await completed(handle);
      await recordHistoryIfAsked('change-user-reminders-escalation', handle, CHANGE_USER_WORKFLOW);
    },
  );

  it(
    'inactivation: a device-side task nobody reports is escalated, again and again, until the report comes',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness();
      const handle = await h.startInactivation({
        timings: { ...FAST_TIMINGS, escalateAfterMs: 1_500, taskReminderEveryMs: 1_500 },
      });
      await h.waitForTask(handle, 'awaiting-removal-profile');
      await eventually(
        () => noticesAt(h, 'awaiting-removal-profile', 'escalation') >= 2,
        'two escalations at the removal profile',
      );
      await deviceSide(h, handle);
      await completed(handle);
      await recordHistoryIfAsked('inactivation-escalation', handle, INACTIVATION_WORKFLOW);
    },
  );
});

describe('change user: applications', () => {
  const user = (name: string) => ({ department: 'Legal', location: 'Sapporo', name, email: 'aki@example.com' });

  it(
    'user-assigned names an application: it is claimed and its user gets the device',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness({
        claimApplication: async (_ctx, { applicationId }) =>
          applicationId ? { applicationId, user: user('Aki Applicant') } : { reason: 'no application is waiting' },
      });
      const handle = await h.startChangeUser({ newUser: undefined });
      await collect(h, handle);
      await reenrol(h, handle);
      const { ack } = await atTask(h, handle, 'awaiting-assignment', 'user-assigned', { applicationId: 'app-0001' });
      expect(ack).toMatchObject({ step: 'assigning', pending: expect.stringMatching(/application/) });
      await deliver(h, handle);
      await completed(handle);
      expect(h.stubs.callsOf('assignUser')[0].args[1]).toMatchObject({
        applicationId: 'app-0001',
        user: { name: 'Aki Applicant' },
      });
      expect(h.stubs.callsOf('recordDelivery')[0].args[1]).toMatchObject({ applicationId: 'app-0001' });
      await recordHistoryIfAsked('change-user-application-claimed', handle, CHANGE_USER_WORKFLOW);
    },
  );

  it(
    'the oldest waiting application is claimed at awaiting-assignment: no assignment task opens',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness({
        claimApplication: async (_ctx, { applicationId }) => ({
          applicationId: applicationId ?? 'app-oldest',
          user: user('Oldest Applicant'),
        }),
      });
      const handle = await h.startChangeUser({ newUser: undefined });
      await collect(h, handle);
      await reenrol(h, handle);
      await deliver(h, handle);
      const result = await completed(handle);
      expect(result.reports.map((r) => r.event)).not.toContain('user-assigned');
      expect(h.stubs.callsOf('claimApplication')).toHaveLength(1);
      expect(h.stubs.callsOf('claimApplication')[0].args[1]).toEqual({});
      expect(h.stubs.callsOf('assignUser')[0].args[1]).toMatchObject({ applicationId: 'app-oldest' });
      await recordHistoryIfAsked('change-user-oldest-application-claimed', handle, CHANGE_USER_WORKFLOW);
    },
  );

  it(
    'an unusable application opens the task again with the reason; a good one is then claimed',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness({
        claimApplication: async (_ctx, { applicationId }) =>
          applicationId === 'app-good'
            ? { applicationId, user: user('Good Applicant') }
            : { reason: applicationId ? `application ${applicationId} is already assigned` : 'none waiting' },
      });
      const handle = await h.startChangeUser({ newUser: undefined });
      await collect(h, handle);
      await reenrol(h, handle);
      const { sent } = await atTask(h, handle, 'awaiting-assignment', 'user-assigned', { applicationId: 'app-taken' });
      expect(await reopenedAfter(h, handle, sent.idempotencyKey, 'awaiting-assignment')).toMatch(
        /app-taken could not be used: application app-taken is already assigned/,
      );
      await reportDone(h, handle, 'user-assigned', { applicationId: 'app-good' });
      await deliver(h, handle);
      await completed(handle);
      expect(h.stubs.callsOf('assignUser')).toHaveLength(1);
      expect(h.stubs.callsOf('assignUser')[0].args[1]).toMatchObject({ applicationId: 'app-good' });
      await recordHistoryIfAsked('change-user-application-unusable-then-good', handle, CHANGE_USER_WORKFLOW);
    },
  );
});

describe('rejected signals', () => {
  it(
    'change user: out of order, another process event, a reused key are recorded as rejected; signals carry it to the end',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness();
      const handle = await h.startChangeUser();
      await h.waitForTask(handle, 'awaiting-collection');
      // Out of order.
      const early = report({ receivedBy: 'Someone', signature: 'x' });
      await handle.signal(reportSignals['device-delivered'], early);
      // An inactivation event: no handler of its own here, the default handler records it.
      const foreign = report({});
      await handle.signal(reportSignals['app-removed'], foreign);
      // The same out-of-order report as an Update is refused and writes nothing.
      const refused = await h.update(
        handle,
        reportUpdates['device-delivered'],
        report({ receivedBy: 'S', signature: 'x' }),
      );
      expect(refused).toMatchObject({ kind: 'refused', type: 'EventNotExpected' });
      await h.waitForState(
        handle,
        (s) => s.reports.filter((r) => r.outcome === 'rejected').length === 2,
        'two rejected signals',
      );

      // A fitting signal is taken; the same report as an Update is a duplicate.
      const collected = report({ collectedBy: 'Bob Field' });
      await handle.signal(reportSignals['device-collected'], collected);
      expect(await h.update(handle, reportUpdates['device-collected'], collected)).toMatchObject({
        kind: 'ack',
        ack: { duplicate: true },
      });
      await h.waitForTask(handle, 'awaiting-reenrollment');
      // Its key used again for another event: rejected, even though device-reenrolled fits this step.
      await handle.signal(reportSignals['device-reenrolled'], { ...collected, data: {} });
      const state = await h.waitForState(
        handle,
        (s) => s.reports.filter((r) => r.outcome === 'rejected').length === 3,
        'the reused key rejected',
      );
      expect(state.reports.filter((r) => r.outcome === 'rejected')).toEqual([
        expect.objectContaining({ event: 'device-delivered', step: 'awaiting-collection' }),
        expect.objectContaining({ event: 'app-removed', step: 'awaiting-collection' }),
        expect.objectContaining({ event: 'device-reenrolled', reason: expect.stringMatching(/already used/) }),
      ]);
      expect(state.step).toBe('awaiting-reenrollment');

      await handle.signal(reportSignals['device-reenrolled'], report({}));
      await h.waitForTask(handle, 'awaiting-delivery');
      // A Signal carries a stored signature's receipt, never the signature (records-1).
      await handle.signal(reportSignals['device-delivered'], report({ receivedBy: 'Yuki New', signature: RECEIPT }));
      await completed(handle);
      await eventually(() => h.stubs.eventsOf('report-rejected').length === 3, 'three rejections audited');
      expect(h.stubs.eventsOf('device-collected')).toHaveLength(1);
      await recordHistoryIfAsked('change-user-rejected-signals', handle, CHANGE_USER_WORKFLOW);
    },
  );

  it(
    'inactivation: the unsafe order and a change-user event as signals are recorded as rejected; the safe order completes',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness();
      const handle = await h.startInactivation();
      await h.waitForTask(handle, 'awaiting-removal-profile');
      await handle.signal(reportSignals['app-removed'], report({}, deviceUser));
      await handle.signal(reportSignals['profiles-removed'], report({}, deviceUser));
      await handle.signal(reportSignals['device-collected'], report({ collectedBy: 'Bob Field' }));
      const state = await h.waitForState(
        handle,
        (s) => s.reports.filter((r) => r.outcome === 'rejected').length === 3,
        'three rejected signals',
      );
      expect(state.reports.map((r) => [r.event, r.outcome])).toEqual([
        ['app-removed', 'rejected'],
        ['profiles-removed', 'rejected'],
        ['device-collected', 'rejected'],
      ]);
      expect(state.reports[0].reason).toMatch(/factory reset/);
      await handle.signal(reportSignals['removal-profile-installed'], report({}, deviceUser));
      await h.waitForTask(handle, 'awaiting-profile-removal');
      await handle.signal(reportSignals['app-removed'], report({}, deviceUser)); // still too early
      await h.waitForState(handle, (s) => s.reports.filter((r) => r.outcome === 'rejected').length === 4);
      await atTask(h, handle, 'awaiting-profile-removal', 'profiles-removed', {}, deviceUser);
      await atTask(h, handle, 'awaiting-app-removal', 'app-removed', {}, deviceUser);
      await completed(handle);
      await eventually(() => h.stubs.eventsOf('report-rejected').length === 4, 'four rejections audited');
      await recordHistoryIfAsked('inactivation-rejected-signals', handle, INACTIVATION_WORKFLOW);
    },
  );
});

describe('cancel', () => {
  it(
    'change user: cancel from the API (admin cancel Update) at a human task',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness();
      const handle = await h.startChangeUser();
      await h.waitForTask(handle, 'awaiting-collection');
      expect(await h.update(handle, adminUpdates.cancel, command('the user stays'))).toMatchObject({
        kind: 'ack',
        ack: { status: 'cancelled', step: 'cancelled' },
      });
      expect(await handle.result()).toMatchObject({ status: 'cancelled' });
      expect(h.stubs.eventsOf('cancelled')).toHaveLength(1);
      expect(h.stubs.eventsOf('cancelled')[0].details).toMatchObject({ reason: 'the user stays' });
      await recordHistoryIfAsked('change-user-cancel-update', handle, CHANGE_USER_WORKFLOW);
    },
  );

  it(
    'inactivation: cancel from the API after the removal profile was installed',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness();
      const handle = await h.startInactivation();
      await atTask(h, handle, 'awaiting-removal-profile', 'removal-profile-installed', {}, deviceUser);
      await h.waitForTask(handle, 'awaiting-profile-removal');
      expect(await h.update(handle, adminUpdates.cancel, command('the device is kept after all'))).toMatchObject({
        kind: 'ack',
        ack: { status: 'cancelled' },
      });
      const result = await handle.result();
      expect(result.status).toBe('cancelled');
      expect(h.stubs.eventsOf('cancelled')[0].details.doneSteps).toContain('awaiting-profile-removal');
      await recordHistoryIfAsked('inactivation-cancel-update', handle, INACTIVATION_WORKFLOW);
    },
  );

  it('change user: cancel from the Temporal client at a human task', { timeout: TEST_TIMEOUT_MS }, async () => {
    const h = await harness();
    const handle = await h.startChangeUser();
    await h.waitForTask(handle, 'awaiting-collection');
    await handle.cancel();
    await cancelledFromTemporal(h, handle);
    await recordHistoryIfAsked('change-user-temporal-cancel', handle, CHANGE_USER_WORKFLOW);
  });

  it(
    'change user: cancel from the Temporal client while the wipe is being polled',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness((d) => ({
        getMdmJobState: async (ref) => (isWipeJob(ref) ? { state: 'acknowledged' } : d.getMdmJobState(ref)),
      }));
      const handle = await h.startChangeUser({ timings: { ...FAST_TIMINGS, wipeAckTimeoutMs: PATIENCE_MS * 10 } });
      await collect(h, handle);
      await h.waitForState(handle, (s) => s.step === 'wiping', 'wiping');
      await eventually(() => h.stubs.count('getMdmJobState') >= 2, 'the wipe polled twice');
      await handle.cancel();
      await cancelledFromTemporal(h, handle);
      expect(h.stubs.eventsOf('cancelled')[0].details.doneSteps).toContain('wiping');
      expect(h.stubs.count('deleteFromMdm')).toBe(0);
      await recordHistoryIfAsked('change-user-temporal-cancel-while-wiping', handle, CHANGE_USER_WORKFLOW);
    },
  );

  it('inactivation: cancel from the Temporal client at the app removal', { timeout: TEST_TIMEOUT_MS }, async () => {
    const h = await harness();
    const handle = await h.startInactivation();
    await atTask(h, handle, 'awaiting-removal-profile', 'removal-profile-installed', {}, deviceUser);
    await atTask(h, handle, 'awaiting-profile-removal', 'profiles-removed', {}, deviceUser);
    await h.waitForTask(handle, 'awaiting-app-removal');
    await handle.cancel();
    await cancelledFromTemporal(h, handle);
    await recordHistoryIfAsked('inactivation-temporal-cancel', handle, INACTIVATION_WORKFLOW);
  });
});

describe('needs-attention', () => {
  it(
    'change user: a refused wipe needs attention; retry resumes and the process completes',
    {
      timeout: TEST_TIMEOUT_MS,
    },
    async () => {
      let refusals = 1;
      const h = await harness((d) => ({
        requestWipe: async (...args) => {
          if (refusals-- > 0) throw stubFailure('Mdm.Refused', 'the MDM refused the wipe command');
          return d.requestWipe(...args);
        },
      }));
      const handle = await h.startChangeUser();
      await collect(h, handle);
      const parked = await h.waitForNeedsAttention(handle);
      expect(parked).toMatchObject({ failedStep: 'wiping', lastError: expect.stringMatching(/refused the wipe/) });
      // Reports do not fit while an admin must decide.
      expect(await h.update(handle, reportUpdates['device-reenrolled'], report({}))).toMatchObject({
        kind: 'refused',
        type: 'EventNotExpected',
      });
      expect(await h.update(handle, adminUpdates.retry, command('MDM fixed'))).toMatchObject({
        kind: 'ack',
        ack: { status: 'running' },
      });
      await reenrol(h, handle);
      await deliver(h, handle);
      await completed(handle);
      expect(h.stubs.eventsOf('retry')).toHaveLength(1);
      await recordHistoryIfAsked('change-user-needs-attention-retry', handle, CHANGE_USER_WORKFLOW);
    },
  );

  it(
    'change user: an MDM deletion that keeps failing needs attention; abort ends it',
    {
      timeout: TEST_TIMEOUT_MS,
    },
    async () => {
      const h = await harness({
        deleteFromMdm: async () => {
          throw stubFailure('Mdm.Refused', 'the MDM refused to delete the record');
        },
      });
      const handle = await h.startChangeUser();
      await collect(h, handle);
      const parked = await h.waitForNeedsAttention(handle);
      expect(parked).toMatchObject({ failedStep: 'removing-from-mdm' });
      expect(await h.update(handle, adminUpdates.abort, command('the device is broken'))).toMatchObject({
        kind: 'ack',
        ack: { status: 'aborted' },
      });
      expect(await handle.result()).toMatchObject({ status: 'aborted', failedStep: 'removing-from-mdm' });
      expect(h.stubs.eventsOf('aborted')).toHaveLength(1);
      await recordHistoryIfAsked('change-user-needs-attention-abort', handle, CHANGE_USER_WORKFLOW);
    },
  );

  it(
    'inactivation: a job the MDM reports failed refuses device-side reports and re-enrols; the next attempt completes',
    {
      timeout: TEST_TIMEOUT_MS,
    },
    async () => {
      // mdm-weather-1: the MDM is the truth about the device. The first attempt's job reads as failed from
      // the start; the second attempt's job goes the usual way.
      let firstJob: string | undefined;
      const h = await harness((d) => ({
        getMdmJobState: async (ref) => {
          if (!isWipeJob(ref)) firstJob ??= ref.idempotencyKey;
          if (ref.idempotencyKey === firstJob) return { state: 'failed', detail: 'E17: device not reachable' };
          return d.getMdmJobState(ref);
        },
      }));
      const handle = await h.startInactivation();
      await h.waitForTask(handle, 'awaiting-removal-profile');
      const refused = await h.update(handle, reportUpdates['removal-profile-installed'], report({}, deviceUser));
      expect(refused).toMatchObject({ kind: 'refused', type: 'ContradictedByMdm' });
      expect(JSON.stringify(refused)).toMatch(/job of attempt 1 failed \(E17/);
      await atTask(h, handle, 'awaiting-reenrollment', 'device-reenrolled');
      await deviceSide(h, handle);
      const result = await completed(handle);
      expect(result.inactivationAttempts).toBe(2);
      expect(h.stubs.count('requestInactivation')).toBe(2);
      expect(h.stubs.events.map((e) => e.eventType)).toContain('inactivation-job-failed');
    },
  );

  it(
    'inactivation: a refused inactivation request needs attention; abort ends it',
    {
      timeout: TEST_TIMEOUT_MS,
    },
    async () => {
      const h = await harness({
        requestInactivation: async () => {
          throw stubFailure('Mdm.Refused', 'the MDM refused the inactivation');
        },
      });
      const handle = await h.startInactivation();
      const parked = await h.waitForNeedsAttention(handle);
      expect(parked).toMatchObject({ failedStep: 'requesting-inactivation' });
      expect(await h.update(handle, adminUpdates.abort, command('wrong device'))).toMatchObject({ kind: 'ack' });
      expect(await handle.result()).toMatchObject({ status: 'aborted' });
      await recordHistoryIfAsked('inactivation-needs-attention-abort', handle, INACTIVATION_WORKFLOW);
    },
  );
});

describe('forced inactivation', () => {
  it('skips the device-side steps and completes', { timeout: TEST_TIMEOUT_MS }, async () => {
    const h = await harness();
    const handle = await h.startInactivation({ forced: true, acknowledgeProfileStays: true });
    const result = await completed(handle);
    const steps = result.steps.map((s) => s.step);
    expect(steps).not.toContain('awaiting-removal-profile');
    expect(steps).toEqual(expect.arrayContaining(['requesting-inactivation', 'verifying', 'deleting-from-mdm']));
    expect(result.notes.join('\n')).toMatch(/Forced inactivation/);
    expect(auditOf(h, handle)).toContain('forced-inactivation-requested');
    await recordHistoryIfAsked('inactivation-forced-completed', handle, INACTIVATION_WORKFLOW);
  });
});

describe('a task that opens again', () => {
  /** The MDM shows the device enrolled only from the second check on. */
  function enrolledOnSecondCheck(): StubSetup {
    let checks = 0;
    return (d) => ({
      verifyEnrollment: async (ctx: StepContext, args) =>
        ++checks === 1
          ? { enrolled: false, reason: 'no active enrolment for the serial number' }
          : d.verifyEnrollment(ctx, args),
    });
  }

  it(
    'change user: a re-enrolment the MDM does not confirm reopens the task; confirmed the second time',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness(enrolledOnSecondCheck());
      const handle = await h.startChangeUser();
      await collect(h, handle);
      const { sent, ack } = await reenrol(h, handle);
      expect(ack).toMatchObject({ pending: expect.stringMatching(/MDM/) });
      expect(await reopenedAfter(h, handle, sent.idempotencyKey, 'awaiting-reenrollment')).toMatch(
        /not confirmed by the MDM: no active enrolment/,
      );
      await reenrol(h, handle);
      await deliver(h, handle);
      await completed(handle);
      expect(h.stubs.count('verifyEnrollment')).toBe(2);
      await recordHistoryIfAsked('change-user-reenrolment-unconfirmed-then-confirmed', handle, CHANGE_USER_WORKFLOW);
    },
  );

  it(
    'inactivation: after a failed profile removal, an unconfirmed re-enrolment reopens the task; then it starts again',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness(enrolledOnSecondCheck());
      const handle = await h.startInactivation();
      await atTask(
        h,
        handle,
        'awaiting-removal-profile',
        'profile-removal-failed',
        { reason: 'no prompt' },
        deviceUser,
      );
      const { sent } = await atTask(h, handle, 'awaiting-reenrollment', 'device-reenrolled', {}, deviceUser);
      expect(await reopenedAfter(h, handle, sent.idempotencyKey, 'awaiting-reenrollment')).toMatch(/not confirmed/);
      await reportDone(h, handle, 'device-reenrolled', {}, deviceUser);
      await deviceSide(h, handle);
      const result = await completed(handle);
      expect(result.inactivationAttempts).toBe(2);
      await recordHistoryIfAsked('inactivation-reenrolment-unconfirmed-then-confirmed', handle, INACTIVATION_WORKFLOW);
    },
  );
});

describe('inactivation on an MDM that removes the profiles by command', () => {
  it(
    'skips the device-side steps (nobody is asked to pretend) and verifies what the MDM did',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness((d) => ({
        requestInactivation: async (ctx, args) => ({
          ...(await d.requestInactivation(ctx, args)),
          profilesRemovedByMdm: true as const,
        }),
      }));
      const handle = await h.startInactivation();
      const result = await completed(handle);
      const steps = result.steps.map((s) => s.step);
      expect(steps).not.toContain('awaiting-removal-profile');
      expect(steps).not.toContain('awaiting-app-removal');
      expect(steps).toEqual(expect.arrayContaining(['requesting-inactivation', 'verifying', 'deleting-from-mdm']));
      expect(result.notes.join('\n')).toMatch(/removes the profiles by command/);
      expect(h.stubs.count('sendDeviceInstructions')).toBe(0);
      await recordHistoryIfAsked('inactivation-profiles-removed-by-mdm', handle, INACTIVATION_WORKFLOW);
    },
  );
});
