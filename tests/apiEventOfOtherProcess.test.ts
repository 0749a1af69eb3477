/**
 * Each process registers handlers for its own events only. An event of the other process is refused
 * all the same: through the API as a 409 naming the step and what it expects (nothing written), and as
 * a Signal from the Temporal UI or CLI it is recorded as rejected, in state and in the audit trail.
 */
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as eventsRepo from '../db/assetEventsRepo';
import { reportSignals } from '../workflows/definitions';
import { startApiFor, TOKENS, type ApiHarness } from './support/apiHarness';
import { startHarness, type Harness } from './support/lifecycleHarness';

let h: Harness;
let api: ApiHarness;

beforeAll(async () => {
  h = await startHarness();
  api = await startApiFor(h, { ADMIN_EMAILS: 'it-admins@example.com' });
});
afterAll(async () => {
  await api?.close();
  await h?.stop();
});

const assetNumber = `A-${String(randomInt(100_000, 999_999))}`;
const workflowId = `device-${assetNumber}`;
const inAWeek = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);

describe('an event of the other process', () => {
  it('is refused as an Update with 409 naming the step, and recorded as rejected when signalled', async () => {
    await h.seedDevice({ assetNumber });
    const started = await api.call('POST', `/api/v1/devices/${assetNumber}/change-user`, {
      token: TOKENS.admin,
      body: { reason: 'Leaver', plannedCollectionDate: inAWeek, storageLocation: 'Shelf 1' },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const handle = api.temporal.workflow.getHandle(workflowId);
    await h.waitForStep(handle, 'awaiting-collection');
    const before = await eventsRepo.listForAsset(h.db.pool, assetNumber);

    const res = await api.call('POST', `/api/v1/workflows/${workflowId}/events/app-removed`, {
      token: TOKENS.field,
      body: { idempotencyKey: 'other-process-1', data: {} },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(res.body.error).toMatchObject({
      code: 'event-not-expected',
      details: { workflowId, step: 'awaiting-collection', expects: ['device-collected'], status: 'running' },
    });
    expect(res.body.error.message).toContain('app-removed is not an event of this');
    expect(await eventsRepo.listForAsset(h.db.pool, assetNumber)).toHaveLength(before.length);

    const claimed = { id: 'someone@example.com', role: 'field-staff' as const };
    await handle.signal(reportSignals['app-removed'], { actor: claimed, idempotencyKey: 'other-process-2', data: {} });
    const state = await h.waitForState(handle, (s) => s.reports.some((r) => r.outcome === 'rejected'));
    expect(state.step).toBe('awaiting-collection');
    expect(state.reports.find((r) => r.outcome === 'rejected')).toMatchObject({
      event: 'app-removed',
      actor: claimed,
      reason: 'app-removed is not expected at step awaiting-collection; expected: device-collected',
    });
    await expect
      .poll(async () => (await eventsRepo.listForAsset(h.db.pool, assetNumber)).map((e) => e.eventType), {
        timeout: 60_000,
      })
      .toContain('report-rejected');

    // The process still takes its own report.
    const collected = await api.call('POST', `/api/v1/workflows/${workflowId}/events/device-collected`, {
      token: TOKENS.field,
      body: { idempotencyKey: 'own-process-1', data: { collectedBy: 'Bob Field' } },
    });
    expect(collected.status, JSON.stringify(collected.body)).toBe(200);
    await handle.terminate('test done');
  });
});
