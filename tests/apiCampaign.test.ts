/**
 * Collection campaigns on the Temporal dev server (the production server's code, unlike the time-skipping
 * test server of tests/campaign.timeSkipping.test.ts), through the HTTP API with a real worker, PostgreSQL
 * and the MDM emulator:
 * - an existing client's POST /collections with one plannedCollectionDate still gives every device that
 *   date, over the devices' own dates;
 * - the campaign's cancel names the run chain it started: after a device's campaign process was
 *   cancelled and a new process started for it, cancelling the campaign again leaves the new one running;
 * - a bulk request of inactivations is not a campaign (404).
 */
import { describe, expect, it } from 'vitest';
import * as assetsRepo from '../db/assetsRepo';
import * as eventsRepo from '../db/assetEventsRepo';
import { CampaignIdKey } from '../temporal/searchAttributes';
import { workflowIdFor } from '../workflows/definitions';
import { TOKENS } from './support/apiHarness';
import { dateInDays, newAssetNumber, PATIENCE_MS } from './support/fixtures';
import { useHarnessWithApi } from './support/suite';

const { h, api } = useHarnessWithApi();

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + PATIENCE_MS;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: last seen ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const step = (assetNumber: string) =>
  api
    .call('GET', `/api/v1/workflows/${workflowIdFor(assetNumber)}`, { token: TOKENS.viewer })
    .then((r) => r.body.step as string | undefined);

const countEvents = async (assetNumber: string, type: string) =>
  (await eventsRepo.listForAsset(h.db.pool, assetNumber)).filter((e) => e.eventType === type).length;

describe('collection campaigns on the dev server', () => {
  it('gives every device the one date an existing client sends, and cancels only its own processes', async () => {
    const [a, b] = [newAssetNumber(), newAssetNumber()];
    await h.seedDevice({ assetNumber: a, plannedStatus: 'in_stock', plannedDate: dateInDays(20) });
    await h.seedDevice({ assetNumber: b, plannedDate: dateInDays(25) });
    const campaignDate = dateInDays(10);
    const res = await api.call('POST', '/api/v1/collections', {
      token: TOKENS.admin,
      body: {
        reason: 'Office move',
        plannedCollectionDate: campaignDate,
        storageLocation: 'Shelf 2',
        assetNumbers: [a, b],
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.counts).toEqual({ started: 2 });
    const id = res.body.bulkId as string;
    for (const n of [a, b])
      await until(
        `${n} waits for collection`,
        () => step(n),
        (s) => s === 'awaiting-collection',
      );
    const assets = await assetsRepo.getMany(h.db.pool, [a, b]);
    expect([assets.get(a)!.plannedDate, assets.get(b)!.plannedDate]).toEqual([campaignDate, campaignDate]);
    // The Temporal UI can filter a campaign: each process carries its campaign id from its start.
    for (const n of [a, b]) {
      const described = await api.temporal.workflow.getHandle(workflowIdFor(n)).describe();
      expect(described.typedSearchAttributes.get(CampaignIdKey)).toBe(id);
    }
    const view = (await api.call('GET', `/api/v1/campaigns/${id}`, { token: TOKENS.viewer })).body;
    expect(view.plannedCollectionDate).toBe(campaignDate);
    expect(view.devices.map((d: { plannedDate: string }) => d.plannedDate)).toEqual([campaignDate, campaignDate]);

    const first = await api.call('POST', `/api/v1/campaigns/${id}/cancel`, { token: TOKENS.admin, body: {} });
    expect(first.body.counts).toEqual({ cancelled: 2 });
    for (const n of [a, b]) {
      const closed = () => api.temporal.workflow.getHandle(workflowIdFor(n)).describe();
      await until(
        `${n} closed`,
        async () => (await closed()).status.name,
        (s) => s !== 'RUNNING',
      );
      expect(await step(n)).toBe('cancelled');
    }
    // The campaign gave its own date: the cancel puts back each device's plan from before.
    const restored = await assetsRepo.getMany(h.db.pool, [a, b]);
    expect([restored.get(a), restored.get(b)].map((x) => [x!.plannedStatus, x!.plannedDate])).toEqual([
      ['in_stock', dateInDays(20)],
      [null, dateInDays(25)],
    ]);

    const later = await api.call('POST', `/api/v1/devices/${a}/change-user`, {
      token: TOKENS.admin,
      body: { reason: 'Leaver', plannedCollectionDate: dateInDays(12), storageLocation: 'Shelf 3' },
    });
    expect(later.status, JSON.stringify(later.body)).toBe(201);
    await until(
      `${a} waits again`,
      () => step(a),
      (s) => s === 'awaiting-collection',
    );

    const again = await api.call('POST', `/api/v1/campaigns/${id}/cancel`, { token: TOKENS.admin, body: {} });
    expect(again.status).toBe(200);
    expect(again.body.results).toEqual([
      {
        assetNumber: a,
        workflowId: workflowIdFor(a),
        outcome: 'already-closed',
        detail: 'the campaign process has ended; a later process owns the device',
      },
      { assetNumber: b, workflowId: workflowIdFor(b), outcome: 'already-closed', detail: 'cancelled' },
    ]);
    const handle = api.temporal.workflow.getHandle(workflowIdFor(a));
    const now = await handle.describe();
    expect([now.runId, now.status.name]).toEqual([later.body.runId, 'RUNNING']);
    expect(await countEvents(a, 'cancelled')).toBe(1);
    await handle.terminate('test over');
  });

  it('is a collections request: an inactivation request has no campaign', async () => {
    const res = await api.call('POST', '/api/v1/inactivations', {
      token: TOKENS.admin,
      body: { reason: 'Old', assetNumbers: ['A-000000'] },
    });
    expect(res.status).toBe(200);
    const view = await api.call('GET', `/api/v1/campaigns/${res.body.bulkId}`, { token: TOKENS.viewer });
    expect(view.status).toBe(404);
    expect(view.body.error.code).toBe('not-found');
  });
});
