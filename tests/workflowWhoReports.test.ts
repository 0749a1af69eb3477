/**
 * Who may report what (DESIGN §3, who-reports-1), on the real workflow code with stub activities: every
 * human event from each role, as an Update and as a Signal. Reports that decide something (wipe-confirmed,
 * user-assigned with user details) are taken from admins only, and never from a Signal, which cannot
 * prove who sent it. Every other event is judged on the step alone, whoever sends it.
 */
import { describe, expect, it } from 'vitest';
import {
  CHANGE_USER_EVENTS,
  HUMAN_EVENTS,
  reportSignals,
  reportUpdates,
  type HumanEventName,
  type HumanReport,
} from '../workflows/definitions';
import { adminOnlyReason } from '../workflows/reportSchemas';
import { admin, field, PATIENCE_MS, report, useFastHarnesses } from './support/fastHarness';
import { NEW_USER as NEW_USER_DETAILS } from './support/fixtures';

const harness = useFastHarnesses();
const TEST_TIMEOUT_MS = 3 * PATIENCE_MS;
const viewer = { id: 'vera.viewer@example.com', role: 'viewer' as const };
/** What the first task of each process expects. */
const FIRST_TASK_EVENTS: HumanEventName[] = ['device-collected', 'removal-profile-installed', 'profile-removal-failed'];

/** A valid body for each event (user-assigned twice: with user details and with an application). */
const BODIES: [HumanEventName, Record<string, unknown>][] = [
  ['device-collected', { collectedBy: 'Bob Field' }],
  ['wipe-confirmed', { note: 'setup assistant on screen' }],
  ['device-reenrolled', {}],
  ['user-assigned', { user: NEW_USER_DETAILS }],
  ['user-assigned', { applicationId: 'app-1' }],
  ['device-delivered', { receivedBy: 'Yuki New', signature: 'Yuki' }],
  ['removal-profile-installed', {}],
  ['profile-removal-failed', { reason: 'no install screen' }],
  ['profiles-removed', {}],
  ['app-removed', {}],
];

describe('who may report what', () => {
  it('covers every human event', () => {
    expect(new Set(BODIES.map(([e]) => e))).toEqual(new Set(HUMAN_EVENTS));
  });

  it(
    'Updates: admin-only reports are refused (NotPermitted) from anyone but an admin; the rest by step only',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness();
      // Each event goes to its own process, waiting at its first task: there the other events are out of
      // step, so only the role can explain a NotPermitted, and the first task's events are taken from anyone.
      for (const [event, data] of BODIES) {
        for (const actor of [admin, field, viewer]) {
          const changeUser = (CHANGE_USER_EVENTS as readonly string[]).includes(event);
          const handle = changeUser ? await h.startChangeUser({ newUser: undefined }) : await h.startInactivation();
          await h.waitForTask(handle, changeUser ? 'awaiting-collection' : 'awaiting-removal-profile');
          const outcome = await h.update(handle, reportUpdates[event], report(data, actor) as HumanReport);
          const what = `${event} ${JSON.stringify(data)} from ${actor.role}: ${JSON.stringify(outcome)}`;
          if (adminOnlyReason(event, data) && actor.role !== 'admin') {
            expect(outcome, what).toMatchObject({ kind: 'refused', type: 'NotPermitted' });
          } else if (FIRST_TASK_EVENTS.includes(event)) {
            expect(outcome, what).toMatchObject({ kind: 'ack' });
          } else {
            expect(outcome, what).toMatchObject({ kind: 'refused', type: 'EventNotExpected' });
          }
          await handle.terminate('test done');
        }
      }
    },
  );

  it(
    'Signals: an admin-only report is recorded as rejected whatever role it claims; others are taken with via: signal',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness();
      const handle = await h.startChangeUser({ newUser: undefined });
      await h.waitForTask(handle, 'awaiting-collection');
      let rejected = 0;
      for (const [event, data] of BODIES.filter(([e, d]) => adminOnlyReason(e, d))) {
        await handle.signal(reportSignals[event], report(data, admin));
        rejected += 1;
        const state = await h.waitForState(
          handle,
          (s) => s.reports.filter((r) => r.outcome === 'rejected').length === rejected,
          `${event} rejected`,
        );
        expect(state.reports.at(-1)).toMatchObject({
          event,
          outcome: 'rejected',
          actor: { id: admin.id, role: 'admin' },
          reason: expect.stringMatching(/admins only.*a Signal cannot prove who sent it/),
        });
      }
      // A report anyone may send is taken from a Signal, and its audit event says it came that way.
      await handle.signal(reportSignals['device-collected'], report({ collectedBy: 'Bob Field' }, field));
      await h.waitForState(handle, (s) => s.step !== 'awaiting-collection', 'the collection taken');
      await expect
        .poll(() => h.stubs.eventsOf('device-collected').map((e) => e.details.via), { timeout: PATIENCE_MS })
        .toEqual(['signal']);
      await handle.terminate('test done');
    },
  );

  it(
    "a delivery Signal must carry a stored signature's receipt, never the signature itself (records-1)",
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const h = await harness();
      const handle = await h.startChangeUser();
      await h.waitForTask(handle, 'awaiting-collection');
      await h.update(handle, reportUpdates['device-collected'], report({ collectedBy: 'Bob Field' }, field));
      await h.waitForTask(handle, 'awaiting-reenrollment');
      await h.update(handle, reportUpdates['device-reenrolled'], report({}, field));
      await h.waitForTask(handle, 'awaiting-delivery');
      await handle.signal(
        reportSignals['device-delivered'],
        report({ receivedBy: 'Yuki', signature: 'Yuki N.' }, field),
      );
      const rejected = await h.waitForState(handle, (s) => s.reports.some((r) => r.outcome === 'rejected'), 'rejected');
      expect(rejected.step).toBe('awaiting-delivery');
      expect(rejected.reports.at(-1)?.reason).toMatch(/only that receipt/);
      const receipt = `receipt:${'1'.repeat(8)}-1111-1111-1111-${'1'.repeat(12)}:sha256:${'a'.repeat(64)}`;
      await handle.signal(reportSignals['device-delivered'], report({ receivedBy: 'Yuki', signature: receipt }, field));
      expect(await handle.result()).toMatchObject({ status: 'completed' });
    },
  );
});
