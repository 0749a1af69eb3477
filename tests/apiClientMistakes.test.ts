/**
 * A client's mistake is a 4xx that says what is wrong and changes nothing, never a 500 (DESIGN §4): a path
 * that is not valid percent-encoding, a JSON body whose bytes are not UTF-8 (refused as the CSV import
 * refuses them, not stored as U+FFFD), a string no text column can hold, a method a path does not serve
 * (405 with Allow). Against the API on a real PostgreSQL database.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, TOKENS, type ApiHarness } from './support/apiHarness';
import { newAssetNumber } from './support/fixtures';
import { createTestDatabase, type TestDatabase } from './support/postgres';

let db: TestDatabase;
let api: ApiHarness;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startApi({ db: db.pool });
});
afterAll(async () => {
  await api?.close();
  await db?.drop();
});

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the error body as the API sent it
  body: any;
}

/** Any method and any bytes, as they are (fetch refuses TRACE and re-encodes what it sends). */
function raw(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const url = new URL(path, api.baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: { authorization: `Bearer ${TOKENS.admin}`, ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** An asset as JSON bytes, the model's value given as bytes (so they can be anything). */
const assetBytes = (assetNumber: string, model: Buffer | string) =>
  Buffer.concat([
    Buffer.from(`{"assetNumber":"${assetNumber}","serialNumber":"SN-${assetNumber}","model":"`),
    Buffer.from(model),
    Buffer.from('","department":"Sales","location":"Tokyo HQ"}'),
  ]);

describe('a path that is not valid percent-encoding', () => {
  it.each([
    ['GET', '/api/v1/assets/%FF'],
    ['GET', '/api/v1/workflows/%E0'],
    ['GET', '/api/v1/workflows/%E0%80'],
    ['POST', '/api/v1/workflows/device-A-000123/events/%C3%28'],
    ['POST', '/api/v1/devices/%ZZ/change-user'],
  ])('%s %s is 400 invalid path, not 500', async (method, path) => {
    const res = method === 'GET' ? await raw(method, path) : await raw(method, path, Buffer.from('{}'), JSON_TYPE);
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'invalid-input',
      details: { problems: [{ field: '(path)', problem: 'is not valid percent-encoded UTF-8' }] },
    });
  });
});

describe('a JSON body that is not valid UTF-8, or holds text no column can store', () => {
  it('is refused 400 and nothing is stored, as the CSV import refuses the same bytes', async () => {
    const assetNumber = newAssetNumber();
    const bytes = assetBytes(assetNumber, Buffer.from([0x6d, 0xff, 0xfe])); // "m" and two bytes that are no UTF-8
    expect(bytes.toString('utf8')).toContain('"model":"m\ufffd\ufffd"'); // what used to be stored

    const json = await raw('POST', '/api/v1/assets', bytes, { 'content-type': 'application/json' });
    expect(json.status, JSON.stringify(json.body)).toBe(400);
    expect(json.body.error).toMatchObject({
      code: 'invalid-input',
      details: { problems: [{ field: '(body)', problem: 'is not valid utf-8' }] },
    });

    const csv = await raw(
      'POST',
      '/api/v1/assets/import',
      Buffer.concat([
        Buffer.from(`assetNumber,serialNumber,model,department,location\n${assetNumber},SN-${assetNumber},`),
        Buffer.from([0x6d, 0xff, 0xfe]),
        Buffer.from(',Sales,Tokyo HQ\n'),
      ]),
      { 'content-type': 'text/csv' },
    );
    expect(csv.status, JSON.stringify(csv.body)).toBe(400);
    expect(csv.body.error.details.problems[0].problem).toMatch(/^is not valid utf-8/);

    const stored = await api.call('GET', `/api/v1/assets/${assetNumber}`, { token: TOKENS.viewer });
    expect(stored.status).toBe(404);
  });

  it('is refused 415 in a charset that is not one of JSON', async () => {
    const res = await raw('POST', '/api/v1/assets', assetBytes(newAssetNumber(), 'm'), {
      'content-type': 'application/json; charset=utf-7',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(415);
  });

  it.each([
    ['a NUL character', 'm\\u0000'],
    ['a lone surrogate', 'm\\ud800'],
  ])('with %s in a string is refused 400 and nothing is stored', async (_what, model) => {
    const assetNumber = newAssetNumber();
    const res = await raw('POST', '/api/v1/assets', assetBytes(assetNumber, model), {
      'content-type': 'application/json',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.code).toBe('malformed-json');
    expect((await api.call('GET', `/api/v1/assets/${assetNumber}`, { token: TOKENS.viewer })).status).toBe(404);
  });

  it('takes the same asset in valid UTF-8, Japanese and emoji included', async () => {
    const assetNumber = newAssetNumber();
    const res = await raw('POST', '/api/v1/assets', assetBytes(assetNumber, 'iPhone 15 営業部 📱'), {
      'content-type': 'application/json; charset=utf-8',
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.asset.model).toBe('iPhone 15 営業部 📱');
  });
});

describe('a method a path does not serve', () => {
  it.each([
    ['TRACE', '/api/v1/assets', 'GET, HEAD, POST, OPTIONS'],
    ['PUT', '/api/v1/assets/A-000123', 'GET, HEAD, OPTIONS'],
    ['DELETE', '/api/v1/workflows/device-A-000123', 'GET, HEAD, OPTIONS'],
    ['GET', '/api/v1/assets/import', 'POST, OPTIONS'],
    ['GET', '/api/v1/workflows/device-A-000123/cancel', 'POST, OPTIONS'],
    ['TRACE', '/healthz', 'GET, HEAD, OPTIONS'],
    ['POST', '/openapi.json', 'GET, HEAD, OPTIONS'],
  ])('%s %s is 405 with Allow: %s', async (method, path, allow) => {
    const res = await raw(method, path);
    expect(res.status, JSON.stringify(res.body)).toBe(405);
    expect(res.headers.allow).toBe(allow);
    expect(res.body.error).toMatchObject({ code: 'method-not-allowed', details: { allowed: allow.split(', ') } });
  });

  it('leaves paths the API does not serve at all to 404, and served methods alone', async () => {
    expect((await raw('TRACE', '/api/v1/no-such-thing')).status).toBe(404);
    // `import` is no asset number, but A-000123 is: GET goes to the asset (404: not in this database).
    expect((await raw('GET', '/api/v1/assets/A-000123')).status).toBe(404);
    expect((await raw('HEAD', '/healthz')).status).toBe(200);
  });
});

describe('headers larger than the HTTP server takes', () => {
  it('are answered 431 by the server itself, without a body, as the spec documents for every operation', async () => {
    const res = await raw('GET', '/api/v1/assets', undefined, { 'x-padding': 'a'.repeat(20_000) });
    expect(res.status).toBe(431);
    expect(res.body).toBeUndefined();
    const spec = (await (await fetch(`${api.baseUrl}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { content?: unknown }> }>>;
    };
    const operations = Object.values(spec.paths).flatMap((ops) => Object.values(ops));
    expect(operations.filter((op) => !op.responses['431'] || op.responses['431'].content)).toEqual([]);
  });
});
