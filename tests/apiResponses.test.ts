/**
 * The spec is the truth: every answer of the API on real parts (Temporal dev server, a worker with the real
 * activities, PostgreSQL, the MDM emulator) is checked against /openapi.json. Its status must be documented
 * for the operation, its content type and body must match the documented schema, and the headers the spec
 * marks required (Retry-After, WWW-Authenticate) must be there. Every documented operation is driven to a
 * success, and the error answers a client meets (400, 401, 403, 404, 409, 413, 415, 429, 503) are driven
 * too. Schemathesis (apiSchemathesis.test.ts) explores inputs at random; this file walks the paths a
 * person takes, through states random input rarely reaches (a report accepted, a process cancelled).
 */
import { createHash, randomUUID } from 'node:crypto';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../db/pool';
import * as signaturesRepo from '../db/signaturesRepo';
import { freePort } from '../scripts/freePort';
import { workflowIdFor } from '../workflows/definitions';
import {
  startApi,
  startApiFor,
  TOKENS,
  type ApiHarness,
  type CallOptions,
  type CallResult,
} from './support/apiHarness';
import { dateInDays, newAssetNumber, PATIENCE_MS } from './support/fixtures';
import { useHarnessWithApi } from './support/suite';
import { png } from './support/pngFixture';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the spec is plain JSON, walked freely here
type Json = any;

const { h, api } = useHarnessWithApi();
let spec: Json;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
const validators = new Map<unknown, ValidateFunction>();
/** `get /api/v1/assets/{assetNumber}` -> the statuses it answered in this file. */
const answered = new Map<string, Set<number>>();

interface Operation {
  key: string;
  op: Json;
}

/** The documented operation a request lands on; a literal segment wins over a parameter (`/assets/import`). */
function operationOf(method: string, url: string): Operation | undefined {
  const pathname = new URL(url, 'http://x').pathname;
  const candidates = Object.keys(spec.paths)
    .filter((template) => spec.paths[template][method.toLowerCase()])
    .filter((template) => new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(pathname))
    .sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
  const template = candidates[0];
  return template
    ? { key: `${method.toLowerCase()} ${template}`, op: spec.paths[template][method.toLowerCase()] }
    : undefined;
}

function validatorFor(schema: Json): ValidateFunction {
  let validate = validators.get(schema);
  if (!validate) {
    const standalone = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"spec.json#/components/'));
    validate = ajv.compile(standalone);
    validators.set(schema, validate);
  }
  return validate;
}

/** An answer of `on` checked against the spec (and recorded for the coverage test at the end). */
async function checked(method: string, path: string, options: CallOptions = {}, on: ApiHarness = api) {
  const res = await on.call(method, path, options);
  const found = operationOf(method, path);
  expect(found, `${method} ${path} is no documented operation`).toBeDefined();
  const { key, op } = found!;
  const what = `${key} answered ${res.status}: ${JSON.stringify(res.body)?.slice(0, 500)}`;
  const documented = op.responses[String(res.status)];
  expect(documented, `${what}\nstatus not documented`).toBeDefined();
  for (const [name, header] of Object.entries<Json>(documented.headers ?? {})) {
    const value = res.headers.get(name);
    if (header.required) expect(value, `${what}\nheader ${name} missing`).not.toBeNull();
    if (value !== null) expect(validatorFor(header.schema)(value), `${what}\nheader ${name}: ${value}`).toBe(true);
  }
  const content = documented.content as Record<string, Json> | undefined;
  if (!content) {
    expect(res.body, `${what}\nno body documented`).toBeUndefined();
  } else {
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    expect(Object.keys(content), `${what}\ncontent type ${type}`).toContain(type);
    const validate = validatorFor(content[type].schema);
    expect(validate(res.body) ? [] : validate.errors, `${what}\nbody does not match the spec`).toEqual([]);
  }
  (answered.get(key) ?? answered.set(key, new Set()).get(key)!).add(res.status);
  return res;
}

const admin = (body?: unknown, headers?: Record<string, string>): CallOptions => ({
  token: TOKENS.admin,
  body,
  headers,
});

