/**
 * Assets through the HTTP API on real parts (PostgreSQL, Temporal dev server, a worker, the MDM emulator):
 * roles, list filters and cursors, create/update attributed to the token's actor, the all-or-nothing CSV
 * import (row errors, nothing written when one row is bad, BOM/CRLF/Japanese, charsets, size limit), and
 * an asset's history with actors after a workflow ran.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { startApi, TOKENS } from './support/apiHarness';
import { assetSeries } from './support/fixtures';
import { startChangeUserThroughApi, useHarnessWithApi } from './support/suite';

const { h, api } = useHarnessWithApi();

const no = assetSeries();
const { base } = no;

const newAsset = (n: number, extra: Record<string, unknown> = {}) => ({
  assetNumber: no(n),
  serialNumber: `SN-${base + n}`,
  model: 'iPhone 15',
  department: 'Sales',
  location: 'Tokyo HQ',
  status: 'in_use',
  ...extra,
});

const csv = (text: string, token: string = TOKENS.admin, headers: Record<string, string> = {}) =>
  api.call('POST', '/api/v1/assets/import', { token, body: text, contentType: 'text/csv; charset=utf-8', headers });

async function tableCounts() {
  const { rows } = await h.db.pool.query<{ assets: string; events: string }>(
    'SELECT (SELECT count(*) FROM assets) AS assets, (SELECT count(*) FROM asset_events) AS events',
  );
  return rows[0]!;
}

describe('roles', () => {
  it('lets every role read and only admins write', async () => {
    for (const token of [TOKENS.admin, TOKENS.field, TOKENS.viewer]) {
      expect((await api.call('GET', '/api/v1/assets', { token })).status).toBe(200);
    }
    for (const token of [TOKENS.field, TOKENS.viewer]) {
      const post = await api.call('POST', '/api/v1/assets', { token, body: newAsset(900) });
      expect(post.status).toBe(403);
      expect(post.body.error).toMatchObject({ code: 'forbidden', details: { allowed: ['admin'] } });
      expect((await csv(`Asset #\r\n${no(900)}\r\n`, token)).status).toBe(403);
    }
    expect((await api.call('GET', '/api/v1/assets')).status).toBe(401);
    expect((await api.call('GET', `/api/v1/assets/${no(900)}`)).status).toBe(401);
    expect(
      (await api.call('POST', '/api/v1/assets/import', { body: 'Asset #\r\n', contentType: 'text/csv' })).status,
    ).toBe(401);
    expect((await api.call('GET', `/api/v1/assets/${no(900)}`, { token: TOKENS.viewer })).status).toBe(404);
  });
});

describe('create, update and read one asset', () => {
  it('creates an asset (201) with an audit event by the token actor, and replays the same key without a second event', async () => {
    const key = { 'idempotency-key': `create-${base}-1` };
    const res = await api.call('POST', '/api/v1/assets', {
      token: TOKENS.admin,
      body: newAsset(1, { userName: '山田 太郎' }),
      headers: key,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.headers.get('location')).toBe(`/api/v1/assets/${no(1)}`);
    expect(res.body).toMatchObject({
      created: true,
      applied: true,
      asset: { assetNumber: no(1), userName: '山田 太郎', version: 1 },
    });
    expect(res.body.event).toMatchObject({ type: 'asset-created', actor: 'admin@local', role: 'admin' });

    const again = await api.call('POST', '/api/v1/assets', {
      token: TOKENS.admin,
      body: newAsset(1, { userName: '山田 太郎' }),
      headers: key,
    });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ created: true, applied: false });

    const detail = await api.call('GET', `/api/v1/assets/${no(1)}`, { token: TOKENS.viewer });
    expect(detail.status).toBe(200);
    expect(detail.body.events).toHaveLength(1);
  });

  it('updates (200) only what changed, with before and after in the event', async () => {
    const res = await api.call('POST', '/api/v1/assets', {
      token: TOKENS.admin,
      body: newAsset(1, { location: 'Osaka', version: 1 }),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      created: false,
      applied: true,
      asset: { location: 'Osaka', userName: '山田 太郎', version: 2 },
    });
    expect(res.body.event.changes).toEqual({ location: { from: 'Tokyo HQ', to: 'Osaka' } });
    const detail = await api.call('GET', `/api/v1/assets/${no(1)}`, { token: TOKENS.field });
    expect(detail.body.events.map((e: { type: string }) => e.type)).toEqual(['asset-created', 'asset-updated']);
  });

  it('refuses unknown fields, bad values and a serial number another asset has', async () => {
    const unknown = await api.call('POST', '/api/v1/assets', {
      token: TOKENS.admin,
      body: { ...newAsset(2), colour: 'red' },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details.problems[0]).toMatchObject({ field: 'colour' });
    const bad = await api.call('POST', '/api/v1/assets', {
      token: TOKENS.admin,
      body: newAsset(2, { status: 'lost-ish', userEmail: 'nope' }),
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.problems.map((p: { field: string }) => p.field).sort()).toEqual([
      'status',
      'userEmail',
    ]);
    const clash = await api.call('POST', '/api/v1/assets', {
      token: TOKENS.admin,
      body: newAsset(2, { serialNumber: `SN-${base + 1}` }),
    });
    expect(clash.status).toBe(409);
    expect(clash.body.error.details).toMatchObject({ field: 'serialNumber' });
    expect((await api.call('GET', '/api/v1/assets/B-1', { token: TOKENS.admin })).status).toBe(400);
  });
});

describe('list', () => {
  beforeAll(async () => {
    for (let n = 10; n < 15; n++) {
      const res = await api.call('POST', '/api/v1/assets', {
        token: TOKENS.admin,
        body: newAsset(n, {
          department: `List ${base}`,
          location: n % 2 ? 'Kobe' : 'Nara',
          plannedStatus: n < 12 ? 'in_stock' : null,
        }),
      });
      expect(res.status).toBe(201);
    }
  });

  it('filters and pages in asset-number order with an opaque cursor', async () => {
    const dept = encodeURIComponent(`List ${base}`);
    const first = await api.call('GET', `/api/v1/assets?department=${dept}&limit=2`, { token: TOKENS.viewer });
    expect(first.status).toBe(200);
    expect(first.body.items.map((a: { assetNumber: string }) => a.assetNumber)).toEqual([no(10), no(11)]);
    const second = await api.call('GET', `/api/v1/assets?department=${dept}&limit=2&cursor=${first.body.nextCursor}`, {
      token: TOKENS.viewer,
    });
    expect(second.body.items.map((a: { assetNumber: string }) => a.assetNumber)).toEqual([no(12), no(13)]);
    const third = await api.call('GET', `/api/v1/assets?department=${dept}&limit=2&cursor=${second.body.nextCursor}`, {
      token: TOKENS.viewer,
    });
    expect(third.body).toMatchObject({ items: [{ assetNumber: no(14) }], nextCursor: null });

    const kobe = await api.call('GET', `/api/v1/assets?department=${dept}&location=Kobe`, { token: TOKENS.viewer });
    expect(kobe.body.items.map((a: { assetNumber: string }) => a.assetNumber)).toEqual([no(11), no(13)]);
    const planned = await api.call('GET', `/api/v1/assets?department=${dept}&plannedStatus=in_stock&status=in_use`, {
      token: TOKENS.viewer,
    });
    expect(planned.body.items.map((a: { assetNumber: string }) => a.assetNumber)).toEqual([no(10), no(11)]);
  });

  it('refuses a bad cursor, an unknown filter and a bad status (400 naming it)', async () => {
    const cursor = await api.call('GET', '/api/v1/assets?cursor=garbage', { token: TOKENS.viewer });
    expect(cursor.status).toBe(400);
    expect(cursor.body.error.details.problems[0].field).toBe('cursor');
    const unknown = await api.call('GET', '/api/v1/assets?colour=red', { token: TOKENS.viewer });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details.problems[0].field).toBe('colour');
    const status = await api.call('GET', '/api/v1/assets?status=broken', { token: TOKENS.viewer });
    expect(status.body.error.details.problems[0].field).toBe('status');
  });
});

describe('CSV import', () => {
  const header = 'Asset #,Serial Number,Model,Department,Location,User Name,E-mail,Phone,Planned Asset Status';

  it('imports a good file with a BOM, CRLF, quoted commas and Japanese text, attributed to the admin', async () => {
    const text =
      `\uFEFF${header}\r\n` +
      `${no(20)},SN-${base + 20},iPhone 15,営業部,"東京本社, 3F",山田 太郎,taro@example.com,'+81 3 1234 5678,In Stock\r\n` +
      `${no(21)},SN-${base + 21},"Pixel ""8""",営業部,大阪,,,,\r\n` +
      `${no(1)},SN-${base + 1},iPhone 15,Sales,Osaka,山田 太郎,,,\r\n`;
    const res = await csv(text, TOKENS.admin, { 'idempotency-key': `import-${base}-good` });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ rows: 3, created: 2, updated: 0, unchanged: 1, importKey: `import-${base}-good` });

    const a = await api.call('GET', `/api/v1/assets/${no(20)}`, { token: TOKENS.viewer });
    expect(a.body.asset).toMatchObject({
      department: '営業部',
      location: '東京本社, 3F',
      userName: '山田 太郎',
      userPhone: '+81 3 1234 5678',
      plannedStatus: 'in_stock',
    });
    expect(a.body.events[0]).toMatchObject({
      type: 'asset-created',
      actor: 'admin@local',
      role: 'admin',
      details: { via: 'csv-import', row: 2 },
    });
    const b = await api.call('GET', `/api/v1/assets/${no(21)}`, { token: TOKENS.viewer });
    expect(b.body.asset).toMatchObject({ model: 'Pixel "8"', userName: null });

    // The same file again with the same key changes nothing and writes no event.
    const before = await tableCounts();
    const again = await csv(text, TOKENS.admin, { 'idempotency-key': `import-${base}-good` });
    expect(again.body).toMatchObject({ created: 0, updated: 0, unchanged: 3 });
    expect(await tableCounts()).toEqual(before);
  });

  it('updates existing assets from the seed list columns and the version each row was read at', async () => {
    const res = await csv(
      `Asset #,Department,Location,User Name,E-mail,Phone,Version\r\n${no(21)},営業部,大阪,佐藤 花子,hanako@example.com,06-1234-5678,1\r\n`,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ updated: 1 });
    const b = await api.call('GET', `/api/v1/assets/${no(21)}`, { token: TOKENS.viewer });
    expect(b.body.asset).toMatchObject({ model: 'Pixel "8"', userName: '佐藤 花子', userPhone: '06-1234-5678' });
  });

  it('writes nothing when one row among good ones is bad, and lists every row error', async () => {
    const before = await tableCounts();
    const text =
      `${header}\r\n` +
      `${no(30)},SN-${base + 30},iPhone 15,Sales,Tokyo,,,,\r\n` +
      `${no(31)},SN-${base + 31},iPhone 15,Sales,Tokyo,,not-an-email,,\r\n` +
      `${no(32)},SN-${base + 32},iPhone 15,Sales,Tokyo,,,,\r\n`;
    const res = await csv(text);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid-csv');
    expect(res.body.error.details.errors).toEqual([{ row: 3, column: 'E-mail', message: expect.any(String) }]);
    expect(res.body.error.message).toContain('row 3 (E-mail)');
    expect(await tableCounts()).toEqual(before);
    expect((await api.call('GET', `/api/v1/assets/${no(30)}`, { token: TOKENS.viewer })).status).toBe(404);
  });

  it('rolls back rows already written when the database refuses a later one', async () => {
    const before = await tableCounts();
    const text =
      `${header}\r\n` +
      `${no(40)},SN-${base + 40},iPhone 15,Sales,Tokyo,,,,\r\n` +
      `${no(41)},SN-${base + 20},iPhone 15,Sales,Tokyo,,,,\r\n` + // the serial number of an existing asset
      `${no(42)},,,Sales,Tokyo,,,,\r\n` + // new asset without serial and model
      `${no(43)},SN-${base + 43},iPhone 15,Sales,Tokyo,,,,\r\n`;
    const res = await csv(text);
    expect(res.status).toBe(400);
    expect(res.body.error.details.errors).toEqual([
      { row: 4, column: 'Serial Number', message: 'must not be empty' },
      { row: 4, column: 'Model', message: 'must not be empty' },
    ]);
    const dbLevel = await csv(
      `${header}\r\n${no(40)},SN-${base + 40},iPhone 15,Sales,Tokyo,,,,\r\n${no(41)},SN-${base + 20},iPhone 15,Sales,Tokyo,,,,\r\n${no(44)},SN-${base + 44},X,Sales,Tokyo,,,,\r\n`,
    );
    expect(dbLevel.status).toBe(400);
    expect(dbLevel.body.error.details.errors).toEqual([
      { row: 3, column: 'Serial Number', message: expect.stringContaining('serial number') },
    ]);
    const missing = await csv(`Asset #,Department\r\n${no(45)},Sales\r\n`);
    expect(missing.body.error.details.errors).toEqual([
      { row: 2, column: null, message: expect.stringContaining('does not exist') },
    ]);
    expect(await tableCounts()).toEqual(before);
  });

  it('takes Shift_JIS when the charset says so, and refuses bytes that are not valid UTF-8', async () => {
    const sjis = Buffer.concat([
      Buffer.from(`Asset #,Version,Location\r\n${no(21)},2,`),
      Buffer.from([0x93, 0x8c, 0x8b, 0x9e]), // 東京 in Shift_JIS
      Buffer.from('\r\n'),
    ]);
    const send = (contentType: string) =>
      fetch(`${api.baseUrl}/api/v1/assets/import`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKENS.admin}`, 'content-type': contentType },
        body: sjis,
      });
    const asUtf8 = await send('text/csv');
    expect(asUtf8.status).toBe(400);
    expect(((await asUtf8.json()) as { error: { message: string } }).error.message).toContain('shift_jis');
    const asSjis = await send('text/csv; charset=Shift_JIS');
    expect(asSjis.status).toBe(200);
    const b = await api.call('GET', `/api/v1/assets/${no(21)}`, { token: TOKENS.viewer });
    expect(b.body.asset.location).toBe('東京');
    expect((await send('text/csv; charset=x-klingon')).status).toBe(415);
  });

  it('refuses other content types (415), an empty body (400) and a file over the limit (413)', async () => {
    const json = await api.call('POST', '/api/v1/assets/import', { token: TOKENS.admin, body: { rows: [] } });
    expect(json.status).toBe(415);
    expect(json.body.error.code).toBe('unsupported-media-type');
    expect((await csv('')).status).toBe(400);
    const small = await startApi({ db: h.db.pool, env: { API_IMPORT_LIMIT: '1kb' } });
    try {
      const res = await small.call('POST', '/api/v1/assets/import', {
        token: TOKENS.admin,
        body: `Asset #\r\n${'A-000001\r\n'.repeat(200)}`,
        contentType: 'text/csv',
      });
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('body-too-large');
    } finally {
      await small.close();
    }
    // JSON routes keep their own limit and still refuse CSV.
    const other = await api.call('POST', '/api/v1/assets', {
      token: TOKENS.admin,
      body: 'a,b',
      contentType: 'text/csv',
    });
    expect(other.status).toBe(415);
  });
});

describe('history after a workflow ran', () => {
  it('lists every event oldest first with its actor, role, workflow and step', async () => {
    const assetNumber = no(50);
    const workflowId = `device-${assetNumber}`;
    await h.seedDevice({ assetNumber, department: 'Sales', location: 'Tokyo HQ' });
    const handle = await startChangeUserThroughApi(h, api, assetNumber, { storageLocation: 'Shelf 9' });
    const reported = await api.call('POST', `/api/v1/workflows/${workflowId}/events/device-collected`, {
      token: TOKENS.field,
      body: { data: { collectedBy: 'Bob Field', storageLocation: 'Shelf 9' } },
    });
    expect(reported.status, JSON.stringify(reported.body)).toBe(200);
    await h.waitForStep(handle, 'awaiting-reenrollment');

    const res = await api.call('GET', `/api/v1/assets/${assetNumber}`, { token: TOKENS.viewer });
    expect(res.status).toBe(200);
    expect(res.body.asset).toMatchObject({ status: 'in_stock', location: 'Shelf 9' });
    const events = res.body.events as {
      type: string;
      actor: string;
      role: string;
      workflowId: string;
      step: string;
      at: string;
    }[];
    const times = events.map((e) => e.at);
    expect(times).toEqual([...times].sort());
    const of = (type: string) => events.find((e) => e.type === type);
    expect(of('collection-scheduled')).toMatchObject({
      actor: 'admin@local',
      role: 'admin',
      workflowId,
      step: 'scheduled',
    });
    expect(of('device-collected')).toMatchObject({
      actor: 'field@local',
      role: 'field-staff',
      workflowId,
      step: 'awaiting-collection',
      details: { collectedBy: 'Bob Field' },
    });
    expect(of('returned-to-stock')).toMatchObject({ actor: 'field@local', step: 'returning-to-stock' });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['wipe-requested', 'mdm-record-deleted']));
    await handle.terminate('test done');
  });
});
