/**
 * Edits respect running processes (issue 11 item 3), through the HTTP API on real parts (PostgreSQL, the
 * Temporal dev server and its visibility store, a worker, the MDM emulator): an update carries the version
 * it was based on and a stale one is refused naming what changed, by whom and when; a field a running
 * change-user owns is refused naming the workflow while a field it does not own stays editable; an import
 * that touches a device in a running process is refused whole with a reason per row and writes nothing;
 * export, edit and import back works, also with a device of the file in a process.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import { formatCsv, parseCsv } from '../api/csv';
import { LifecycleStepKey } from '../temporal/searchAttributes';
import type { Step } from '../workflows/definitions';
import { TOKENS } from './support/apiHarness';
import { PATIENCE_MS } from './support/patience';
import { assetSeries } from './support/fixtures';
import { startChangeUserThroughApi, useHarnessWithApi } from './support/suite';

const { h, api } = useHarnessWithApi();

const no = assetSeries();
const { base } = no;
const department = `Edits ${base}`;

const newAsset = (n: number, extra: Record<string, unknown> = {}) => ({
  assetNumber: no(n),
  serialNumber: `SN-E-${base + n}`,
  model: 'iPhone 15',
  department,
  location: 'Tokyo HQ',
  status: 'in_use',
  ...extra,
});

const post = (body: Record<string, unknown>) => api.call('POST', '/api/v1/assets', { token: TOKENS.admin, body });
const csv = (text: string) =>
  api.call('POST', '/api/v1/assets/import', { token: TOKENS.admin, body: text, contentType: 'text/csv' });
const read = async (assetNumber: string) =>
  (await api.call('GET', `/api/v1/assets/${assetNumber}`, { token: TOKENS.admin })).body.asset;

/** These assets and the count of their audit rows, as the database holds them. */
async function snapshot(...assetNumbers: string[]) {
  const { rows } = await h.db.pool.query(
    `SELECT a.*, (SELECT count(*) FROM asset_events e WHERE e.asset_number = a.asset_number) AS events
       FROM assets a WHERE asset_number = ANY($1::text[]) ORDER BY asset_number`,
    [assetNumbers],
  );
  return rows;
}

const running: WorkflowHandle[] = [];
afterAll(async () => {
  for (const handle of running) await handle.terminate('test done').catch(() => undefined);
});

/**
 * Waits until Temporal's visibility lists the workflow at this step. The 409 names the step from the
 * search attribute, which visibility indexes a moment after the workflow state has it.
 */
async function waitUntilListedAt(handle: WorkflowHandle, step: Step) {
  await h.waitForStep(handle, step);
  const query = `WorkflowId = '${handle.workflowId}' AND ${LifecycleStepKey.name} = '${step}'`;
  await vi.waitFor(
    async () => {
      const { count } = await api.temporal.workflow.count(query);
      expect(count).toBe(1);
    },
    { timeout: PATIENCE_MS, interval: 200 },
  );
}

/**
 * A seeded device whose change-user process runs (waiting for the collection), started through the API,
 * and listed so by visibility (which the ownership check reads).
 */
async function deviceInChangeUser(n: number) {
  await h.seedDevice({ assetNumber: no(n), department, location: 'Osaka' });
  const handle = await startChangeUserThroughApi(h, api, no(n));
  running.push(handle);
  await waitUntilListedAt(handle, 'awaiting-collection');
  return handle;
}

describe('the version an update was based on', () => {
  it('refuses a stale version with 409 naming the fields changed since, by whom and when, and writes nothing', async () => {
    expect((await post(newAsset(1))).status).toBe(201);
    const moved = await post(newAsset(1, { location: 'Kobe', version: 1 }));
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body.asset.version).toBe(2);

    const stale = await post(newAsset(1, { location: 'Tokyo HQ', model: 'iPhone 16', version: 1 }));
    expect(stale.status, JSON.stringify(stale.body)).toBe(409);
    expect(stale.body.error.code).toBe('stale-version');
    expect(stale.body.error.message).toContain('location');
    expect(stale.body.error.details).toMatchObject({
      assetNumber: no(1),
      version: 1,
      currentVersion: 2,
      changedFields: ['location'],
      changes: [
        {
          version: 2,
          fields: ['location'],
          changes: { location: { from: 'Tokyo HQ', to: 'Kobe' } },
          eventType: 'asset-updated',
          actor: 'admin@local',
          at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        },
      ],
    });
    expect(await read(no(1))).toMatchObject({ location: 'Kobe', model: 'iPhone 15', version: 2 });
  });

  it('requires the version to change an asset that exists, and accepts a body that changes nothing without one', async () => {
    const blind = await post(newAsset(1, { model: 'Pixel 9' }));
    expect(blind.status).toBe(409);
    expect(blind.body.error).toMatchObject({
      code: 'version-required',
      details: { assetNumber: no(1), currentVersion: 2 },
    });
    const same = await post(newAsset(1, { location: 'Kobe' }));
    expect(same.status, JSON.stringify(same.body)).toBe(200);
    expect(same.body).toMatchObject({ asset: { version: 2 } });
    expect(same.body.event.changes).toEqual({});
    const unknown = await post(newAsset(2, { version: 3 }));
    expect(unknown.status).toBe(404);
    expect(await read(no(1))).toMatchObject({ model: 'iPhone 15', version: 2 });
  });
});