function expectStatus(res: CallResult, status: number) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
}

beforeAll(async () => {
  const res = await fetch(`${api.baseUrl}/openapi.json`);
  spec = await res.json();
  ajv.addSchema({ $id: 'spec.json', components: spec.components });
});

describe('answers on real parts match /openapi.json', () => {
  const started = newAssetNumber();
  const toCancel = newAssetNumber();
  const inBulk = newAssetNumber();

  beforeAll(async () => {
    for (const assetNumber of [started, toCancel, inBulk]) await h.seedDevice({ assetNumber });
  });

  it('operations: health, readiness, metrics, the spec and its page', async () => {
    for (const path of ['/healthz', '/api/v1/healthz', '/metrics', '/openapi.json', '/docs']) {
      expectStatus(await checked('GET', path), 200);
    }
    for (const path of ['/readyz', '/api/v1/readyz']) {
      await expect.poll(async () => (await checked('GET', path)).status).toBe(200);
    }
  });

  it('assets: create, update, conflict, list and pages, one with its history, CSV import', async () => {
    const assetNumber = newAssetNumber();
    const body = {
      assetNumber,
      serialNumber: `SN-${assetNumber}`,
      model: 'iPhone 15',
      department: 'Sales',
      location: 'Osaka',
    };
    expectStatus(
      await checked('POST', '/api/v1/assets', admin(body, { 'Idempotency-Key': `create-${assetNumber}` })),
      201,
    );
    const updated = await checked(
      'POST',
      '/api/v1/assets',
      admin({ ...body, model: 'iPhone 16', userEmail: 'aiko@example.com', version: 1 }),
    );
    expectStatus(updated, 200);
    expectStatus(await checked('POST', '/api/v1/assets', admin({ ...body, model: 'iPhone 17' })), 409); // no version
    expectStatus(await checked('POST', '/api/v1/assets', admin({ ...body, model: 'iPhone 17', version: 1 })), 409);
    const twin = { ...body, assetNumber: newAssetNumber() }; // another asset with the same serial number
    expectStatus(await checked('POST', '/api/v1/assets', admin(twin)), 409);
    expectStatus(await checked('POST', '/api/v1/assets', admin({ ...body, model: '' })), 400);

    const page = await checked('GET', '/api/v1/assets?limit=1', { token: TOKENS.viewer });
    expectStatus(page, 200);
    expect(page.body.nextCursor).toEqual(expect.any(String));
    const cursor = encodeURIComponent(page.body.nextCursor);
    expectStatus(await checked('GET', `/api/v1/assets?limit=1&cursor=${cursor}`, { token: TOKENS.viewer }), 200);
    expectStatus(await checked('GET', '/api/v1/assets?userEmail=aiko@example.com', { token: TOKENS.viewer }), 200);

    const one = await checked('GET', `/api/v1/assets/${assetNumber}`, { token: TOKENS.field });
    expectStatus(one, 200);
    expect(one.body.events.map((e: { type: string }) => e.type)).toEqual(['asset-created', 'asset-updated']);
    expectStatus(await checked('GET', `/api/v1/assets/${newAssetNumber()}`, { token: TOKENS.viewer }), 404);
    expectStatus(await checked('GET', '/api/v1/assets/A-12', { token: TOKENS.viewer }), 400);

    const imported = newAssetNumber();
    const csv = `assetNumber,serialNumber,model,department,location\n${imported},SN-${imported},Pixel 9,Sales,Kobe\n`;
    const csvCall = (text: string): CallOptions => ({ token: TOKENS.admin, body: text, contentType: 'text/csv' });
    expectStatus(await checked('POST', '/api/v1/assets/import', csvCall(csv)), 200);
    expectStatus(await checked('POST', '/api/v1/assets/import', csvCall('assetNumber\nA-1\n')), 400);
    const exported = await checked('GET', '/api/v1/assets/export.csv?department=Sales', { token: TOKENS.viewer });
    expectStatus(exported, 200);
    expect(exported.body).toContain(`${imported},SN-${imported},Pixel 9,`);
  });

  it('processes: start one and many, report, refuse, cancel, list, read, the bulk request, the task inbox', async () => {
    const start = { reason: 'Leaver', plannedCollectionDate: dateInDays(7), storageLocation: 'Shelf 1' };
    expectStatus(await checked('POST', `/api/v1/devices/${started}/change-user`, admin(start)), 201);
    expectStatus(await checked('POST', `/api/v1/devices/${started}/change-user`, admin(start)), 409);
    expectStatus(await checked('POST', `/api/v1/devices/${newAssetNumber()}/change-user`, admin(start)), 404);
    expectStatus(await checked('POST', `/api/v1/devices/${toCancel}/inactivation`, admin({ reason: 'Broken' })), 201);

    const bulk = await checked(
      'POST',
      '/api/v1/collections',
      admin({ ...start, assetNumbers: [inBulk, newAssetNumber(), 'nope'] }),
    );
    expect(bulk.status, JSON.stringify(bulk.body)).toBeLessThan(300);
    const bulkUrl = bulk.headers.get('location');
    if (bulkUrl) expectStatus(await checked('GET', bulkUrl, { token: TOKENS.viewer }), 200);
    const inactivations = await checked(
      'POST',
      '/api/v1/inactivations',
      admin({ reason: 'Old', assetNumbers: ['nope'] }),
    );
    expect(inactivations.status, JSON.stringify(inactivations.body)).toBeLessThan(300);

    const id = workflowIdFor(started);
    await h.waitForStep(api.temporal.workflow.getHandle(id), 'awaiting-collection');
    expectStatus(await checked('GET', `/api/v1/workflows/${id}`, { token: TOKENS.viewer }), 200);
    await expect
      .poll(async () => (await checked('GET', '/api/v1/tasks', { token: TOKENS.field })).body.items.length)
      .toBeGreaterThan(0);
    await expect
      .poll(
        async () =>
          (await checked('GET', `/api/v1/workflows?asset=${started}`, { token: TOKENS.viewer })).body.items.length,
      )
      .toBe(1);

    const report = (event: string, data: unknown, key: string) =>
      checked('POST', `/api/v1/workflows/${id}/events/${event}`, {
        token: TOKENS.field,
        body: { data },
        headers: { 'Idempotency-Key': key },
      });
    expectStatus(await report('device-collected', { collectedBy: 'Aki' }, `collected-${started}`), 200);
    expectStatus(await report('device-delivered', { receivedBy: 'Yuki', signature: 'Yuki' }, `early-${started}`), 409);
    expectStatus(await report('device-collected', {}, `bad-${started}`), 400);
    expectStatus(await checked('POST', `/api/v1/workflows/${id}/retry`, admin({ reason: 'nothing failed' })), 409);

    const other = workflowIdFor(toCancel);
    expectStatus(await checked('POST', `/api/v1/workflows/${other}/cancel`, admin({ reason: 'Kept after all' })), 200);
    await expect
      .poll(async () => (await checked('POST', `/api/v1/workflows/${other}/abort`, admin({}))).status)
      .toBe(409);
    expectStatus(
      await checked('GET', `/api/v1/workflows/${workflowIdFor(newAssetNumber())}`, { token: TOKENS.viewer }),
      404,
    );
  });

  it('an admin decides on processes parked in needs-attention: retry one, abort the other', async () => {
    for (const command of ['retry', 'abort']) {
      const assetNumber = newAssetNumber();
      const { mdmDeviceId } = await h.seedDevice({ assetNumber });
      const start = { reason: 'Leaver', plannedCollectionDate: dateInDays(7), storageLocation: 'Shelf 2' };
      expectStatus(await checked('POST', `/api/v1/devices/${assetNumber}/change-user`, admin(start)), 201);
      const id = workflowIdFor(assetNumber);
      const handle = api.temporal.workflow.getHandle(id);
      await h.waitForStep(handle, 'awaiting-collection');
      // The MDM refuses the wipe (403, not retryable): the process parks until an admin decides.
      await h.emulator.addFault({
        kind: 'error',
        status: 403,
        count: 1,
        method: 'POST',
        pathPrefix: `/devices/${mdmDeviceId}/commands`,
      });
      const collected = await checked('POST', `/api/v1/workflows/${id}/events/device-collected`, {
        token: TOKENS.field,
        body: { data: { collectedBy: 'Aki' } },
      });
      expectStatus(collected, 200);
      await h.waitForStep(handle, 'needs-attention');
      expectStatus(await checked('GET', `/api/v1/workflows/${id}`, { token: TOKENS.viewer }), 200);
      expectStatus(await checked('POST', `/api/v1/workflows/${id}/${command}`, admin({ reason: 'decided' })), 200);
    }
    // Bulk recovery of every process parked at the wipe (a dry run: the commands above decided them already).
    for (const command of ['retry', 'abort']) {
      const bulk = admin({ filter: { step: 'wiping', errorKind: 'mdm-refused' }, reason: 'decided', dryRun: true });
      expectStatus(await checked('POST', `/api/v1/workflows/${command}`, bulk), 200);
    }
  });

  it('distribution from stock: a device an admin chose and one the product picks, each to an application', async () => {
    const [chosen, picked] = [newAssetNumber(), newAssetNumber()];
    // A department and location no other asset of this file has, so the pick prefers `picked`.
    const where = { department: `Legal ${picked}`, location: 'Sapporo store' };
    for (const assetNumber of [chosen, picked])
      await h.seedDevice({ assetNumber, status: 'in_stock', ...where, userName: 'IT Operations', userPhone: null });
    const apply = async (n: number) => {
      const res = await checked(
        'POST',
        '/api/v1/applications',
        admin({
          department: where.department,
          deliveryLocation: where.location,
          userName: `Joiner ${n}`,
          userEmail: `joiner.${picked}.${n}@example.com`,
        }),
      );
      expectStatus(res, 201);
      return res.body.application.id as string;
    };

    const toChosen = await checked(
      'POST',
      `/api/v1/devices/${chosen}/distribution`,
      admin({ reason: 'New joiner', applicationId: await apply(1) }),
    );
    expectStatus(toChosen, 201);
    expect(toChosen.body.assetNumber).toBe(chosen);
    const again = await checked(
      'POST',
      `/api/v1/devices/${chosen}/distribution`,
      admin({ reason: 'New joiner', applicationId: await apply(2) }),
    );
    expectStatus(again, 409); // reserved by the first, or busy with its process
    const toPicked = await checked(
      'POST',
      '/api/v1/distributions',
      admin({ reason: 'New joiner', applicationId: await apply(3) }),
    );
    expectStatus(toPicked, 201);
    expect(toPicked.body.assetNumber).toBe(picked);
    expectStatus(
      await checked('POST', '/api/v1/distributions', admin({ reason: 'New joiner', applicationId: randomUUID() })),
      404,
    );

    for (const assetNumber of [chosen, picked]) {
      const id = workflowIdFor(assetNumber);
      await expect
        .poll(async () => (await checked('GET', `/api/v1/workflows/${id}`, { token: TOKENS.viewer })).body.step, {
          timeout: PATIENCE_MS,
        })
        .toBe('awaiting-delivery');
      expectStatus(await checked('POST', `/api/v1/workflows/${id}/cancel`, admin({ reason: 'test over' })), 200);
    }
  });

  it('a collection campaign: its view, its two CSVs, its cancel', async () => {
    const [collected, outstanding] = [newAssetNumber(), newAssetNumber()];
    for (const assetNumber of [collected, outstanding]) await h.seedDevice({ assetNumber });
    const start = { reason: 'Office move', storageLocation: 'Shelf 4', assetNumbers: [collected, outstanding] };
    const bulk = await checked(
      'POST',
      '/api/v1/collections',
      admin({ ...start, plannedCollectionDate: dateInDays(9) }),
    );
    expectStatus(bulk, 200);
    const campaign = `/api/v1/campaigns/${bulk.body.bulkId}`;
    for (const assetNumber of [collected, outstanding])
      await h.waitForStep(api.temporal.workflow.getHandle(workflowIdFor(assetNumber)), 'awaiting-collection');
    const report = await checked('POST', `/api/v1/workflows/${workflowIdFor(collected)}/events/device-collected`, {
      token: TOKENS.field,
      body: { data: { collectedBy: 'Aki' } },
    });
    expectStatus(report, 200);

    await expect
      .poll(async () => (await checked('GET', campaign, { token: TOKENS.viewer })).body.totals, {
        timeout: PATIENCE_MS,
      })
      .toMatchObject({ listed: 2, started: 2, collected: 1, outstanding: 1 });
    const list = await checked('GET', `${campaign}/collection-list.csv`, { token: TOKENS.viewer });
    expectStatus(list, 200);
    expect(String(list.body)).toContain(outstanding);
    expect(String(list.body)).not.toContain(collected);
    const reconciliation = await checked('GET', `${campaign}/reconciliation.csv`, { token: TOKENS.viewer });
    expectStatus(reconciliation, 200);
    expect(String(reconciliation.body)).toContain(collected);
    expectStatus(await checked('GET', `/api/v1/campaigns/${randomUUID()}`, { token: TOKENS.viewer }), 404);

    const cancel = await checked('POST', `${campaign}/cancel`, admin({}));
    expectStatus(cancel, 200);
    expect(cancel.body.results.map((r: { assetNumber: string }) => r.assetNumber).sort()).toEqual(
      [collected, outstanding].sort(),
    );
    expectStatus(await checked('POST', `/api/v1/campaigns/${randomUUID()}/cancel`, admin({})), 404);
  });

  it('the codec endpoint of the Temporal Web UI: encode and decode (unchanged without keys), bad base64 refused', async () => {
    const payload = {
      metadata: { encoding: Buffer.from('json/plain').toString('base64') },
      data: Buffer.from('"hi"').toString('base64'),
    };
    for (const op of ['encode', 'decode']) {
      expectStatus(await checked('POST', `/api/v1/codec/${op}`, admin({ payloads: [payload] })), 200);
      expectStatus(await checked('POST', `/api/v1/codec/${op}`, admin({ payloads: [{ data: '***' }] })), 400);
    }
  });

  it('reports, applications, API keys', async () => {
    for (const path of ['/api/v1/reports/collection-list.csv', '/api/v1/reports/distribution-list.csv']) {
      expectStatus(await checked('GET', path, { token: TOKENS.viewer }), 200);
    }
    expectStatus(await checked('GET', '/api/v1/reports/planned-asset-status', { token: TOKENS.viewer }), 200);

    const application = {
      department: 'Sales',
      deliveryLocation: 'Tokyo HQ',
      userName: 'Mio',
      userEmail: 'mio@example.com',
    };
    const created = await checked(
      'POST',
      '/api/v1/applications',
      admin(application, { 'Idempotency-Key': 'apply-mio-0001' }),
    );
    expect(created.status, JSON.stringify(created.body)).toBeLessThan(300);
    expectStatus(await checked('GET', '/api/v1/applications', { token: TOKENS.field }), 200);
    expectStatus(
      await checked('GET', `/api/v1/applications/${created.body.application.id}`, { token: TOKENS.field }),
      200,
    );
    expectStatus(
      await checked('GET', '/api/v1/applications/00000000-0000-4000-8000-000000000000', { token: TOKENS.field }),
      404,
    );

    const key = await checked(
      'POST',
      '/api/v1/api-keys',
      admin({ actorId: 'ci@example.com', role: 'viewer', name: 'ci' }),
    );
    expectStatus(key, 201);
    expectStatus(await checked('GET', '/api/v1/api-keys', { token: TOKENS.admin }), 200);
    expectStatus(await checked('DELETE', `/api/v1/api-keys/${key.body.apiKey.id}`, { token: TOKENS.admin }), 200);
    expectStatus(await checked('DELETE', `/api/v1/api-keys/${key.body.apiKey.id}`, { token: TOKENS.admin }), 200); // again: alreadyRevoked
    expectStatus(
      await checked('DELETE', '/api/v1/api-keys/00000000-0000-4000-8000-000000000000', { token: TOKENS.admin }),
      404,
    );

    // A delivery signature as the API stores one (tests/apiSignatures.test.ts drives a whole delivery): admins read it.
    const signed = newAssetNumber();
    const asset = {
      assetNumber: signed,
      serialNumber: `SN-${signed}`,
      model: 'iPhone',
      department: 'Sales',
      location: 'Tokyo',
    };
    expectStatus(await checked('POST', '/api/v1/assets', admin(asset)), 201);
    const image = png(40, 12);
    const { signature } = await signaturesRepo.store(h.db.pool, {
      workflowId: workflowIdFor(signed),
      assetNumber: signed,
      requestKey: `deliver-${signed}`,
      kind: 'png',
      content: image,
      sha256: createHash('sha256').update(image).digest('hex'),
      width: 40,
      height: 12,
      storedBy: 'field@local',
      storedByRole: 'field-staff',
    });
    expectStatus(await checked('GET', `/api/v1/signatures/${signature.id}`, { token: TOKENS.admin }), 200);
    expectStatus(await checked('GET', `/api/v1/signatures/${signature.id}`, { token: TOKENS.viewer }), 403);
    expectStatus(
      await checked('GET', '/api/v1/signatures/00000000-0000-4000-8000-000000000000', { token: TOKENS.admin }),
      404,
    );
  });

  it('error answers: 401, 403, 413, 415, 429 and 503 with their headers', async () => {
    expectStatus(await checked('GET', '/api/v1/tasks'), 401);
    expectStatus(await checked('GET', '/api/v1/tasks', { token: 'no-such-token' }), 401);
    expectStatus(await checked('POST', '/api/v1/assets', { token: TOKENS.viewer, body: {} }), 403);
    const big = { reason: 'x'.repeat(2_000_000), plannedCollectionDate: dateInDays(7), storageLocation: 'Shelf 1' };
    expectStatus(await checked('POST', `/api/v1/devices/${started}/change-user`, admin(big)), 413);
    expectStatus(
      await checked('POST', '/api/v1/applications', {
        token: TOKENS.admin,
        body: 'department=Sales',
        contentType: 'text/plain',
      }),
      415,
    );

    const limited = await startApiFor(h, { API_RATE_LIMIT_PER_MINUTE: '1' });
    try {
      let last: CallResult | undefined;
      for (let i = 0; i < 20 && last?.status !== 429; i++)
        last = await checked('GET', '/api/v1/assets', { token: TOKENS.viewer }, limited);
      expectStatus(last!, 429);
    } finally {
      await limited.close();
    }

    // The API's database is a port where nothing listens.
    const noDb = createPool(`postgres://postgres:postgres@127.0.0.1:${await freePort()}/none`, 1, {
      onError: () => undefined,
    });
    const down = await startApi({ db: noDb });
    try {
      expectStatus(await checked('GET', `/api/v1/assets/${started}`, { token: TOKENS.viewer }, down), 503);
      expectStatus(
        await checked(
          'POST',
          '/api/v1/assets',
          admin({ assetNumber: started, serialNumber: 'x', model: 'x', department: 'x', location: 'x' }),
          down,
        ),
        503,
      );
      expectStatus(await checked('GET', '/readyz', {}, down), 503);
    } finally {
      await down.close();
      await noDb.end();
    }
  });

  it('drove every documented operation to a success', () => {
    const operations = Object.entries<Json>(spec.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method} ${path}`),
    );
    const withoutSuccess = operations.filter((key) => ![...(answered.get(key) ?? [])].some((s) => s < 300));
    expect(withoutSuccess, 'drive these in tests/apiResponses.test.ts').toEqual([]);
  });
});

afterAll(() => {
  // What was checked, for a person reading the log.
  const lines = [...answered].map(([key, statuses]) => `  ${key}: ${[...statuses].sort().join(', ')}`);
  console.info(`[apiResponses] answers checked against /openapi.json:\n${lines.sort().join('\n')}`);
});
