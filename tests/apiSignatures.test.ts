/**
 * Signatures outside Temporal and least exposure (issue 12 items 3 and 6), on real parts (PostgreSQL,
 * Temporal dev server, worker, MDM emulator): a delivery through the API stores the signature in the
 * database and the workflow, its history and the audit trail hold only the receipt; a repeated report
 * stores nothing twice; only admins read the signature, and each read is audited; viewers see no
 * signature and no contact of past users in an asset's history; bad or oversized images are refused
 * naming data.signature; every authenticated answer is no-store.
 */
import { createHash, randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TOKEN_ACTORS, TOKENS } from './support/apiHarness';
import { dateInDays, newAssetNumber } from './support/fixtures';
import { png, pngDataUrl } from './support/pngFixture';
import { useHarnessWithApi } from './support/suite';

// A body limit above the default 256kb, so an image over the signature's own 200 kB limit reaches its check.
const { h, api } = useHarnessWithApi({ API_BODY_LIMIT: '1mb' });

const OLD_USER = { name: 'Xavier Old', email: 'x.old@example.com', phone: '+81 3 1111 2222' };
const NEW_USER = { name: 'Yuki New', email: 'y.new@example.com', phone: '+81 6 3333 4444' };

async function createDevice(assetNumber: string) {
  const serialNumber = `SN${randomInt(1e9, 9e9)}`;
  const device = await h.mdm.registerDevice({
    serialNumber,
    model: 'iPhone 15',
    assetNumber,
    idempotencyKey: `e-${serialNumber}`,
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
      userName: OLD_USER.name,
      userEmail: OLD_USER.email,
      userPhone: OLD_USER.phone,
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return device.id;
}

async function step(id: string): Promise<string> {
  const res = await api.call('GET', `/api/v1/workflows/${id}`, { token: TOKENS.admin });
  return res.body.step ?? res.body.currentStep;
}

async function report(id: string, event: string, data: Record<string, unknown>, key?: string) {
  return api.call('POST', `/api/v1/workflows/${id}/events/${event}`, {
    token: TOKENS.field,
    body: { data },
    headers: key ? { 'idempotency-key': key } : {},
  });
}

/** A change-user process through the API, left waiting for the delivery. */
async function processAwaitingDelivery(): Promise<{ assetNumber: string; id: string }> {
  const assetNumber = newAssetNumber();
  const oldMdmId = await createDevice(assetNumber);
  const start = await api.call('POST', `/api/v1/devices/${assetNumber}/change-user`, {
    token: TOKENS.admin,
    body: {
      reason: 'Leaver',
      plannedCollectionDate: dateInDays(7),
      storageLocation: 'IT store',
      newUser: { department: 'Engineering', location: 'Osaka', ...NEW_USER },
    },
  });
  expect(start.status, JSON.stringify(start.body)).toBe(201);
  const id: string = start.body.workflowId;
  await expect.poll(() => step(id)).toBe('awaiting-collection');
  expect((await report(id, 'device-collected', { collectedBy: 'Bob Field' })).status).toBe(200);
  await expect.poll(() => step(id)).toBe('awaiting-reenrollment');
  await h.emulator.reEnroll(oldMdmId);
  expect((await report(id, 'device-reenrolled', {})).status).toBe(200);
  await expect.poll(() => step(id)).toBe('awaiting-delivery');
  return { assetNumber, id };
}

const signatureRows = async (workflowId: string) =>
  (await h.db.pool.query('SELECT id, sha256, kind, width, height FROM signatures WHERE workflow_id = $1', [workflowId]))
    .rows;

describe('a delivery signature', () => {
  it('is stored by the API; the workflow and the audit trail hold only its receipt; only admins read it, audited', async () => {
    const { assetNumber, id } = await processAwaitingDelivery();
    const image = png(600, 180);
    const sha256 = createHash('sha256').update(image).digest('hex');
    const key = `deliver-${assetNumber}`;

    const first = await report(
      id,
      'device-delivered',
      { receivedBy: NEW_USER.name, signature: pngDataUrl(image) },
      key,
    );
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    // A repeat with the same key stores nothing new.
    const again = await report(
      id,
      'device-delivered',
      { receivedBy: NEW_USER.name, signature: pngDataUrl(image) },
      key,
    );
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    const rows = await signatureRows(id);
    expect(rows).toEqual([{ id: expect.any(String), sha256, kind: 'png', width: 600, height: 180 }]);
    const receiptId = rows[0].id as string;

    await h.waitForStep(api.temporal.workflow.getHandle(id), 'completed');
    // Temporal's history of the run holds the receipt, never the image.
    const history = JSON.stringify(await api.temporal.workflow.getHandle(id).fetchHistory());
    expect(history).not.toContain(image.toString('base64').slice(0, 40));
    const { rows: events } = await h.db.pool.query<{ event_type: string; details: unknown }>(
      `SELECT event_type, details FROM asset_events WHERE asset_number = $1 AND event_type IN ('device-delivered', 'delivery-receipt')`,
      [assetNumber],
    );
    expect(events).toHaveLength(2);
    expect(JSON.stringify(events)).not.toContain('data:image');
    expect(JSON.stringify(events)).toContain(`receipt:${receiptId}:sha256:${sha256}`);

    // Only admins read it, and each read is an audit event naming the admin.
    for (const token of [TOKENS.field, TOKENS.viewer]) {
      const refused = await api.call('GET', `/api/v1/signatures/${receiptId}`, { token });
      expect(refused.status).toBe(403);
    }
    const read = await api.call('GET', `/api/v1/signatures/${receiptId}`, { token: TOKENS.admin });
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    expect(read.headers.get('cache-control')).toBe('no-store');
    expect(read.body).toMatchObject({ receiptId, sha256, kind: 'png', width: 600, height: 180, assetNumber });
    const served = Buffer.from(String(read.body.dataUrl).replace('data:image/png;base64,', ''), 'base64');
    expect(createHash('sha256').update(served).digest('hex')).toBe(sha256);
    const { rows: reads } = await h.db.pool.query(
      `SELECT actor, actor_role, details FROM asset_events WHERE asset_number = $1 AND event_type = 'signature-read'`,
      [assetNumber],
    );
    expect(reads).toEqual([
      { actor: TOKEN_ACTORS.admin, actor_role: 'admin', details: expect.objectContaining({ receiptId, via: 'api' }) },
    ]);

    // Least exposure: the viewer's history has no signature, receipt or past user's contact.
    const asViewer = await api.call('GET', `/api/v1/assets/${assetNumber}`, { token: TOKENS.viewer });
    expect(asViewer.status).toBe(200);
    expect(asViewer.headers.get('cache-control')).toBe('no-store');
    const viewerHistory = JSON.stringify(asViewer.body.events);
    for (const secret of [OLD_USER.name, OLD_USER.email, OLD_USER.phone, NEW_USER.email, NEW_USER.phone, 'receipt:']) {
      expect(viewerHistory).not.toContain(secret);
    }
    expect(viewerHistory).toContain('[redacted]');
    // The asset itself still says who has it now.
    expect(asViewer.body.asset.userName).toBe(NEW_USER.name);
    // Field staff keep past users' contacts (they chase devices), admins see the history as recorded.
    const asField = JSON.stringify(
      (await api.call('GET', `/api/v1/assets/${assetNumber}`, { token: TOKENS.field })).body,
    );
    expect(asField).toContain(OLD_USER.email);
    const asAdmin = JSON.stringify(
      (await api.call('GET', `/api/v1/assets/${assetNumber}`, { token: TOKENS.admin })).body,
    );
    expect(asAdmin).toContain(OLD_USER.email);
    expect(asAdmin).toContain(`receipt:${receiptId}`);
  });

  it('refuses a damaged, oversized or too large image naming data.signature, and stores nothing', async () => {
    const id = `device-${newAssetNumber()}`;
    const bad: [string, RegExp][] = [
      ['data:image/png;base64,iVBORw0KGgo=', /not a PNG/],
      ['data:image/jpeg;base64,/9j/4AAQ', /data:image\/png/],
      [pngDataUrl(png(2400, 10)), /2400 x 10 px/],
      // The report schema's 200,000 characters of text come first (about 146 kB of PNG); then 200 kB.
      [pngDataUrl(png(400, 600, true)), /200000 characters|at most 200 kB/],
      [pngDataUrl(png(40, 12)).slice(0, -12), /not|base64/],
      ['x'.repeat(201), /typed signature/],
    ];
    for (const [signature, why] of bad) {
      const res = await report(id, 'device-delivered', { receivedBy: 'Yuki', signature });
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(400);
      expect(res.body.error.details.problems).toEqual([
        { field: 'data.signature', problem: expect.stringMatching(why) },
      ]);
    }
    expect(await signatureRows(id)).toEqual([]);
  });

  it('is removed again when the workflow refuses the report (no process holds its receipt)', async () => {
    const id = `device-${newAssetNumber()}`;
    const res = await report(id, 'device-delivered', { receivedBy: 'Yuki', signature: pngDataUrl(png(40, 12)) });
    expect(res.status, JSON.stringify(res.body)).toBe(404);
    expect(await signatureRows(id)).toEqual([]);
  });
});

describe('MDM device ids', () => {
  it('refuses . and .. and ids with a slash in asset writes and re-enrolment reports (400 naming the field)', async () => {
    for (const mdmDeviceId of ['..', '.', 'a/../b', '%2e%2e']) {
      const res = await api.call('POST', '/api/v1/assets', {
        token: TOKENS.admin,
        body: {
          assetNumber: newAssetNumber(),
          serialNumber: `SN${randomInt(1e9, 9e9)}`,
          model: 'iPhone 15',
          mdmDeviceId,
          department: 'Sales',
          location: 'Tokyo HQ',
        },
      });
      expect(res.status, mdmDeviceId).toBe(400);
      expect(res.body.error.details.problems.map((p: { field: string }) => p.field)).toEqual(['mdmDeviceId']);
    }
    const imported = await api.call('POST', '/api/v1/assets/import', {
      token: TOKENS.admin,
      body: `Asset #,Serial number,Model,Department,Location,MDM device id\r\n${newAssetNumber()},SN${randomInt(1e9, 9e9)},iPhone,Sales,Tokyo,..\r\n`,
      contentType: 'text/csv',
    });
    expect(imported.status, JSON.stringify(imported.body)).toBe(400);
    expect(imported.body.error.details.errors).toEqual([
      { row: 2, column: 'MDM device id', message: expect.stringContaining('must be an MDM device id') },
    ]);
    const reenrolled = await report(`device-${newAssetNumber()}`, 'device-reenrolled', { mdmDeviceId: '..' });
    expect(reenrolled.status).toBe(400);
    expect(reenrolled.body.error.details.problems[0].field).toBe('data.mdmDeviceId');
  });
});
