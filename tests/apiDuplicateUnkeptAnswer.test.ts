/**
 * A repeated report or admin command answers `duplicate: true` (README, OpenAPI) even when the API never kept
 * the first answer: the first request timed out at the API after the workflow had taken it (the key is then
 * released), or its API process died before storing the answer. Real worker, PostgreSQL and Temporal; the
 * lost answer is the idempotency record removed after the first request, as either case leaves it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { workflowIdFor } from '../workflows/definitions';
import { TOKENS } from './support/apiHarness';
import { newAssetNumber } from './support/fixtures';
import { startChangeUserThroughApi, useHarnessWithApi } from './support/suite';

const { h, api } = useHarnessWithApi();

const started: string[] = [];
afterAll(async () => {
  await Promise.allSettled(started.map((id) => api.temporal.workflow.getHandle(id).terminate('test cleanup')));
});

const report = (workflowId: string, key: string) =>
  api.call('POST', `/api/v1/workflows/${workflowId}/events/device-collected`, {
    token: TOKENS.field,
    body: { data: { collectedBy: 'Aki' } },
    headers: { 'Idempotency-Key': key },
  });

const command = (workflowId: string, name: string, key: string) =>
  api.call('POST', `/api/v1/workflows/${workflowId}/${name}`, {
    token: TOKENS.admin,
    body: { reason: 'decided' },
    headers: { 'Idempotency-Key': key },
  });

const forget = async (key: string) => {
  const removed = await h.db.pool.query(`DELETE FROM idempotency_keys WHERE scope = 'update' AND key = $1`, [key]);
  expect(removed.rowCount).toBe(1);
};

describe('a repeated report whose first answer the API did not keep', () => {
  it('answers duplicate:false first, then duplicate:true, and the report is applied once', async () => {
    const assetNumber = newAssetNumber();
    const workflowId = workflowIdFor(assetNumber);
    await h.seedDevice({ assetNumber });
    const handle = await startChangeUserThroughApi(h, api, assetNumber);
    started.push(workflowId);
    const key = `collect-${assetNumber}-unkept`;

    const first = await report(workflowId, key);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.duplicate).toBe(false);

    await forget(key);

    const again = await report(workflowId, key);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body).toMatchObject({ accepted: true, duplicate: true, event: 'device-collected', workflowId });

    const state = await h.waitForState(handle, (s) => s.step !== 'awaiting-collection');
    expect(state.reports.filter((r) => r.event === 'device-collected')).toHaveLength(1);
  });
});

describe('a repeated admin command whose first answer the API did not keep', () => {
  it('answers duplicate:false first, then duplicate:true with the first answer, and the command is taken once', async () => {
    const assetNumber = newAssetNumber();
    const workflowId = workflowIdFor(assetNumber);
    await h.seedDevice({ assetNumber });
    const handle = await startChangeUserThroughApi(h, api, assetNumber);
    started.push(workflowId);
    const key = `cancel-${assetNumber}-unkept`;

    const first = await command(workflowId, 'cancel', key);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body).toMatchObject({ accepted: true, duplicate: false, event: 'cancel', workflowId });

    await forget(key);
    const again = await command(workflowId, 'cancel', key);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body).toEqual({ ...first.body, duplicate: true });

    // Also once the process has ended: the repeat is the first answer again, not 409 workflow-closed.
    await handle.result();
    await forget(key);
    const late = await command(workflowId, 'cancel', key);
    expect(late.status, JSON.stringify(late.body)).toBe(200);
    expect(late.body).toEqual({ ...first.body, duplicate: true });
    expect((await h.eventTypes(assetNumber)).filter((t) => t === 'cancelled')).toHaveLength(1);

    // A key the workflow never took is no repeat: another command with a fresh key is judged afresh.
    const other = await command(workflowId, 'abort', `abort-${assetNumber}-fresh`);
    expect(other.status, JSON.stringify(other.body)).toBe(409);
    expect(other.body.error.code).toBe('workflow-closed');
  });
});
