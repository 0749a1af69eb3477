/**
 * Distribute device (DESIGN §3.3, issue 11 item 5) through the HTTP API on real parts (worker, Temporal dev
 * server, PostgreSQL, MDM emulator, SMTP sink): a device already in stock goes to a user's application.
 * - Concurrent distributions never take the same asset: two at once, and ten at once for five devices.
 * - End to end: the product picks the in-stock device that fits the application's department and location,
 *   the delivery task is in the inbox and on the distribution list, the delivery with a signature completes
 *   it; the asset is in use with the user, the application delivered, the audit trail complete.
 * - Cancel releases the reservation and the application; a start refused as busy puts both back at once.
 * The tests share one database: each leaves no device free in stock that a later pick could take.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../api/csv';
import * as applicationsRepo from '../db/applicationsRepo';
import * as assetsRepo from '../db/assetsRepo';
import * as reservations from '../db/reservationsRepo';
import { LifecycleProcessKey, LifecycleStatusKey } from '../temporal/searchAttributes';
import type { distributeDevice } from '../workflows/distributeDevice';
import { DEFAULT_TIMINGS, DISTRIBUTION_WORKFLOW, workflowIdFor } from '../workflows/definitions';
import { startApi, TOKEN_ACTORS, TOKENS } from './support/apiHarness';
import { assetSeries } from './support/fixtures';
import { recordHistoryIfAsked } from './support/histories';
import { PATIENCE_MS, TEST_TIMEOUT_MS } from './support/patience';
import { SIGNATURE_PNG } from './support/pngFixture';
import { startChangeUserThroughApi, useHarnessWithApi } from './support/suite';

const { h, api } = useHarnessWithApi({ ADMIN_EMAILS: 'it-admins@example.com' });
const no = assetSeries();
/** Departments unique to this file's run, so the pick's preference is this test's own. */
const dept = (name: string) => `${name} ${no.base}`;

const ADMIN = TOKEN_ACTORS.admin;
const FIELD = TOKEN_ACTORS.field;

/** A device in stock, enrolled in the MDM, in the asset team's store unless told otherwise. */
async function stockDevice(assetNumber: string, where: { department?: string; location?: string } = {}) {
  await h.seedDevice({
    assetNumber,
    status: 'in_stock',
    department: where.department ?? 'IT Operations',
    location: where.location ?? 'Tokyo HQ IT store',
    userName: 'IT Operations',
    userEmail: 'it-admins@example.com',
    userPhone: null,
  });
}

let applicantNo = 0;