describe('fields a running process owns', () => {
  it('refuses a change of a field the change-user process owns (409 naming the workflow), and takes one it does not own', async () => {
    await deviceInChangeUser(10);
    const asset = await read(no(10));
    expect(asset.plannedStatus).toBe('in_stock'); // the process has planned the collection

    const owned = await post({ ...asset4Post(asset), userEmail: 'someone.else@example.com', version: asset.version });
    expect(owned.status, JSON.stringify(owned.body)).toBe(409);
    expect(owned.body.error.code).toBe('owned-by-process');
    expect(owned.body.error.message).toContain(`device-${no(10)}`);
    expect(owned.body.error.details).toMatchObject({
      assetNumber: no(10),
      fields: ['userEmail'],
      workflows: [
        {
          workflowId: `device-${no(10)}`,
          process: 'change-user',
          step: 'awaiting-collection',
          fields: ['userEmail'],
        },
      ],
    });
    expect(owned.body.error.details.editable).toContain('model');
    expect((await read(no(10))).userEmail).toBe('x.old@example.com');

    const free = await post({ ...asset4Post(asset), model: 'iPhone 15 Pro', version: asset.version });
    expect(free.status, JSON.stringify(free.body)).toBe(200);
    expect(free.body).toMatchObject({ applied: true, asset: { model: 'iPhone 15 Pro', version: asset.version + 1 } });
    expect(free.body.event.changes).toEqual({ model: { from: 'iPhone 15', to: 'iPhone 15 Pro' } });
  });

  it("owns per process: an inactivation owns the status and the platform, not the user's e-mail", async () => {
    await h.seedDevice({ assetNumber: no(11), department, location: 'Osaka' });
    const started = await api.call('POST', `/api/v1/devices/${no(11)}/inactivation`, {
      token: TOKENS.admin,
      body: { reason: 'Broken screen' },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const handle = api.temporal.workflow.getHandle(`device-${no(11)}`);
    running.push(handle);
    await waitUntilListedAt(handle, 'awaiting-removal-profile');
    const asset = await read(no(11));

    const status = await post({ ...asset4Post(asset), status: 'in_stock', platform: 'ipados', version: asset.version });
    expect(status.status, JSON.stringify(status.body)).toBe(409);
    expect(status.body.error.details).toMatchObject({
      fields: ['status', 'platform'],
      workflows: [{ workflowId: `device-${no(11)}`, process: 'inactivation', step: 'awaiting-removal-profile' }],
    });
    expect(status.body.error.details.editable).toEqual(expect.arrayContaining(['model', 'userEmail', 'department']));

    // A corrected address, so the next reminder reaches the user.
    const email = await post({ ...asset4Post(asset), userEmail: 'x.old@example.org', version: asset.version });
    expect(email.status, JSON.stringify(email.body)).toBe(200);
    expect(email.body.asset).toMatchObject({ userEmail: 'x.old@example.org', status: 'in_use', platform: 'ios' });
  });

  it('a distribution owns what its assignment writes, not the MDM device id', async () => {
    await h.seedDevice({ assetNumber: no(12), status: 'in_stock', department, location: 'Store' });
    const started = await api.call('POST', `/api/v1/devices/${no(12)}/distribution`, {
      token: TOKENS.admin,
      body: {
        reason: 'New joiner',
        newUser: { department, location: 'Nagoya', name: 'New Joiner', email: `joiner.${base}@example.com` },
      },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const handle = api.temporal.workflow.getHandle(`device-${no(12)}`);
    running.push(handle);
    await waitUntilListedAt(handle, 'awaiting-delivery');
    const asset = await read(no(12));
    expect(asset).toMatchObject({ status: 'in_use', userName: 'New Joiner' });

    const user = await post({ ...asset4Post(asset), userName: 'Someone Else', version: asset.version });
    expect(user.status, JSON.stringify(user.body)).toBe(409);
    expect(user.body.error.details.workflows).toEqual([
      expect.objectContaining({ workflowId: `device-${no(12)}`, process: 'distribution', step: 'awaiting-delivery' }),
    ]);
    const mdm = await post({ ...asset4Post(asset), mdmDeviceId: null, version: asset.version });
    expect(mdm.status, JSON.stringify(mdm.body)).toBe(200);
    expect(mdm.body.asset).toMatchObject({ mdmDeviceId: null, userName: 'New Joiner' });
  });
});

/** The fields POST /assets requires, from an asset as GET shows it. */
function asset4Post(a: Record<string, unknown>) {
  const { assetNumber, serialNumber, model, department: d, location } = a;
  return { assetNumber, serialNumber, model, department: d, location };
}

describe('CSV import', () => {
  it('refuses a file touching a device in a running process whole: a reason per refused row, nothing written', async () => {
    await deviceInChangeUser(20);
    expect((await post(newAsset(21))).status).toBe(201);
    expect((await post(newAsset(22))).status).toBe(201);
    expect((await post(newAsset(22, { location: 'Nara', version: 1 }))).status).toBe(200);
    const inProcess = await read(no(20));
    const before = await snapshot(no(20), no(21), no(22), no(23));

    const text =
      'Asset #,Department,Location,Version\r\n' +
      `${no(21)},${department},Sapporo,1\r\n` + // fine alone
      `${no(20)},Elsewhere,Osaka,${inProcess.version}\r\n` + // the department the process owns
      `${no(22)},${department},Fukuoka,1\r\n` + // based on version 1; version 2 moved it to Nara
      `${no(23)},${department},Kobe,\r\n`; // unknown asset, no version: a create lacking serial and model
    const res = await csv(text);
    expect(res.status, JSON.stringify(res.body)).toBe(400); // the unknown asset is a bad row, not a conflict
    const errors = res.body.error.details.errors as Record<string, unknown>[];
    expect(errors).toEqual([
      expect.objectContaining({
        row: 3,
        assetNumber: no(20),
        code: 'owned-by-process',
        details: expect.objectContaining({
          fields: ['department'],
          workflows: [expect.objectContaining({ workflowId: `device-${no(20)}`, process: 'change-user' })],
        }),
      }),
      expect.objectContaining({
        row: 4,
        assetNumber: no(22),
        code: 'stale-version',
        column: 'Version',
        details: expect.objectContaining({ version: 1, currentVersion: 2, changedFields: ['location'] }),
      }),
      { row: 5, column: null, message: expect.stringContaining('does not exist') },
    ]);

    // Only conflicts: 409, still whole.
    const conflicts = await csv(
      'Asset #,Department,Location,Version\r\n' +
        `${no(21)},${department},Sapporo,1\r\n` +
        `${no(20)},Elsewhere,Osaka,${inProcess.version}\r\n`,
    );
    expect(conflicts.status, JSON.stringify(conflicts.body)).toBe(409);
    expect(conflicts.body.error.code).toBe('import-conflict');
    expect(conflicts.body.error.details.errors).toEqual([
      expect.objectContaining({ row: 3, assetNumber: no(20), code: 'owned-by-process' }),
    ]);
    expect(await snapshot(no(20), no(21), no(22), no(23))).toEqual(before);
    expect(before).toHaveLength(3);
  });

  it('round trip: export, edit, import back; rows of a device in a process that are left alone pass', async () => {
    await deviceInChangeUser(30);
    expect((await post(newAsset(31))).status).toBe(201);
    const exported = await api.call('GET', `/api/v1/assets/export.csv?department=${encodeURIComponent(department)}`, {
      token: TOKENS.viewer,
    });
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-type')).toMatch(/^text\/csv/);
    const records = parseCsv(exported.body as string).map((r) => r.fields);
    const header = records[0]!;
    expect(header.at(-1)).toBe('Version');
    const rowOf = (n: number) => records.find((r) => r[0] === no(n))!;
    expect(rowOf(30)).toBeDefined();
    expect(rowOf(31)).toBeDefined();
    const col = (name: string) => header.indexOf(name);

    // Edit one cell of one row, in a spreadsheet.
    rowOf(31)[col('Location')] = 'Sendai';
    const edited = formatCsv(records);
    const back = await csv(edited);
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    expect(back.body).toMatchObject({ updated: 1, created: 0, unchanged: records.length - 2 });
    expect(await read(no(31))).toMatchObject({ location: 'Sendai', version: 2 });

    // The same file again: every row is what the assets hold now, so nothing is written.
    const again = await csv(edited);
    expect(again.body).toMatchObject({ updated: 0, unchanged: records.length - 1 });

    // A change made after the export: the file's old value is refused as stale, not written back.
    expect((await post(newAsset(31, { location: 'Sendai', model: 'Pixel 9', version: 2 }))).status).toBe(200);
    rowOf(31)[col('Location')] = 'Morioka';
    const refused = await csv(formatCsv(records));
    expect(refused.status, JSON.stringify(refused.body)).toBe(409);
    expect(refused.body.error.details.errors).toEqual([
      expect.objectContaining({
        assetNumber: no(31),
        code: 'stale-version',
        details: expect.objectContaining({ changedFields: ['model', 'location'] }),
      }),
    ]);
    expect(await read(no(31))).toMatchObject({ location: 'Sendai', model: 'Pixel 9' });
  });
});
