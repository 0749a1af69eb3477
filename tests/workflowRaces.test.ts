/**
 * Fast layer: races and interleavings of reports, admin commands and cancellation, run by the real
 * workflow code on the real Temporal dev server with stub activities (no PostgreSQL, MDM or SMTP).
 * Where Temporal may deliver two messages in one workflow task or in two, the test accepts every
 * interleaving the current code allows and checks that each one leaves a consistent result.
 */
import { CancelledFailure, WorkflowFailedError, WorkflowUpdateStage } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import {
  adminUpdates,
  reportSignals,
  reportUpdates,
  type AdminCommand,
  type HumanReport,
  type LifecycleState,
  type ReportAck,
} from '../workflows/definitions';
import {
  command,
  eventually,
  FAST_TIMINGS,
  field,
  PATIENCE_MS,
  report,
  useFastHarnesses,
  type FastHarness,
  type LifecycleHandle,
  type UpdateOutcome,
} from './support/fastHarness';
import { createGate, stubFailure } from './support/stubActivities';

const otherField = { id: 'carol.field@example.com', role: 'field-staff' as const };
const TEST_TIMEOUT_MS = 3 * PATIENCE_MS;

const harness = useFastHarnesses();

function acks(outcomes: UpdateOutcome[]): ReportAck[] {
  return outcomes.flatMap((o) => (o.kind === 'ack' ? [o.ack] : []));
}

function refusalTypes(outcomes: UpdateOutcome[]): (string | undefined)[] {
  return outcomes.flatMap((o) => (o.kind === 'refused' ? [o.type] : []));
}

/** The state of a closed workflow (the worker still answers the query by replaying it). */
async function finalState(h: FastHarness, handle: LifecycleHandle): Promise<LifecycleState> {
  return h.waitForState(handle, (s) => ['completed', 'cancelled', 'aborted'].includes(s.status), 'a final status');
}

/** An Update definition and its argument. */
type Message = [Parameters<FastHarness['update']>[1], HumanReport | AdminCommand];

/** Sends two Updates at once, the first one first; both are awaited to their answer. */
function sendTogether(
  h: FastHarness,
  handle: LifecycleHandle,
  first: Message,
  second: Message,
): Promise<[UpdateOutcome, UpdateOutcome]> {
  const a = h.update(handle, first[0], first[1]);
  const b = h.update(handle, second[0], second[1]);
  return Promise.all([a, b]);
}