/** Records a user's application through the API (nothing waits for one, so it stays pending). */
async function application(department: string, deliveryLocation = 'Osaka') {
  applicantNo += 1;
  const res = await api.call('POST', '/api/v1/applications', {
    token: TOKENS.admin,
    body: {
      department,
      deliveryLocation,
      userName: `Applicant ${applicantNo}`,
      userEmail: `applicant.${no.base}.${applicantNo}@example.com`,
      userPhone: '06-1234-5678',
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.application.state).toBe('pending');
  return res.body.application as { id: string; userName: string; userEmail: string };
}

const distribute = (body: Record<string, unknown>, assetNumber?: string) =>
  api.call('POST', assetNumber ? `/api/v1/devices/${assetNumber}/distribution` : '/api/v1/distributions', {
    token: TOKENS.admin,
    body: { reason: 'New joiner', ...body },
  });

const newUser = (n: number) => ({
  department: dept('Sales'),
  location: 'Nagoya',
  name: `New Joiner ${n}`,
  email: `joiner.${no.base}.${n}@example.com`,
});

async function workflowView(id: string) {
  const res = await api.call('GET', `/api/v1/workflows/${id}`, { token: TOKENS.viewer });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

const stepOf = async (id: string) => (await workflowView(id)).step as string;

async function distributionList(): Promise<string[][]> {
  const res = await api.call('GET', '/api/v1/reports/distribution-list.csv', { token: TOKENS.viewer });
  expect(res.status).toBe(200);
  return parseCsv(String(res.body))
    .map((r) => r.fields)
    .slice(1);
}

async function cancelAll(workflowIds: string[]) {
  for (const id of workflowIds) {
    const res = await api.call('POST', `/api/v1/workflows/${id}/cancel`, {
      token: TOKENS.admin,
      body: { reason: 'test over' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    // The step says cancelled at once; what the stop undoes and its audit event follow before the run closes.
    await api.temporal.workflow.getHandle(id).result();
  }
}

describe('concurrent distributions', () => {
  it(
    'two at once take two different assets and each its own application; a third finds no stock',
    async () => {
      await stockDevice(no(1));
      await stockDevice(no(2));
      const [a1, a2] = [await application(dept('Legal')), await application(dept('Legal'))];
      const [r1, r2] = await Promise.all([distribute({ applicationId: a1.id }), distribute({ applicationId: a2.id })]);
      expect(r1.status, JSON.stringify(r1.body)).toBe(201);
      expect(r2.status, JSON.stringify(r2.body)).toBe(201);
      expect(new Set([r1.body.assetNumber, r2.body.assetNumber])).toEqual(new Set([no(1), no(2)]));
      for (const [r, app] of [
        [r1, a1],
        [r2, a2],
      ] as const) {
        expect(r.body.workflowId).toBe(workflowIdFor(r.body.assetNumber));
        expect(await applicationsRepo.get(h.db.pool, app.id)).toMatchObject({
          state: 'assigned',
          assignedAssetNumber: r.body.assetNumber,
          workflowId: r.body.workflowId,
        });
        expect(await reservations.getForAsset(h.db.pool, r.body.assetNumber)).toMatchObject({ applicationId: app.id });
      }

      const third = await distribute({ applicationId: (await application(dept('Legal'))).id });
      expect(third.status, JSON.stringify(third.body)).toBe(409);
      expect(third.body.error.code).toBe('no-stock');

      // Both processes confirm their reservation and wait for the delivery.
      for (const r of [r1, r2])
        await expect.poll(() => stepOf(r.body.workflowId), { timeout: PATIENCE_MS }).toBe('awaiting-delivery');
      await cancelAll([r1.body.workflowId, r2.body.workflowId]);
      for (const r of [r1, r2]) {
        await expect
          .poll(async () => (await workflowView(r.body.workflowId)).status, { timeout: PATIENCE_MS })
          .toBe('cancelled');
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'ten at once for five devices in stock: five start, each on its own device, five are told there is no stock',
    async () => {
      const stock = [11, 12, 13, 14, 15].map(no);
      for (const n of stock) await stockDevice(n);
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => distribute({ newUser: newUser(i) })));
      const started = answers.filter((r) => r.status === 201);
      const refused = answers.filter((r) => r.status !== 201);
      expect(started.map((r) => r.body.assetNumber).sort()).toEqual(stock);
      expect(refused.map((r) => [r.status, r.body.error?.code])).toEqual(Array(5).fill([409, 'no-stock']));
      const { rows } = await h.db.pool.query<{ asset_number: string }>(
        'SELECT asset_number FROM asset_reservations WHERE asset_number = ANY ($1) ORDER BY asset_number',
        [stock],
      );
      expect(rows.map((r) => r.asset_number)).toEqual(stock);

      const ids = started.map((r) => r.body.workflowId as string);
      for (const id of ids) await expect.poll(() => stepOf(id), { timeout: PATIENCE_MS }).toBe('awaiting-delivery');
      await cancelAll(ids);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('distribution from stock, through the API', () => {
  it(
    'picks the device that fits the application, assigns it, and completes on the delivery with a signature',
    async () => {
      const department = dept('Engineering');
      await stockDevice(no(21)); // the store's own: another department and location
      await stockDevice(no(22), { department, location: 'Osaka' });
      const app = await application(department, 'Osaka');

      const start = await distribute({ applicationId: app.id, reason: 'New joiner in Engineering' });
      expect(start.status, JSON.stringify(start.body)).toBe(201);
      expect(start.body.assetNumber).toBe(no(22));
      const id: string = start.body.workflowId;
      expect(id).toBe(workflowIdFor(no(22)));
      await expect.poll(() => stepOf(id), { timeout: PATIENCE_MS }).toBe('awaiting-delivery');

      // The task in the inbox (filtered by process), on the distribution list, and the process in GET /workflows.
      // The step shows before the task's row is in the index (written by the activity that opens it): wait for it.
      const inboxRow = async () => {
        const tasks = await api.call('GET', '/api/v1/tasks?process=distribution&type=deliver-device&limit=200', {
          token: TOKENS.field,
        });
        expect(tasks.status, JSON.stringify(tasks.body)).toBe(200);
        return tasks.body.items.find((t: { workflowId: string }) => t.workflowId === id);
      };
      await expect.poll(inboxRow, { timeout: PATIENCE_MS }).toBeDefined();
      expect(await inboxRow()).toMatchObject({
        process: 'distribution',
        type: 'deliver-device',
        assetNumber: no(22),
        expects: ['device-delivered'],
        department,
        location: 'Osaka',
        contact: { name: app.userName, email: app.userEmail },
      });
      expect((await distributionList()).filter((r) => r[0] === no(22))).toEqual([
        [no(22), department, 'Osaka', app.userName, app.userEmail, '06-1234-5678'],
      ]);
      await expect
        .poll(
          async () => {
            const list = await api.call('GET', `/api/v1/workflows?type=distribution&asset=${no(22)}`, {
              token: TOKENS.viewer,
            });
            return list.body.items?.map((w: { workflowId: string; type?: string }) => [w.workflowId, w.type]);
          },
          { timeout: PATIENCE_MS },
        )
        .toEqual([[id, 'distribution']]);

      const delivered = await api.call('POST', `/api/v1/workflows/${id}/events/device-delivered`, {
        token: TOKENS.field,
        body: { data: { receivedBy: app.userName, signature: SIGNATURE_PNG } },
      });
      expect(delivered.status, JSON.stringify(delivered.body)).toBe(200);
      await expect.poll(async () => (await workflowView(id)).status, { timeout: PATIENCE_MS }).toBe('completed');

      expect(await assetsRepo.get(h.db.pool, no(22))).toMatchObject({
        status: 'in_use',
        department,
        location: 'Osaka',
        userName: app.userName,
        userEmail: app.userEmail,
        plannedStatus: null,
      });
      expect(await applicationsRepo.get(h.db.pool, app.id)).toMatchObject({
        state: 'delivered',
        assignedAssetNumber: no(22),
        workflowId: id,
      });
      expect(await reservations.getForAsset(h.db.pool, no(22))).toBeNull();
      expect((await distributionList()).filter((r) => r[0] === no(22))).toEqual([]);
      const asset = await api.call('GET', `/api/v1/assets/${no(22)}`, { token: TOKENS.admin });
      const trail = (asset.body.events as { type: string; actor: string; step: string }[]).map((e) => [
        e.type,
        e.actor,
        e.step,
      ]);
      expect(trail.slice(trail.findIndex(([type]) => type === 'asset-reserved'))).toEqual([
        ['asset-reserved', ADMIN, 'reserving'],
        ['application-claimed', ADMIN, 'reserving'],
        ['user-assigned', ADMIN, 'assigning'],
        ['notice-sent', ADMIN, 'assigning'],
        ['device-delivered', FIELD, 'awaiting-delivery'],
        ['delivery-receipt', FIELD, 'awaiting-delivery'],
        ['reservation-fulfilled', ADMIN, 'awaiting-delivery'],
      ]);
      await h.mail.waitFor((m) => m.to.includes(app.userEmail));
      await recordHistoryIfAsked('distribute-completed', api.temporal.workflow.getHandle(id), DISTRIBUTION_WORKFLOW);

      // The store's own device, a worse fit, is still free: the next pick takes it (then it is cancelled).
      const next = await distribute({ newUser: newUser(99) });
      expect(next.status, JSON.stringify(next.body)).toBe(201);
      expect(next.body.assetNumber).toBe(no(21));
      await expect.poll(() => stepOf(next.body.workflowId), { timeout: PATIENCE_MS }).toBe('awaiting-delivery');
      await cancelAll([next.body.workflowId]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'cancel releases the reservation and the application, each audited; the assigned user is kept and said',
    async () => {
      await stockDevice(no(31));
      const app = await application(dept('Finance'));
      const start = await distribute({ applicationId: app.id }, no(31));
      expect(start.status, JSON.stringify(start.body)).toBe(201);
      expect(start.body.assetNumber).toBe(no(31));
      const id: string = start.body.workflowId;
      await expect.poll(() => stepOf(id), { timeout: PATIENCE_MS }).toBe('awaiting-delivery');

      // Neither the device (assigned: in use now) nor the application can go to another distribution meanwhile.
      const again = await distribute({ newUser: newUser(31) }, no(31));
      expect([again.status, again.body.error?.code]).toEqual([409, 'asset-not-in-stock']);
      const sameApp = await distribute({ applicationId: app.id });
      expect([sameApp.status, sameApp.body.error?.code]).toEqual([409, 'application-unavailable']);

      const cancelled = await api.call('POST', `/api/v1/workflows/${id}/cancel`, {
        token: TOKENS.admin,
        body: { reason: 'the joiner withdrew' },
      });
      expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
      await expect.poll(async () => (await workflowView(id)).status, { timeout: PATIENCE_MS }).toBe('cancelled');
      await api.temporal.workflow.getHandle(id).result();

      expect(await reservations.getForAsset(h.db.pool, no(31))).toBeNull();
      expect(await applicationsRepo.get(h.db.pool, app.id)).toMatchObject({
        state: 'pending',
        assignedAssetNumber: null,
        workflowId: null,
      });
      const asset = await api.call('GET', `/api/v1/assets/${no(31)}`, { token: TOKENS.admin });
      const events = asset.body.events as { type: string; actor: string; details: Record<string, unknown> }[];
      const tail = events.slice(-3);
      expect(tail.map((e) => [e.type, e.actor])).toEqual([
        ['reservation-released', ADMIN],
        ['application-released', ADMIN],
        ['cancelled', ADMIN],
      ]);
      expect(tail[2]!.details).toMatchObject({
        reason: 'the joiner withdrew',
        undone: ['reservation-released', 'application-released'],
        kept: ['the user was already assigned: the device stays with them (in use)'],
        doneToDevice: ['assigning'],
      });
      // No deliver-device task is left in the inbox.
      const tasks = await api.call('GET', '/api/v1/tasks?process=distribution&limit=200', { token: TOKENS.field });
      expect(tasks.body.items.map((t: { workflowId: string }) => t.workflowId)).not.toContain(id);
      await recordHistoryIfAsked('distribute-cancelled', api.temporal.workflow.getHandle(id), DISTRIBUTION_WORKFLOW);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a device busy with another process: 409 device-busy, and the reservation and the application are put back',
    async () => {
      await stockDevice(no(41));
      const changeUser = await startChangeUserThroughApi(h, api, no(41));
      const app = await application(dept('Support'));
      const res = await distribute({ applicationId: app.id }, no(41));
      expect(res.status, JSON.stringify(res.body)).toBe(409);
      expect(res.body.error.code).toBe('device-busy');
      expect(await reservations.getForAsset(h.db.pool, no(41))).toBeNull();
      expect(await applicationsRepo.get(h.db.pool, app.id)).toMatchObject({ state: 'pending', workflowId: null });
      await cancelAll([changeUser.workflowId]);
      await expect
        .poll(async () => (await workflowView(changeUser.workflowId)).status, { timeout: PATIENCE_MS })
        .toBe('cancelled');

      // A device that is not in stock is refused before anything is reserved.
      await h.seedDevice({ assetNumber: no(42) });
      const inUse = await distribute({ applicationId: app.id }, no(42));
      expect([inUse.status, inUse.body.error?.code, inUse.body.error?.details?.status]).toEqual([
        409,
        'asset-not-in-stock',
        'in_use',
      ]);
      expect(await applicationsRepo.get(h.db.pool, app.id)).toMatchObject({ state: 'pending' });

      // Bad requests are refused before anything is reserved: an unknown application, both or neither user.
      const unknown = await distribute({ applicationId: randomUUID() });
      expect([unknown.status, unknown.body.error?.code]).toEqual([404, 'not-found']);
      const both = await distribute({ applicationId: app.id, newUser: newUser(40) });
      expect([both.status, both.body.error?.details?.problems?.[0]?.field]).toEqual([400, 'newUser']);
      const neither = await distribute({});
      expect([neither.status, neither.body.error?.details?.problems?.[0]?.field]).toEqual([400, 'applicationId']);

      // A device reserved for another distribution is refused by name, and a pick passes it over.
      await stockDevice(no(43));
      const held = await reservations.reserve(h.db.pool, {
        reservationId: randomUUID(),
        reservedBy: 'someone@local',
        assetNumber: no(43),
        workflowIdOf: workflowIdFor,
      });
      expect(held.result).toBe('reserved');
      const reserved = await distribute({ applicationId: app.id }, no(43));
      expect([reserved.status, reserved.body.error?.code, reserved.body.error?.details?.workflowId]).toEqual([
        409,
        'asset-reserved',
        workflowIdFor(no(43)),
      ]);
      const picked = await distribute({ applicationId: app.id });
      expect([picked.status, picked.body.assetNumber]).toEqual([201, no(41)]);
      await expect.poll(() => stepOf(picked.body.workflowId), { timeout: PATIENCE_MS }).toBe('awaiting-delivery');
      await cancelAll([picked.body.workflowId]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a start Temporal does not take (unreachable): 503, and the reservation and the application are put back',
    async () => {
      await stockDevice(no(51));
      const app = await application(dept('Facilities'));
      const noTemporal = await startApi({ db: h.db.pool }); // the same database, a Temporal that is not there
      try {
        const res = await noTemporal.call('POST', `/api/v1/devices/${no(51)}/distribution`, {
          token: TOKENS.admin,
          body: { applicationId: app.id },
        });
        expect(res.status, JSON.stringify(res.body)).toBe(503);
      } finally {
        await noTemporal.close();
      }
      expect(await reservations.getForAsset(h.db.pool, no(51))).toBeNull();
      expect(await applicationsRepo.get(h.db.pool, app.id)).toMatchObject({ state: 'pending', workflowId: null });
      // Nothing holds either any more: the real API distributes them (then the process is cancelled).
      const again = await distribute({ applicationId: app.id }, no(51));
      expect(again.status, JSON.stringify(again.body)).toBe(201);
      await expect.poll(() => stepOf(again.body.workflowId), { timeout: PATIENCE_MS }).toBe('awaiting-delivery');
      await cancelAll([again.body.workflowId]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a reservation the process cannot hold parks it in needs-attention; abort ends it and leaves the other holder alone',
    async () => {
      // A process whose reservation is gone (its start looked failed and was put back) while another
      // distribution took the asset: it must not take it from that one, nor release it when it stops.
      await stockDevice(no(61));
      const other = await reservations.reserve(h.db.pool, {
        reservationId: randomUUID(),
        reservedBy: 'someone@local',
        assetNumber: no(61),
        workflowIdOf: workflowIdFor,
      });
      expect(other.result).toBe('reserved');
      const handle = await api.temporal.workflow.start<typeof distributeDevice>(DISTRIBUTION_WORKFLOW, {
        taskQueue: h.taskQueue,
        workflowId: workflowIdFor(no(61)),
        args: [
          {
            assetNumber: no(61),
            reservationId: randomUUID(),
            newUser: newUser(61),
            reason: 'start whose answer was lost',
            requestedBy: { id: ADMIN, role: 'admin' },
            timings: DEFAULT_TIMINGS,
          },
        ],
      });
      await expect.poll(() => stepOf(handle.workflowId), { timeout: PATIENCE_MS }).toBe('needs-attention');
      const view = await workflowView(handle.workflowId);
      expect(view).toMatchObject({ type: 'distribution', status: 'needs-attention' });
      const decision = async () => {
        const tasks = await api.call('GET', '/api/v1/tasks?process=distribution&type=admin-decision&limit=200', {
          token: TOKENS.admin,
        });
        return tasks.body.items.find((t: { workflowId: string }) => t.workflowId === handle.workflowId);
      };
      await expect.poll(decision, { timeout: PATIENCE_MS }).toBeDefined();
      expect(await decision()).toMatchObject({
        failedStep: 'reserving',
        lastError: expect.stringMatching(/ReservationLost|cannot be taken again/),
      });

      const aborted = await api.call('POST', `/api/v1/workflows/${handle.workflowId}/abort`, {
        token: TOKENS.admin,
        body: { reason: 'the device went to the other distribution' },
      });
      expect(aborted.status, JSON.stringify(aborted.body)).toBe(200);
      await handle.result();
      const sa = (await handle.describe()).typedSearchAttributes;
      expect([sa.get(LifecycleProcessKey), sa.get(LifecycleStatusKey)]).toEqual(['distribution', 'aborted']);
      // The other distribution's reservation is untouched; the asset was never assigned.
      expect(await reservations.getForAsset(h.db.pool, no(61))).toMatchObject({
        reservationId: (other as { reservation: { reservationId: string } }).reservation.reservationId,
      });
      expect(await assetsRepo.get(h.db.pool, no(61))).toMatchObject({ status: 'in_stock', userName: 'IT Operations' });
      const events = (await api.call('GET', `/api/v1/assets/${no(61)}`, { token: TOKENS.admin })).body.events as {
        type: string;
        details: Record<string, unknown>;
      }[];
      expect(events.at(-1)).toMatchObject({
        type: 'aborted',
        details: { undone: [], kept: [], failedStep: 'reserving' },
      });
      await reservations.releaseUnstarted(
        h.db.pool,
        (other as { reservation: { reservationId: string } }).reservation.reservationId,
        workflowIdFor(no(61)),
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a reservation left by a start that never happened (the API stopped between them) is put back by the next request',
    async () => {
      const department = dept('Reclaim');
      await stockDevice(no(71), { department, location: 'Nagoya' });
      const app = await application(department, 'Nagoya');
      const orphan = await reservations.reserve(h.db.pool, {
        reservationId: randomUUID(),
        reservedBy: ADMIN,
        assetNumber: no(71),
        applicationId: app.id,
        workflowIdOf: workflowIdFor,
      });
      expect(orphan.result).toBe('reserved');
      const withinGrace = await distribute({ newUser: { ...newUser(71), department, location: 'Nagoya' } });
      expect(withinGrace.body.assetNumber ?? withinGrace.body.error?.code).not.toBe(no(71));
      if (withinGrace.status === 201) await cancelAll([withinGrace.body.workflowId]);

      // Older than the grace period, unconfirmed, and no process runs for the device: an orphan.
      await h.db.pool.query(
        `UPDATE asset_reservations SET reserved_at = now() - interval '11 minutes' WHERE asset_number = $1`,
        [no(71)],
      );
      const res = await distribute({ newUser: { ...newUser(72), department, location: 'Nagoya' } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.assetNumber).toBe(no(71));
      expect(await applicationsRepo.get(h.db.pool, app.id)).toMatchObject({ state: 'pending', workflowId: null });
      await expect.poll(() => stepOf(res.body.workflowId), { timeout: PATIENCE_MS }).toBe('awaiting-delivery');
      await cancelAll([res.body.workflowId]);
    },
    TEST_TIMEOUT_MS,
  );
});
