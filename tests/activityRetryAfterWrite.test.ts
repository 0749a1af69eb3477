/**
 * A retried activity writes nothing twice: each step's activity is made to fail once *after* its real
 * work committed (as if the worker crashed before replying), Temporal retries it, and the database, the
 * audit trail, the mail and the MDM each show the step exactly once.
 */
import { Context } from '@temporalio/activity';
import { describe, expect, it } from 'vitest';
import type { LifecycleActivities } from '../activities/contracts';
import * as assetsRepo from '../db/assetsRepo';
import { reportUpdates, type LifecycleState } from '../workflows/definitions';
import { changeUserInput, DAY_MS, newAssetNumber, report } from './support/fixtures';
import { useHarness } from './support/suite';

const FLAKY: (keyof LifecycleActivities)[] = [
  'scheduleCollection',
  'returnToStock',
  'requestWipe',
  'deleteFromMdm',
  'verifyEnrollment',
  'assignUser',
  'recordDelivery',
  'recordEvent',
];
const attempts = new Map<string, number>();

/** Runs the real activity, then throws on its first attempt so Temporal retries a step that already wrote. */
function failOnceAfterWrite(real: LifecycleActivities): LifecycleActivities {
  const wrapped = { ...real } as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of FLAKY) {
    const fn = real[name] as (...args: unknown[]) => Promise<unknown>;
    wrapped[name] = async (...args: unknown[]) => {
      const result = await fn(...args);
      const attempt = Context.current().info.attempt;
      attempts.set(name, Math.max(attempts.get(name) ?? 0, attempt));
      if (attempt === 1) throw new Error(`${name}: simulated crash after the write`);
      return result;
    };
  }
  return wrapped as unknown as LifecycleActivities;
}

const h = useHarness({ wrapActivities: failOnceAfterWrite });

describe('activities retried after their write', () => {
  it('leave one change, one audit event, one mail and one MDM command per step', async () => {
    const assetNumber = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber, userEmail: 'holder@example.com' });
    const input = changeUserInput(assetNumber, {
      plannedCollectionDate: new Date(Date.now() + DAY_MS).toISOString(),
    });
    const handle = await h.startChangeUser(input);
    await h.waitForStep(handle, 'awaiting-collection');
    await handle.executeUpdate(reportUpdates['device-collected'], { args: [report({ collectedBy: 'Bob' })] });
    await h.waitForStep(handle, 'awaiting-reenrollment');
    await h.emulator.reEnroll(mdmDeviceId);
    await handle.executeUpdate(reportUpdates['device-reenrolled'], { args: [report()] });
    await h.waitForStep(handle, 'awaiting-delivery');
    await handle.executeUpdate(reportUpdates['device-delivered'], {
      args: [report({ receivedBy: input.newUser!.name, signature: `typed: ${input.newUser!.name}` })],
    });
    const final: LifecycleState = await handle.result();
    expect(final.status).toBe('completed');

    for (const name of FLAKY) expect(attempts.get(name), `${name} was retried`).toBeGreaterThanOrEqual(2);
    const counts = (await h.eventTypes(assetNumber)).reduce<Record<string, number>>(
      (acc, type) => ({ ...acc, [type]: (acc[type] ?? 0) + 1 }),
      {},
    );
    expect(counts).toEqual({
      'collection-scheduled': 1,
      'notice-sent': 2,
      'device-collected': 1,
      'returned-to-stock': 1,
      'wipe-requested': 1,
      'wipe-finished': 1,
      'mdm-record-deleted': 1,
      'device-reenrolled': 1,
      'reenrollment-verified': 1,
      'user-assigned': 1,
      'device-delivered': 1,
      'delivery-receipt': 1,
    });
    // Each asset change bumped the version once: 1 (created) + schedule, return to stock, MDM id cleared,
    // new MDM id, new user.
    expect((await assetsRepo.get(h.db.pool, assetNumber))?.version).toBe(6);
    expect(h.mail.messages().filter((m) => m.to.includes('holder@example.com'))).toHaveLength(1);
    expect(h.mail.messages().filter((m) => m.to.includes(input.newUser!.email))).toHaveLength(1);
    expect((await h.mdm.listCommands(mdmDeviceId)).filter((c) => c.type === 'wipe')).toHaveLength(1);
  });
});