describe('two reports for one open task', () => {
  it(
    'sent at once: exactly one is applied, the other is refused with EventNotExpected, and the step runs once',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness();
      // Three races at once on one worker, so the two Updates of a race may reach it together or apart.
      const runs = await Promise.all(
        [1, 2, 3].map(async () => {
          const handle = await h.startChangeUser();
          await h.waitForTask(handle, 'awaiting-collection');
          const reports = [
            report({ collectedBy: 'Bob Field', storageLocation: 'Shelf 1' }, field),
            report({ collectedBy: 'Carol Field', storageLocation: 'Shelf 2' }, otherField),
          ];
          const outcomes = await sendTogether(
            h,
            handle,
            [reportUpdates['device-collected'], reports[0]],
            [reportUpdates['device-collected'], reports[1]],
          );
          return { handle, reports, outcomes };
        }),
      );

      for (const { handle, reports, outcomes } of runs) {
        expect(acks(outcomes), JSON.stringify(outcomes)).toHaveLength(1);
        expect(refusalTypes(outcomes)).toEqual(['EventNotExpected']);
        const winner = reports[outcomes.findIndex((o) => o.kind === 'ack')];
        expect(acks(outcomes)[0]).toMatchObject({ accepted: true, duplicate: false, event: 'device-collected' });
        expect(acks(outcomes)[0].step).not.toBe('awaiting-collection');

        const state = await h.waitForTask(handle, 'awaiting-reenrollment');
        const mine = (c: { args: unknown[] }) => (c.args[0] as { workflowId: string }).workflowId === handle.workflowId;
        const returned = h.stubs.callsOf('returnToStock', mine);
        expect(returned).toHaveLength(1);
        expect(returned[0].args[1].storageLocation).toBe((winner.data as { storageLocation: string }).storageLocation);
        const audited = h.stubs
          .eventsOf('device-collected')
          .filter((e) => e.ctx.workflowId === handle.workflowId)
          .map((e) => e.ctx.actor.id);
        expect(audited).toEqual([winner.actor.id]);
        // A refused Update writes nothing: the state knows only the accepted report.
        expect(state.reports.filter((r) => r.event === 'device-collected')).toEqual([
          expect.objectContaining({ idempotencyKey: winner.idempotencyKey, outcome: 'accepted' }),
        ]);
        expect(h.stubs.callsOf('requestWipe', mine)).toHaveLength(1);
      }
    },
  );

  it(
    'delivered in one workflow task (sent while the worker is down): one applied, one refused',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness();
      const handle = await h.startChangeUser();
      await h.waitForTask(handle, 'awaiting-collection');
      const reports = [
        report({ collectedBy: 'Bob Field', storageLocation: 'Shelf 1' }, field),
        report({ collectedBy: 'Carol Field', storageLocation: 'Shelf 2' }, otherField),
      ];
      let sent: Promise<[UpdateOutcome, UpdateOutcome]> | undefined;
      await h.restartWorker(async () => {
        sent = sendTogether(
          h,
          handle,
          [reportUpdates['device-collected'], reports[0]],
          [reportUpdates['device-collected'], reports[1]],
        );
        // Give both Updates time to reach the server; if one arrives later, the same outcome is expected.
        await new Promise((r) => setTimeout(r, 1_000));
      });
      const outcomes = await (sent as Promise<[UpdateOutcome, UpdateOutcome]>);
      expect(acks(outcomes), JSON.stringify(outcomes)).toHaveLength(1);
      expect(refusalTypes(outcomes)).toEqual(['EventNotExpected']);
      await h.waitForTask(handle, 'awaiting-reenrollment');
      expect(h.stubs.count('returnToStock')).toBe(1);
      expect(h.stubs.eventsOf('device-collected')).toHaveLength(1);
    },
  );

  it(
    'two different events for one task (installed vs. removal failed): exactly one is applied',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness();
      const handle = await h.startInactivation();
      await h.waitForTask(handle, 'awaiting-removal-profile');
      const outcomes = await sendTogether(
        h,
        handle,
        // Each names the step it reports on, as the API and the field page do: the process answers a
        // report as soon as it enters its next step, where profile-removal-failed would fit again.
        [reportUpdates['removal-profile-installed'], { ...report({}), step: 'awaiting-removal-profile' }],
        [
          reportUpdates['profile-removal-failed'],
          { ...report({ reason: 'the device asked for a passcode nobody knows' }), step: 'awaiting-removal-profile' },
        ],
      );
      expect(acks(outcomes), JSON.stringify(outcomes)).toHaveLength(1);
      expect(refusalTypes(outcomes)).toEqual(['EventNotExpected']);
      const applied = acks(outcomes)[0].event;
      // The workflow follows the branch of the report it applied, and only that one.
      const next = applied === 'removal-profile-installed' ? 'awaiting-profile-removal' : 'awaiting-reenrollment';
      const state = await h.waitForTask(handle, next);
      expect(state.reports.filter((r) => r.step === 'awaiting-removal-profile')).toEqual([
        expect.objectContaining({ event: applied, outcome: 'accepted' }),
      ]);
      // The report's audit write follows the step change (the next step's work waits for it).
      await expect
        .poll(
          () =>
            h.stubs.eventsOf('removal-profile-installed').length + h.stubs.eventsOf('profile-removal-failed').length,
        )
        .toBe(1);
      expect(h.stubs.eventsOf(applied)).toHaveLength(1);
      expect(h.stubs.count('requestInactivation')).toBe(1);
    },
  );
});

