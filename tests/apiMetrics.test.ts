/**
 * The API's Prometheus endpoint: requests are counted and timed by method, route *pattern* and status
 * (never the raw URL, so label values stay bounded however many devices or bogus paths are requested).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, TOKENS, type ApiHarness } from './support/apiHarness';

let api: ApiHarness;

beforeAll(async () => {
  api = await startApi();
});
afterAll(async () => {
  await api?.close();
});

async function scrape(): Promise<string> {
  const res = await fetch(`${api.baseUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** The value of one sample, selected by name and its exact, complete label set (NaN when absent). */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (m[2]!.split(',').sort().join(',') === want) return Number(m[3]);
  }
  return Number.NaN;
}

describe('GET /metrics', () => {
  it('needs no token and exposes the process metrics', async () => {
    const text = await scrape();
    expect(text).toContain('# TYPE http_requests_total counter');
    expect(text).toContain('# TYPE http_request_duration_seconds histogram');
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
  });

  it('counts requests by route pattern and status, whatever ids the URLs carry', async () => {
    for (const id of ['device-x1', 'device-x2', 'not-a-workflow']) {
      const res = await api.call('GET', `/api/v1/workflows/${id}`, { token: TOKENS.viewer });
      expect(res.status).toBe(400);
    }
    const forbidden = await api.call('POST', '/api/v1/devices/A-000001/change-user', {
      token: TOKENS.viewer,
      body: {},
    });
    expect(forbidden.status).toBe(403);
    for (const path of ['/wp-login.php', '/api/v1/nothing/here', '/random-1', '/random-2']) {
      expect((await api.call('GET', path, { token: TOKENS.viewer })).status).toBe(404);
    }
    expect((await api.call('GET', '/healthz')).status).toBe(200);
    expect((await api.call('GET', '/api/v1/healthz')).status).toBe(200);
    expect((await fetch(`${api.baseUrl}/field/`)).status).toBe(200);
    expect((await fetch(`${api.baseUrl}/field/js/app.js`)).status).toBe(200);

    const text = await scrape();
    const count = (method: string, route: string, status: string) =>
      sample(text, 'http_requests_total', { method, route, status });
    expect(count('GET', '/api/v1/workflows/:workflowId', '400')).toBe(3);
    expect(count('POST', '/api/v1/devices/:assetNumber/change-user', '403')).toBe(1);
    expect(count('GET', '(unmatched)', '404')).toBe(4);
    expect(count('GET', '/healthz', '200')).toBe(1);
    expect(count('GET', '/api/v1/healthz', '200')).toBe(1);
    expect(count('GET', '/field/*', '200')).toBe(2);
    expect(count('GET', '/metrics', '200')).toBeGreaterThanOrEqual(1); // the earlier scrape

    // The histogram saw the same requests, with the same labels.
    expect(
      sample(text, 'http_request_duration_seconds_count', {
        method: 'GET',
        route: '/api/v1/workflows/:workflowId',
        status: '400',
      }),
    ).toBe(3);
    expect(
      sample(text, 'http_request_duration_seconds_bucket', {
        method: 'GET',
        route: '/api/v1/workflows/:workflowId',
        status: '400',
        le: '+Inf',
      }),
    ).toBe(3);
    expect(
      sample(text, 'http_request_duration_seconds_sum', {
        method: 'GET',
        route: '/api/v1/workflows/:workflowId',
        status: '400',
      }),
    ).toBeGreaterThan(0);

    // Bounded labels: no raw URL, id or probe path made it into a label value.
    const routes = new Set([...text.matchAll(/route="([^"]*)"/g)].map((m) => m[1]));
    for (const leaked of ['device-x1', 'not-a-workflow', 'wp-login', 'random-1', 'A-000001', 'app.js']) {
      expect(
        [...routes].some((r) => r!.includes(leaked)),
        leaked,
      ).toBe(false);
    }
    for (const route of routes) expect(route).toMatch(/^(\(unmatched\)|\/[A-Za-z0-9/:.*_-]*)$/);
  });

  it('counts a request that fails in an async handler under its route, not as unmatched', async () => {
    // A bad body is refused by a throw inside the async handler, after the router has moved on.
    const res = await api.call('POST', '/api/v1/workflows/device-A-000001/events/device-collected', {
      token: TOKENS.field,
      body: { data: {} },
    });
    expect(res.status).toBe(400);
    const text = await scrape();
    expect(
      sample(text, 'http_requests_total', {
        method: 'POST',
        route: '/api/v1/workflows/:workflowId/events/:event',
        status: '400',
      }),
    ).toBe(1);
  });
});
