/**
 * One meaning per idempotency key (api/idempotentRequests.ts), end to end with a real worker, PostgreSQL
 * and Temporal: a repeat of a request is answered as a duplicate every time after the first, concurrent
 * repeats included, and applied once; the key with another event, workflow, asset or body is refused with
 * 409 `idempotency-key-reused` naming what differs, and nothing of that other request is applied.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { workflowIdFor } from '../workflows/definitions';
import { TOKENS } from './support/apiHarness';
import { dateInDays, newAssetNumber } from './support/fixtures';
import { useHarnessWithApi } from './support/suite';

const { h, api } = useHarnessWithApi();

const started: string[] = [];
afterAll(async () => {
  await Promise.allSettled(started.map((id) => api.temporal.workflow.getHandle(id).terminate('test cleanup')));
});

const startBody = (extra: Record<string, unknown> = {}) => ({
  reason: 'Leaver',
  plannedCollectionDate: dateInDays(7),
  storageLocation: 'Shelf 1',
  ...extra,
});

const startChangeUser = (assetNumber: string, body: unknown, key: string) =>
  api.call('POST', `/api/v1/devices/${assetNumber}/change-user`, {
    token: TOKENS.admin,
    body,
    headers: { 'Idempotency-Key': key },
  });

const report = (workflowId: string, event: string, data: unknown, key: string) =>
  api.call('POST', `/api/v1/workflows/${workflowId}/events/${event}`, {
    token: TOKENS.field,
    body: { data },
    headers: { 'Idempotency-Key': key },
  });

describe('a report with one key', () => {
  const assetNumber = newAssetNumber();
  const workflowId = workflowIdFor(assetNumber);
  const key = `collect-${assetNumber}-once`;

  it('answers 20 concurrent identical reports once duplicate:false and 19 times duplicate:true, applied once', async () => {
    await h.seedDevice({ assetNumber });
    const start = await startChangeUser(assetNumber, startBody(), `start-${assetNumber}`);
    expect(start.status, JSON.stringify(start.body)).toBe(201);
    started.push(workflowId);
    const handle = api.temporal.workflow.getHandle(workflowId);
    await h.waitForStep(handle, 'awaiting-collection');

    const answers = await Promise.all(
      Array.from({ length: 20 }, () => report(workflowId, 'device-collected', { collectedBy: 'Aki' }, key)),
    );
    for (const a of answers) expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(answers.filter((a) => a.body.duplicate === false)).toHaveLength(1);
    expect(answers.filter((a) => a.body.duplicate === true)).toHaveLength(19);
    for (const a of answers) {
      expect(a.body).toMatchObject({ accepted: true, event: 'device-collected', workflowId, idempotencyKey: key });
    }

    const again = await report(workflowId, 'device-collected', { collectedBy: 'Aki' }, key);
    expect(again.status).toBe(200);
    expect(again.body.duplicate).toBe(true);

    const state = await h.waitForState(handle, (s) => s.step !== 'awaiting-collection');
    expect(state.reports.filter((r) => r.event === 'device-collected')).toHaveLength(1);
    await expect
      .poll(async () => (await h.eventTypes(assetNumber)).filter((t) => t.includes('collected')).length, {
        timeout: 60_000,
      })
      .toBe(1);
  });

  it('refuses the key with another body (409 naming body) and another event (409 naming event); nothing applied', async () => {
    const otherBody = await report(workflowId, 'device-collected', { collectedBy: 'Someone Else' }, key);
    expect(otherBody.status, JSON.stringify(otherBody.body)).toBe(409);
    expect(otherBody.body.error).toMatchObject({
      code: 'idempotency-key-reused',
      details: {
        idempotencyKey: key,
        differs: ['body'],
        firstRequest: { workflow: workflowId, event: 'device-collected' },
      },
    });

    const otherEvent = await report(workflowId, 'device-delivered', { receivedBy: 'Yuki', signature: 'Yuki' }, key);
    expect(otherEvent.status, JSON.stringify(otherEvent.body)).toBe(409);
    expect(otherEvent.body.error.code).toBe('idempotency-key-reused');
    expect(otherEvent.body.error.details.differs).toEqual(expect.arrayContaining(['event']));
    expect(otherEvent.body.error.details.differs).not.toContain('workflow');

    const state = await api.temporal.workflow.getHandle(workflowId).query('state');
    const reports = (state as { reports: { event: string; collectedBy?: string }[] }).reports;
    expect(reports.map((r) => r.event)).toEqual(['device-collected']);
    expect((await h.eventTypes(assetNumber)).filter((t) => t.includes('delivered'))).toEqual([]);
  });
});

describe('a start with one key', () => {
  const assetNumber = newAssetNumber();
  const other = newAssetNumber();
  const key = `start-${assetNumber}-once`;

  it('answers a repeat with the first start, and refuses the key for another asset or body; nothing started', async () => {
    await h.seedDevice({ assetNumber });
    await h.seedDevice({ assetNumber: other });
    const first = await startChangeUser(assetNumber, startBody(), key);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    started.push(first.body.workflowId);
    expect(first.body.workflowId).toBe(workflowIdFor(assetNumber));

    const repeats = await Promise.all(Array.from({ length: 5 }, () => startChangeUser(assetNumber, startBody(), key)));
    for (const r of repeats) {
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body).toEqual(first.body);
      expect(r.headers.get('location')).toBe(`/api/v1/workflows/${first.body.workflowId}`);
    }

    const otherBody = await startChangeUser(assetNumber, startBody({ reason: 'Another reason' }), key);
    expect(otherBody.status, JSON.stringify(otherBody.body)).toBe(409);
    expect(otherBody.body.error).toMatchObject({ code: 'idempotency-key-reused', details: { differs: ['body'] } });

    const otherAsset = await startChangeUser(other, startBody(), key);
    expect(otherAsset.status, JSON.stringify(otherAsset.body)).toBe(409);
    expect(otherAsset.body.error).toMatchObject({
      code: 'idempotency-key-reused',
      details: { idempotencyKey: key, differs: ['asset'], firstRequest: { asset: assetNumber } },
    });
    // Nothing was started for the other asset: a start with a new key is the first one.
    const fresh = await startChangeUser(other, startBody(), `start-${other}-fresh`);
    expect(fresh.status, JSON.stringify(fresh.body)).toBe(201);
    started.push(fresh.body.workflowId);
  });
});

describe('an application with one key', () => {
  it('replays a repeat and refuses the key with another body; nothing recorded', async () => {
    const key = `apply-${newAssetNumber()}`;
    const body = {
      department: 'Idempotency',
      deliveryLocation: 'Osaka 5F',
      userName: 'Kei Once',
      userEmail: 'kei.once@example.com',
    };
    const apply = (b: unknown) =>
      api.call('POST', '/api/v1/applications', { token: TOKENS.admin, body: b, headers: { 'Idempotency-Key': key } });
    const first = await apply(body);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const again = await apply(body);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body).toMatchObject({ replayed: true, application: { id: first.body.application.id } });

    const other = await apply({ ...body, userName: 'Somebody Else' });
    expect(other.status, JSON.stringify(other.body)).toBe(409);
    expect(other.body.error).toMatchObject({ code: 'idempotency-key-reused', details: { differs: ['body'] } });
    const listed = await api.call('GET', '/api/v1/applications?department=Idempotency', { token: TOKENS.field });
    expect(listed.body.items.map((a: { userName: string }) => a.userName)).toEqual(['Kei Once']);
  });
});