describe('a report during a cancel', () => {
  it.each([
    ['cancel sent first', 'cancel'],
    ['report sent first', 'report'],
  ] as const)(
    '%s: the workflow ends cancelled, both Updates are answered, and the cancel is audited once',
    { timeout: TEST_TIMEOUT_MS },
    async (_label, firstSent) => {
      const h = await harness();
      const handle = await h.startChangeUser();
      await h.waitForTask(handle, 'awaiting-collection');
      const collected = report({ collectedBy: 'Bob Field' });
      const cancel: [typeof adminUpdates.cancel, AdminCommand] = [adminUpdates.cancel, command('device stays')];
      const rep: [(typeof reportUpdates)['device-collected'], HumanReport] = [
        reportUpdates['device-collected'],
        collected,
      ];
      const [a, b] =
        firstSent === 'cancel'
          ? await sendTogether(h, handle, cancel, rep)
          : await sendTogether(h, handle, rep, cancel);
      const [cancelled, reported] = firstSent === 'cancel' ? [a, b] : [b, a];

      expect(cancelled, JSON.stringify(cancelled)).toMatchObject({ kind: 'ack', ack: { accepted: true } });
      // The report is answered too: acknowledged, or refused because the process had already stopped.
      expect(['ack', 'refused', 'closed']).toContain(reported.kind);
      if (reported.kind === 'refused') expect(reported.type).toBe('EventNotExpected');

      const result = await handle.result();
      expect(result).toMatchObject({ status: 'cancelled', step: 'cancelled' });
      expect(result.pendingTask).toBeUndefined();
      expect(h.stubs.eventsOf('cancelled')).toHaveLength(1);
      expect(h.stubs.callsOf('recordEvent', (c) => c.args[1] === 'cancelled')).toHaveLength(1);

      // Consistent either way. An ack that says 'running' means the report moved the workflow on before the
      // cancel took effect: it was applied (audited) once. Otherwise the cancel stopped the workflow before
      // the collection's next step could start: the report may have been audited, but nothing ran on it.
      const applied = h.stubs.eventsOf('device-collected');
      if (reported.kind === 'ack' && reported.ack.status === 'running') {
        expect(applied).toHaveLength(1);
        expect(applied[0].ctx.actor.id).toBe(collected.actor.id);
      } else {
        if (reported.kind === 'ack') expect(reported.ack).toMatchObject({ status: 'cancelled', step: 'cancelled' });
        expect(applied.length).toBeLessThanOrEqual(1);
        expect(h.stubs.count('returnToStock')).toBe(0);
      }
      expect(h.stubs.count('returnToStock')).toBeLessThanOrEqual(1);
      expect(h.stubs.count('requestWipe')).toBeLessThanOrEqual(1);
      const done = h.stubs.eventsOf('cancelled')[0].details.doneSteps as string[];
      expect(done).toEqual(result.steps.map((s) => s.step));
    },
  );

  it(
    'a cancel while a step is running lets that step finish, then ends the process before the next step',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const gate = createGate();
      const h = await harness((d) => ({
        returnToStock: async (...args) => {
          await gate.pass();
          return d.returnToStock(...args);
        },
      }));
      const handle = await h.startChangeUser();
      await h.waitForTask(handle, 'awaiting-collection');
      const collected = await h.update(handle, reportUpdates['device-collected'], report({ collectedBy: 'Bob Field' }));
      expect(collected).toMatchObject({ kind: 'ack', ack: { step: 'returning-to-stock', status: 'running' } });
      await gate.entered;

      const cancelCmd = command('the user keeps the device');
      const pending = await handle.startUpdate(adminUpdates.cancel, {
        args: [cancelCmd],
        updateId: `cancel:${cancelCmd.idempotencyKey}`,
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      // Accepted, but the activity is not interrupted: the workflow is still inside the step.
      const during = await h.waitForState(
        handle,
        (s) => s.notes.some((n) => n.includes('cancel requested by')),
        'the cancel noted',
      );
      expect(during).toMatchObject({ status: 'running', step: 'returning-to-stock' });

      gate.release();
      const ack = await h.client.withDeadline(Date.now() + PATIENCE_MS, () => pending.result());
      expect(ack).toMatchObject({ accepted: true, event: 'cancel', status: 'cancelled', step: 'cancelled' });
      const result = await handle.result();
      expect(result.status).toBe('cancelled');
      expect(h.stubs.count('returnToStock')).toBe(1);
      expect(h.stubs.count('requestWipe')).toBe(0);
      expect(h.stubs.eventsOf('cancelled')).toHaveLength(1);
      expect(h.stubs.eventsOf('cancelled')[0].details.doneSteps).toContain('returning-to-stock');
    },
  );
});

/**
 * Holds the collection task inside its first reminder (a `sendNotice` held at a gate), then takes a report
 * and a cancel while it is held: when the reminder is released, both are waiting for the main loop at once,
 * whatever the speed of the machine. (The reminder is due about a second after the task opens; if the
 * machine is slow enough to miss it, the next one is due at the planned date, 20 s after the start.)
 */
async function reportThenCancelDuringReminder() {
  const gate = createGate();
  const h = await harness((d) => ({
    sendNotice: async (...args) => {
      await gate.pass();
      return d.sendNotice(...args);
    },
  }));
  const handle = await h.startChangeUser({
    plannedCollectionDate: new Date(Date.now() + 20_000).toISOString(),
    timings: { ...FAST_TIMINGS, reminderBeforeMs: 19_000 },
  });
  await h.waitForTask(handle, 'awaiting-collection');
  await gate.entered;
  const collected = report({ collectedBy: 'Bob Field' });
  const reported = h.update(handle, reportUpdates['device-collected'], collected);
  await h.waitForState(
    handle,
    (s) => s.reports.some((r) => r.idempotencyKey === collected.idempotencyKey),
    'the report taken',
  );
  const cancelled = h.update(handle, adminUpdates.cancel, command('the user keeps the device'));
  await h.waitForState(handle, (s) => s.notes.some((n) => n.includes('cancel requested by')), 'the cancel noted');
  gate.release();
  return { h, handle, collected, reported: await reported, cancelled: await cancelled };
}

describe('a report taken just before a cancel (both waiting for the main loop)', () => {
  it(
    'both are answered, the cancel wins, the report is acknowledged at cancelled, audited, and nothing runs on it',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const { h, handle, collected, reported, cancelled } = await reportThenCancelDuringReminder();
      expect(cancelled).toMatchObject({ kind: 'ack', ack: { accepted: true, status: 'cancelled' } });
      expect(reported).toMatchObject({
        kind: 'ack',
        ack: { accepted: true, duplicate: false, event: 'device-collected', status: 'cancelled', step: 'cancelled' },
      });
      const result = await handle.result();
      expect(result.status).toBe('cancelled');
      // The state lists the report as accepted at awaiting-collection ...
      expect(result.reports).toEqual([
        expect.objectContaining({ idempotencyKey: collected.idempotencyKey, outcome: 'accepted' }),
      ]);
      // ... it is in the audit trail (what was done is kept and said), but no step ran on it.
      expect(h.stubs.count('returnToStock')).toBe(0);
      expect(h.stubs.eventsOf('device-collected')).toHaveLength(1);
      expect(h.stubs.eventsOf('cancelled')).toHaveLength(1);
      expect(h.stubs.eventsOf('cancelled')[0].details.doneSteps).not.toContain('returning-to-stock');
    },
  );
});

