/**
 * Each process registers handlers for its own events only. An event of the other process is refused
 * all the same: through the API as a 409 naming the step and what it expects (nothing written), and as
 * a Signal from the Temporal UI or CLI it is recorded as rejected, in state and in the audit trail.
 */
import { describe, expect, it } from 'vitest';
import { reportSignals, workflowIdFor } from '../workflows/definitions';
import { TOKENS } from './support/apiHarness';
import { newAssetNumber } from './support/fixtures';
import { startChangeUserThroughApi, useHarnessWithApi } from './support/suite';

const { h, api } = useHarnessWithApi({ ADMIN_EMAILS: 'it-admins@example.com' });

const assetNumber = newAssetNumber();
const workflowId = workflowIdFor(assetNumber);

describe('an event of the other process', () => {
  it('is refused as an Update with 409 naming the step, and recorded as rejected when signalled', async () => {
    await h.seedDevice({ assetNumber });
    const handle = await startChangeUserThroughApi(h, api, assetNumber);
    const before = await h.eventTypes(assetNumber);

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
    expect(await h.eventTypes(assetNumber)).toEqual(before);

    const claimed = { id: 'someone@example.com', role: 'field-staff' as const };
    await handle.signal(reportSignals['app-removed'], { actor: claimed, idempotencyKey: 'other-process-2', data: {} });
    const state = await h.waitForState(handle, (s) => s.reports.some((r) => r.outcome === 'rejected'));
    expect(state.step).toBe('awaiting-collection');
    expect(state.reports.find((r) => r.outcome === 'rejected')).toMatchObject({
      event: 'app-removed',
      actor: claimed,
      reason: 'app-removed is not expected at step awaiting-collection; expected: device-collected',
    });
    await expect.poll(() => h.eventTypes(assetNumber)).toContain('report-rejected');

    // The process still takes its own report.
    const collected = await api.call('POST', `/api/v1/workflows/${workflowId}/events/device-collected`, {
      token: TOKENS.field,
      body: { idempotencyKey: 'own-process-1', data: { collectedBy: 'Bob Field' } },
    });
    expect(collected.status, JSON.stringify(collected.body)).toBe(200);
    await handle.terminate('test done');
  });
});
