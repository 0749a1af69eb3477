/**
 * Both processes end to end through the HTTP API only (admin and field-staff tokens), against the real
 * worker, Temporal dev server, PostgreSQL, MDM emulator and SMTP sink. The emulator's device-side actions
 * play the device and its user; its own API is read to check what the MDM saw at each step.
 */
import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TOKEN_ACTORS, TOKENS } from './support/apiHarness';
import { dateInDays, newAssetNumber, SAFE_INACTIVATION_TRAIL } from './support/fixtures';
import { useHarnessWithApi } from './support/suite';
import { SIGNATURE_PNG } from './support/pngFixture';

const { h, api } = useHarnessWithApi({ ADMIN_EMAILS: 'it-admins@example.com' });

const ADMIN = TOKEN_ACTORS.admin;
const FIELD = TOKEN_ACTORS.field;

/** Creates the asset through the API; the device is enrolled in the MDM (as it would be in real life). */
async function createDevice(assetNumber: string, user = { name: 'Xavier Old', email: 'x.old@example.com' }) {
  const serialNumber = `SN${randomInt(1e9, 9e9)}`;
  const device = await h.mdm.registerDevice({
    serialNumber,
    model: 'iPhone 15',
    assetNumber,
    idempotencyKey: `enrol-${serialNumber}`,
  });
  const res = await api.call('POST', '/api/v1/assets', {
    token: TOKENS.admin,
    body: {
      assetNumber,
      serialNumber,
      model: 'iPhone 15',
      mdmDeviceId: device.id,
      status: 'in_use',
      department: 'Sales',
      location: 'Tokyo HQ',
      userName: user.name,
      userEmail: user.email,
      userPhone: '+81 3 1111 2222',
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return device.id;
}

async function workflow(id: string) {
  const res = await api.call('GET', `/api/v1/workflows/${id}`, { token: TOKENS.viewer });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

async function waitForStep(id: string, step: string) {
  await expect.poll(async () => (await workflow(id)).step ?? (await workflow(id)).currentStep).toBe(step);
}

async function report(id: string, event: string, data: Record<string, unknown> = {}) {
  const res = await api.call('POST', `/api/v1/workflows/${id}/events/${event}`, {
    token: TOKENS.field,
    body: { data },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

async function history(assetNumber: string) {
  const res = await api.call('GET', `/api/v1/assets/${assetNumber}`, { token: TOKENS.viewer });
  expect(res.status).toBe(200);
  return res.body as { asset: Record<string, unknown>; events: { type: string; actor: string; step: string }[] };
}

describe('change device user, through the API only', () => {
  it('takes a device from user X to user Y; the MDM saw the wipe, the deletion and the re-enrolment', async () => {
    const assetNumber = newAssetNumber();
    const oldMdmId = await createDevice(assetNumber);
    const start = await api.call('POST', `/api/v1/devices/${assetNumber}/change-user`, {
      token: TOKENS.admin,
      body: {
        reason: 'Leaving the Sales team',
        plannedCollectionDate: dateInDays(7),
        storageLocation: 'Tokyo HQ IT store',
        newUser: {
          department: 'Engineering',
          location: 'Osaka',
          name: 'Yuki New',
          email: 'y.new@example.com',
          phone: '+81 6 3333 4444',
        },
      },
    });
    expect(start.status, JSON.stringify(start.body)).toBe(201);
    const id: string = start.body.workflowId;
    expect(id).toBe(`device-${assetNumber}`);
    await waitForStep(id, 'awaiting-collection');

    const tasks = await api.call('GET', '/api/v1/tasks?type=collect-device', { token: TOKENS.field });
    expect(tasks.body.items.map((t: { workflowId: string }) => t.workflowId)).toContain(id);
    expect(
      (await report(id, 'device-collected', { collectedBy: 'Bob Field', storageLocation: 'Shelf 3' })).step,
    ).not.toBe('awaiting-collection');

    await waitForStep(id, 'awaiting-reenrollment');
    const jobs = (await h.emulator.jobs()).filter((j) => j.deviceId === oldMdmId);
    expect(jobs.map((j) => [j.type, j.status])).toEqual([['wipe', 'succeeded']]);
    expect(jobs[0]).toMatchObject({ options: { keepEnrollmentData: true } });
    expect((await h.emulator.device(oldMdmId)).status).toBe('deleted');

    const { newDeviceId } = await h.emulator.reEnroll(oldMdmId);
    await report(id, 'device-reenrolled', {});
    await waitForStep(id, 'awaiting-delivery');
    await report(id, 'device-delivered', { receivedBy: 'Yuki New', signature: SIGNATURE_PNG });
    await expect.poll(async () => (await workflow(id)).status).toBe('completed');

    const { asset, events } = await history(assetNumber);
    expect(asset).toMatchObject({
      status: 'in_use',
      userName: 'Yuki New',
      department: 'Engineering',
      mdmDeviceId: newDeviceId,
      plannedStatus: null,
    });
    const steps = events.map((e) => [e.type, e.actor]);
    expect(steps).toEqual([
      ['asset-created', ADMIN],
      ['collection-scheduled', ADMIN],
      ['notice-sent', ADMIN],
      ['device-collected', FIELD],
      ['returned-to-stock', FIELD],
      ['wipe-requested', ADMIN],
      ['wipe-finished', ADMIN],
      ['mdm-record-deleted', ADMIN],
      ['device-reenrolled', FIELD],
      ['reenrollment-verified', FIELD],
      ['user-assigned', ADMIN],
      ['notice-sent', ADMIN],
      ['device-delivered', FIELD],
      ['delivery-receipt', FIELD],
    ]);
    await h.mail.waitFor((m) => m.to.includes('x.old@example.com') && m.text.includes('Leaving the Sales team'));
    await h.mail.waitFor((m) => m.to.includes('y.new@example.com'));
  });
});

describe('inactivate device, through the API only', () => {
  it('follows the safe order with the emulator playing the device; the unsafe order is refused with the reason', async () => {
    const assetNumber = newAssetNumber();
    const mdmId = await createDevice(assetNumber);
    const start = await api.call('POST', `/api/v1/devices/${assetNumber}/inactivation`, {
      token: TOKENS.admin,
      body: { reason: 'Contract ended' },
    });
    expect(start.status, JSON.stringify(start.body)).toBe(201);
    const id: string = start.body.workflowId;
    await waitForStep(id, 'awaiting-removal-profile');
    await h.inactivationDelivered(mdmId);
    expect((await h.emulator.jobs()).filter((j) => j.deviceId === mdmId).map((j) => [j.type, j.status])).toEqual([
      ['inactivate', 'acknowledged'],
    ]);

    const early = await api.call('POST', `/api/v1/workflows/${id}/events/app-removed`, {
      token: TOKENS.field,
      body: { data: {} },
    });
    expect(early.status).toBe(409);
    expect(JSON.stringify(early.body)).toMatch(/factory reset/);

    await h.emulator.installRemovalProfile(mdmId);
    await report(id, 'removal-profile-installed');
    await h.emulator.removeProfiles(mdmId);
    await report(id, 'profiles-removed');
    expect(await h.emulator.device(mdmId)).toMatchObject({ status: 'inactive' });
    await h.emulator.removeApp(mdmId);
    await report(id, 'app-removed');
    await expect.poll(async () => (await workflow(id)).status).toBe('completed');

    expect((await h.emulator.device(mdmId)).status).toBe('deleted');
    const { asset, events } = await history(assetNumber);
    expect(asset).toMatchObject({ status: 'retired', mdmDeviceId: null });
    // Without the device user's instruction mails (one per device-side step).
    expect(events.map((e) => e.type).filter((t) => t !== 'notice-sent')).toEqual([
      'asset-created',
      ...SAFE_INACTIVATION_TRAIL,
    ]);
    expect(events.filter((e) => e.type === 'notice-sent')).toHaveLength(3);
  });

  it('starts 20 in one bulk request and answers per asset: started, unknown, busy, invalid', async () => {
    const known: string[] = [];
    for (let i = 0; i < 17; i++) known.push(newAssetNumber());
    for (const n of known) await createDevice(n);
    const busy = known[0];
    expect(
      (
        await api.call('POST', `/api/v1/devices/${busy}/inactivation`, {
          token: TOKENS.admin,
          body: { reason: 'first' },
        })
      ).status,
    ).toBe(201);
    const unknown = ['A-000001', 'A-000002'];
    const assetNumbers = [...known, ...unknown, 'B-12'];
    const res = await api.call('POST', '/api/v1/inactivations', {
      token: TOKENS.admin,
      body: { reason: 'Office closing', assetNumbers },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const results = res.body.results as { assetNumber: string; result: string; workflowId?: string }[];
    expect(results.map((r) => r.assetNumber)).toEqual(assetNumbers);
    expect(results.filter((r) => r.result === 'started')).toHaveLength(16);
    expect(results.find((r) => r.assetNumber === busy)).toMatchObject({ result: 'busy' });
    expect(results.filter((r) => r.result === 'unknown-asset').map((r) => r.assetNumber)).toEqual(unknown);
    expect(results.at(-1)).toMatchObject({ assetNumber: 'B-12', result: 'invalid' });
    // All 17 (the 16 started here and the busy one) reach the first human step. Before its LifecycleStep
    // says so, each runs three workflow tasks and two activities (loadAsset, requestInactivation) on this
    // file's one worker: when depends on the machine. The poll's deadline (PATIENCE_MS) also covers an
    // activity task lost on its way to a starved worker, which waits out its start-to-close timeout.
    await expect
      .poll(async () => {
        const list = await api.call(
          'GET',
          '/api/v1/workflows?type=inactivation&step=awaiting-removal-profile&limit=200',
          { token: TOKENS.viewer },
        );
        const listed = new Set(list.body.items.map((w: { workflowId: string }) => w.workflowId));
        return known.filter((n) => !listed.has(`device-${n}`));
      })
      .toEqual([]);
  });
});