describe('retry and abort', () => {
  it(
    'are refused with CommandNotAllowed while the workflow waits at a human task, and change nothing',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness();
      const handle = await h.startChangeUser();
      const before = await h.waitForTask(handle, 'awaiting-collection');
      const outcomes = await sendTogether(h, handle, [adminUpdates.retry, command()], [adminUpdates.abort, command()]);
      expect(refusalTypes(outcomes)).toEqual(['CommandNotAllowed', 'CommandNotAllowed']);
      const after = await h.waitForTask(handle, 'awaiting-collection');
      expect(after.notes).toEqual(before.notes);
      expect(after.steps).toEqual(before.steps);
      expect(h.stubs.eventsOf('retry')).toHaveLength(0);
      expect(h.stubs.eventsOf('aborted')).toHaveLength(0);
      // The task still takes its report.
      const ack = await h.update(handle, reportUpdates['device-collected'], report({ collectedBy: 'Bob Field' }));
      expect(ack).toMatchObject({ kind: 'ack', ack: { accepted: true } });
    },
  );

  it(
    'after an activity finally fails the workflow needs attention; retry runs the step again and it moves on',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      let failuresLeft = 1;
      const h = await harness((d) => ({
        scheduleCollection: async (...args) => {
          if (failuresLeft-- > 0) throw stubFailure('Mdm.Refused', 'the MDM refused the request');
          return d.scheduleCollection(...args);
        },
      }));
      const handle = await h.startChangeUser();
      const parked = await h.waitForNeedsAttention(handle);
      expect(parked).toMatchObject({ step: 'needs-attention', failedStep: 'scheduled' });
      expect(parked.lastError).toContain('the MDM refused the request');
      expect(parked.pendingTask).toBeUndefined();
      expect(h.stubs.count('scheduleCollection')).toBe(1); // non-retryable: no Temporal retries
      await eventually(() => h.stubs.eventsOf('needs-attention').length > 0, 'needs-attention audited');
      expect(h.stubs.eventsOf('needs-attention')).toHaveLength(1);

      const retried = await h.update(handle, adminUpdates.retry, command('the MDM is fixed'));
      expect(retried).toMatchObject({ kind: 'ack', ack: { accepted: true, event: 'retry', status: 'running' } });
      await h.waitForTask(handle, 'awaiting-collection');
      expect(h.stubs.count('scheduleCollection')).toBe(2);
      expect(h.stubs.eventsOf('retry')).toHaveLength(1);
      expect(h.stubs.eventsOf('retry')[0].details).toMatchObject({
        failedStep: 'scheduled',
        reason: 'the MDM is fixed',
      });

      // The retry was used up: another one is refused now that the workflow runs again.
      const again = await h.update(handle, adminUpdates.retry, command());
      expect(again).toMatchObject({ kind: 'refused', type: 'CommandNotAllowed' });
    },
  );

  it('abort from needs-attention ends the process aborted', { timeout: TEST_TIMEOUT_MS }, async () => {
    const h = await harness({
      scheduleCollection: async () => {
        throw stubFailure('Mdm.Refused', 'the MDM refused the request');
      },
    });
    const handle = await h.startChangeUser();
    await h.waitForNeedsAttention(handle);
    const aborted = await h.update(handle, adminUpdates.abort, command('device is lost'));
    expect(aborted).toMatchObject({ kind: 'ack', ack: { accepted: true, event: 'abort', status: 'aborted' } });
    const result = await handle.result();
    expect(result).toMatchObject({ status: 'aborted', step: 'aborted', failedStep: 'scheduled' });
    expect(h.stubs.count('scheduleCollection')).toBe(1);
    expect(h.stubs.eventsOf('aborted')).toHaveLength(1);
    expect(h.stubs.eventsOf('aborted')[0].details).toMatchObject({ reason: 'device is lost', failedStep: 'scheduled' });
    expect(h.stubs.eventsOf('retry')).toHaveLength(0);
  });

  it.each([
    ['retry sent first', 'retry'],
    ['abort sent first', 'abort'],
  ] as const)(
    'retry and abort at once (%s): one wins and the final state agrees with the answers',
    { timeout: TEST_TIMEOUT_MS },
    async (_label, firstSent) => {
      let failuresLeft = 1;
      const h = await harness((d) => ({
        scheduleCollection: async (...args) => {
          if (failuresLeft-- > 0) throw stubFailure('Mdm.Refused', 'the MDM refused the request');
          return d.scheduleCollection(...args);
        },
      }));
      const handle = await h.startChangeUser();
      await h.waitForNeedsAttention(handle);
      const retry: [typeof adminUpdates.retry, AdminCommand] = [adminUpdates.retry, command('try again')];
      const abort: [typeof adminUpdates.abort, AdminCommand] = [adminUpdates.abort, command('give up')];
      const [a, b] =
        firstSent === 'retry'
          ? await sendTogether(h, handle, retry, abort)
          : await sendTogether(h, handle, abort, retry);
      const [retried, aborted] = firstSent === 'retry' ? [a, b] : [b, a];
      for (const o of [retried, aborted]) expect(['ack', 'refused', 'closed'], JSON.stringify(o)).toContain(o.kind);

      const settled = await h.waitForState(
        handle,
        (s) => s.status === 'aborted' || (s.status === 'running' && s.step === 'awaiting-collection'),
        'aborted, or running again at awaiting-collection',
      );
      if (settled.status === 'aborted') {
        // Abort won (both in one workflow task, or abort first): the step never ran again.
        expect(aborted).toMatchObject({ kind: 'ack', ack: { status: 'aborted' } });
        if (retried.kind === 'ack') expect(retried.ack.status).toBe('aborted');
        else if (retried.kind === 'refused') expect(retried.type).toBe('CommandNotAllowed');
        expect((await handle.result()).status).toBe('aborted');
        expect(h.stubs.count('scheduleCollection')).toBe(1);
        expect(h.stubs.eventsOf('retry')).toHaveLength(0);
        expect(h.stubs.eventsOf('aborted')).toHaveLength(1);
      } else {
        // Retry won: abort came after the workflow was running again and was refused.
        expect(retried).toMatchObject({ kind: 'ack', ack: { status: 'running' } });
        expect(aborted).toMatchObject({ kind: 'refused', type: 'CommandNotAllowed' });
        expect(h.stubs.count('scheduleCollection')).toBe(2);
        expect(h.stubs.eventsOf('retry')).toHaveLength(1);
        expect(h.stubs.eventsOf('aborted')).toHaveLength(0);
      }
    },
  );
});

describe('a Signal and an Update with the same idempotency key', () => {
  /**
   * A later rejected signal is the marker that every signal before it was handled (signals are handled
   * in the order they were written): `app-removed` belongs to inactivation, so change-user never expects it.
   */
  async function signalsHandled(h: FastHarness, handle: LifecycleHandle): Promise<LifecycleState> {
    const marker = report({});
    await handle.signal(reportSignals['app-removed'], marker);
    const state = await h.waitForState(
      handle,
      (s) => s.reports.some((r) => r.idempotencyKey === `rejected:${marker.idempotencyKey}`),
      'the marker signal handled',
    );
    // The rejection is in the state before its audit write has run.
    await eventually(
      () => h.stubs.eventsOf('report-rejected').some((e) => e.ctx.idempotencyKey.endsWith(marker.idempotencyKey)),
      'the marker rejection audited',
    );
    return state;
  }

  it(
    'Signal first: the report is applied once and the Update is acknowledged as a duplicate',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness();
      const handle = await h.startChangeUser();
      await h.waitForTask(handle, 'awaiting-collection');
      const collected = report({ collectedBy: 'Bob Field', storageLocation: 'Shelf 4' });
      await handle.signal(reportSignals['device-collected'], collected);
      const outcome = await h.update(handle, reportUpdates['device-collected'], collected);
      expect(outcome).toMatchObject({
        kind: 'ack',
        ack: { accepted: true, duplicate: true, event: 'device-collected' },
      });

      const state = await h.waitForTask(handle, 'awaiting-reenrollment');
      expect(state.reports.filter((r) => r.idempotencyKey.includes(collected.idempotencyKey))).toEqual([
        expect.objectContaining({ outcome: 'accepted', step: 'awaiting-collection' }),
      ]);
      expect(h.stubs.eventsOf('device-collected')).toHaveLength(1);
      expect(h.stubs.count('returnToStock')).toBe(1);
      expect(h.stubs.eventsOf('report-rejected')).toHaveLength(0);
    },
  );

  it(
    'Update first: the report is applied once and the Signal is ignored (not recorded as rejected)',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness();
      const handle = await h.startChangeUser();
      await h.waitForTask(handle, 'awaiting-collection');
      const collected = report({ collectedBy: 'Bob Field', storageLocation: 'Shelf 4' });
      const outcome = await h.update(handle, reportUpdates['device-collected'], collected);
      expect(outcome).toMatchObject({ kind: 'ack', ack: { duplicate: false, event: 'device-collected' } });
      await h.waitForTask(handle, 'awaiting-reenrollment');
      await handle.signal(reportSignals['device-collected'], collected);

      const state = await signalsHandled(h, handle);
      expect(state.reports.filter((r) => r.idempotencyKey.includes(collected.idempotencyKey))).toEqual([
        expect.objectContaining({ outcome: 'accepted', step: 'awaiting-collection' }),
      ]);
      expect(h.stubs.eventsOf('device-collected')).toHaveLength(1);
      expect(h.stubs.count('returnToStock')).toBe(1);
      // Only the marker was rejected.
      expect(h.stubs.eventsOf('report-rejected').map((e) => e.details.event)).toEqual(['app-removed']);
    },
  );

  it.each([
    ['Signal sent first', 'signal'],
    ['Update sent first', 'update'],
  ] as const)(
    'sent at once (%s): applied once, whichever is handled first',
    { timeout: TEST_TIMEOUT_MS },
    async (_label, firstSent) => {
      const h = await harness();
      const handle = await h.startChangeUser();
      await h.waitForTask(handle, 'awaiting-collection');
      const collected = report({ collectedBy: 'Bob Field' });
      const signal = () => handle.signal(reportSignals['device-collected'], collected);
      const update = () => h.update(handle, reportUpdates['device-collected'], collected);
      const [, outcome] =
        firstSent === 'signal'
          ? await Promise.all([signal(), update()])
          : await Promise.all([update(), signal()]).then(([o]) => [undefined, o] as const);
      expect(outcome).toMatchObject({ kind: 'ack', ack: { accepted: true, event: 'device-collected' } });

      await h.waitForTask(handle, 'awaiting-reenrollment');
      const state = await signalsHandled(h, handle);
      expect(state.reports.filter((r) => r.idempotencyKey.includes(collected.idempotencyKey))).toEqual([
        expect.objectContaining({ outcome: 'accepted', step: 'awaiting-collection' }),
      ]);
      expect(h.stubs.eventsOf('device-collected')).toHaveLength(1);
      expect(h.stubs.count('returnToStock')).toBe(1);
    },
  );

  // DESIGN.md §3: "a repeated report is acknowledged, not applied twice (the same key with a different
  // event or body is refused)".
  it(
    'a used key sent with a different event or body is refused, naming what differs; a true repeat is a duplicate',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness();
      const handle = await h.startChangeUser();
      await h.waitForTask(handle, 'awaiting-collection');
      const collected = report({ collectedBy: 'Bob Field' });
      await handle.signal(reportSignals['device-collected'], collected);
      await h.waitForTask(handle, 'awaiting-reenrollment');

      const otherEvent = await h.update(handle, reportUpdates['device-reenrolled'], { ...collected, data: {} });
      expect(otherEvent).toMatchObject({ kind: 'refused', type: 'IdempotencyKeyReused' });
      const otherBody = await h.update(handle, reportUpdates['device-collected'], {
        ...collected,
        data: { collectedBy: 'Someone Else' },
      });
      expect(otherBody).toMatchObject({ kind: 'refused', type: 'IdempotencyKeyReused' });
      const repeat = await h.update(handle, reportUpdates['device-collected'], collected);
      expect(repeat).toMatchObject({ kind: 'ack', ack: { duplicate: true, event: 'device-collected' } });

      // As a Signal (UI, CLI) the reuse cannot be refused to the sender: it is recorded as rejected.
      await handle.signal(reportSignals['device-reenrolled'], { ...collected, data: {} });
      const state = await h.waitForState(handle, (s) => s.reports.some((r) => r.outcome === 'rejected'));
      expect(state.reports.find((r) => r.outcome === 'rejected')).toMatchObject({
        event: 'device-reenrolled',
        reason: expect.stringMatching(/already used for another request \(event differ/),
      });
      expect(h.stubs.eventsOf('device-collected')).toHaveLength(1);
      expect(h.stubs.eventsOf('device-reenrolled')).toHaveLength(0);
    },
  );
});

describe('a cancel from the Temporal client', () => {
  it(
    'while awaiting a task: the workflow ends cancelled and the cancel is audited once',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness();
      const handle = await h.startChangeUser();
      await h.waitForTask(handle, 'awaiting-collection');
      await handle.cancel();

      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect((await handle.describe()).status.name).toBe('CANCELLED');
      const state = await finalState(h, handle);
      expect(state).toMatchObject({ status: 'cancelled', step: 'cancelled' });
      expect(state.pendingTask).toBeUndefined();
      const audited = h.stubs.eventsOf('cancelled');
      expect(audited).toHaveLength(1);
      expect(audited[0].ctx.actor).toEqual({ id: 'temporal-cancel-request', role: 'operator' });
      expect(audited[0].details.doneSteps).toEqual(expect.arrayContaining(['scheduled', 'awaiting-collection']));
      expect(h.stubs.callsOf('recordEvent', (c) => c.args[1] === 'cancelled')).toHaveLength(1);

      // Closed: a late report is not applied.
      const late = await h.update(handle, reportUpdates['device-collected'], report({ collectedBy: 'Bob Field' }));
      expect(['closed', 'refused']).toContain(late.kind);
      expect(h.stubs.eventsOf('device-collected')).toHaveLength(0);
    },
  );

  it(
    'while the audit write of a report is still running: the report is answered, recorded, and the cancel audited once',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const gate = createGate();
      const h = await harness((d) => ({
        recordEvent: async (ctx, eventType, details, tasks) => {
          if (eventType === 'device-collected') await gate.pass();
          return d.recordEvent(ctx, eventType, details, tasks);
        },
      }));
      const handle = await h.startChangeUser();
      await h.waitForTask(handle, 'awaiting-collection');
      const reported = h.update(handle, reportUpdates['device-collected'], report({ collectedBy: 'Bob Field' }));
      await gate.entered; // the report was taken; its audit write is held (the next step waits for it)
      // The report is answered as soon as the process enters its next step, without waiting for the write.
      const outcome = await reported;
      expect(outcome, JSON.stringify(outcome)).toMatchObject({ kind: 'ack', ack: { step: 'returning-to-stock' } });
      await handle.cancel();
      // An accepted report is always recorded, cancel or not: the write finishes, then the process stops.
      gate.release();
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect((await handle.describe()).status.name).toBe('CANCELLED');
      const state = await finalState(h, handle);
      expect(state.status).toBe('cancelled');
      expect(h.stubs.eventsOf('cancelled')).toHaveLength(1);
      expect(h.stubs.eventsOf('device-collected')).toHaveLength(1);
      expect(h.stubs.count('returnToStock')).toBe(0);
    },
  );
});
