/**
 * `npm start` for real: the whole local stack as a child process (`npx tsx scripts/startLocalStack.ts`) on
 * free ports with a temporary data folder. Ready, healthy, demo data in PostgreSQL and the MDM emulator,
 * a workflow started; Ctrl-C (SIGINT to the process group, as a terminal sends it) stops everything and
 * frees every port; a second start on the same data has the same assets and still has the workflow.
 * Under chaos the stack heals itself: a worker killed with SIGKILL mid-process is restarted and the
 * process is finished through the API; PostgreSQL and Temporal killed the same way come back on their data.
 * Does not use the globalSetup's shared servers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../scripts/freePort';
import { PATIENCE_MS } from './support/patience';
import { SIGNATURE_PNG } from './support/pngFixture';

const root = path.resolve(import.meta.dirname, '..');
const READY = /local stack is ready in ([\d.]+) s/;
const ADMIN_TOKEN = 'local-stack-test-admin-token';
const MDM_KEY = 'local-stack-test-mdm-key';

interface RunningStack {
  child: ChildProcess;
  output: () => string;
  ready: Promise<number>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startStack(env: NodeJS.ProcessEnv): RunningStack {
  // Its own process group, so the test can send SIGINT to all of it the way a terminal's Ctrl-C does.
  const child = spawn('npx', ['tsx', 'scripts/startLocalStack.ts'], {
    cwd: root,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ready line within ${PATIENCE_MS} ms:\n${output.slice(-4000)}`)),
      PATIENCE_MS,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = READY.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exit.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new Error(`the stack exited (code ${code}, signal ${signal}) before it was ready:\n${output.slice(-4000)}`),
      );
    });
  });
  ready.catch(() => undefined);
  return { child, output: () => output, ready, exit };
}

function isAlive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

async function stopStack(
  stack: RunningStack,
  timeoutMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const t0 = Date.now();
  process.kill(-stack.child.pid!, 'SIGINT');
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(new Error(`still running ${timeoutMs} ms after SIGINT:\n${stack.output().slice(-3000)}`)),
      timeoutMs,
    ).unref(),
  );
  const result = await Promise.race([stack.exit, timeout]);
  return { ...result, ms: Date.now() - t0 };
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

describe('local stack (npm start)', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let ports: {
    api: number;
    pg: number;
    temporal: number;
    ui: number;
    mdm: number;
    smtp: number;
    mailHttp: number;
    metrics: number;
  };
  let stack: RunningStack | undefined;

  const api = (p: string) => `http://127.0.0.1:${ports.api}/api/v1${p}`;
  const mdm = (p: string) => `http://127.0.0.1:${ports.mdm}${p}`;
  const dbUrl = () => `postgres://postgres:postgres@127.0.0.1:${ports.pg}/device_lifecycle`;

  async function dbCounts(): Promise<{
    assets: number;
    departments: number;
    locations: number;
    seedEvents: number;
    enrolled: string[];
  }> {
    const client = new pg.Client({ connectionString: dbUrl() });
    await client.connect();
    try {
      const { rows } = await client.query<{ assets: number; departments: number; locations: number }>(
        'SELECT count(*)::int AS assets, count(DISTINCT department)::int AS departments, count(DISTINCT location)::int AS locations FROM assets',
      );
      const events = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM asset_events WHERE actor = 'demo-seed'`,
      );
      const enrolled = await client.query<{ id: string }>(
        'SELECT mdm_device_id AS id FROM assets WHERE mdm_device_id IS NOT NULL',
      );
      return { ...rows[0]!, seedEvents: events.rows[0]!.n, enrolled: enrolled.rows.map((r) => r.id) };
    } finally {
      await client.end();
    }
  }

  async function mdmDeviceIds(): Promise<string[]> {
    const res = await fetch(mdm('/devices'), { headers: { authorization: `Bearer ${MDM_KEY}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { devices: { id: string }[] };
    return body.devices.map((d) => d.id);
  }

  /**
   * Fresh free ports for the next start, and its environment. A start long after the ports were picked
   * could find one taken meanwhile by another test file (a free port is only free when it is asked for).
   */
  async function usePorts(): Promise<void> {
    const [apiPort, pgPort, temporalPort, uiPort, mdmPort, smtpPort, mailHttpPort, metricsPort] =
      await distinctFreePorts(8);
    ports = {
      api: apiPort!,
      pg: pgPort!,
      temporal: temporalPort!,
      ui: uiPort!,
      mdm: mdmPort!,
      smtp: smtpPort!,
      mailHttp: mailHttpPort!,
      metrics: metricsPort!,
    };
    env = {
      ...process.env,
      NODE_ENV: 'development',
      DATA_DIR: dataDir,
      PORT: String(ports.api),
      DATABASE_URL: dbUrl(),
      TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
      TEMPORAL_UI_PORT: String(ports.ui),
      MDM_BASE_URL: `http://127.0.0.1:${ports.mdm}`,
      MDM_API_KEY: MDM_KEY,
      SMTP_URL: `smtp://127.0.0.1:${ports.smtp}`,
      SMTP_SINK_HTTP_PORT: String(ports.mailHttp),
      WORKER_METRICS_PORT: String(ports.metrics),
      API_TOKENS: `${ADMIN_TOKEN}=admin@test:admin,local-stack-test-field-token=field@test:field-staff`,
    };
    delete env.LOCAL_STACK_STARTED_AT;
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'device-lifecycle-local-stack-'));
    await usePorts();
  });

  afterAll(async () => {
    if (stack && isAlive(stack.child)) {
      await stopStack(stack, PATIENCE_MS).catch(() => process.kill(-stack!.child.pid!, 'SIGKILL'));
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts, serves seeded data, stops on SIGINT, and comes back on the same data', async () => {
    // --- first start: fresh data folder
    stack = startStack(env);
    const firstSeconds = await stack.ready;
    const banner = stack.output();
    expect(banner).toContain(`http://127.0.0.1:${ports.api}/api/v1`);
    expect(banner).toContain(`http://127.0.0.1:${ports.ui}`);
    expect(banner).toContain(`http://127.0.0.1:${ports.mdm}/openapi.json`);
    expect(banner).toContain(`http://127.0.0.1:${ports.mailHttp}/messages`);
    expect(banner).toContain(ADMIN_TOKEN);
    expect(banner).toContain('local-stack-test-field-token');

    expect((await fetch(api('/healthz'))).status).toBe(200);
    const readyz = await fetch(api('/readyz'));
    expect(readyz.status, await readyz.clone().text()).toBe(200);
    expect((await fetch(mdm('/openapi.json'))).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${ports.mailHttp}/messages`)).status).toBe(200);

    const before = await dbCounts();
    expect(before.assets).toBeGreaterThanOrEqual(50);
    expect(before.departments).toBeGreaterThanOrEqual(3);
    expect(before.locations).toBeGreaterThanOrEqual(3);
    const devices = await mdmDeviceIds();
    expect(devices.length).toBeGreaterThanOrEqual(50);
    // Present in both: every asset the database says is enrolled is a device in the MDM.
    expect(devices).toEqual(expect.arrayContaining(before.enrolled));

    // The API's asset list (when the route is there; PostgreSQL above is the check either way).
    const assets = await fetch(api('/assets?limit=100'), { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    if (assets.status !== 404) {
      expect(assets.status, await assets.clone().text()).toBe(200);
      const page = (await assets.json()) as { items: { assetNumber: string }[] };
      expect(page.items.length).toBe(before.assets);
    }

    // A workflow, to see it survive the restart (Temporal's SQLite file in the data folder).
    const started = await fetch(api('/devices/A-000001/change-user'), {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        reason: 'local stack test',
        plannedCollectionDate: new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10),
        storageLocation: 'Test storage',
      }),
    });
    expect(started.status, await started.clone().text()).toBe(201);

    // --- Ctrl-C
    const stopped = await stopStack(stack, PATIENCE_MS);
    // npx re-raises the SIGINT on itself once its child has exited; the stack itself exits 0.
    expect(stopped.code === 0 || stopped.signal === 'SIGINT', JSON.stringify(stopped)).toBe(true);
    const shutdownLog = stack.output().slice(stack.output().indexOf('SIGINT received'));
    expect(shutdownLog).toMatch(/everything stopped in/);
    expect(shutdownLog).not.toMatch(/unexpectedly|killing what is left|failed/);
    const order = ['api', 'worker', 'mail', 'mdm', 'temporal', 'postgres'].map((n) =>
      shutdownLog.indexOf(`stopped ${n} (`),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // Nothing left behind: the supervisor runs in its own process group, so check the ports themselves
    // (the kernel frees a port a moment after its process has gone).
    const taken = async () => {
      const free = await Promise.all(Object.values(ports).map(portIsFree));
      return Object.values(ports).filter((_, i) => !free[i]);
    };
    await expect.poll(taken).toEqual([]);

    // --- second start on the same data
    stack = startStack(env);
    const secondSeconds = await stack.ready;
    expect(stack.output()).toMatch(/demo data: \d+ assets \(0 new\), \d+ MDM devices \(0 new\)/);
    const after = await dbCounts();
    expect(after.assets).toBe(before.assets);
    expect(after.seedEvents).toBe(before.seedEvents);
    expect((await mdmDeviceIds()).length).toBe(devices.length);
    const assetsAgain = await fetch(api('/assets?limit=100'), { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    if (assetsAgain.status !== 404)
      expect(((await assetsAgain.json()) as { items: unknown[] }).items.length).toBe(before.assets);
    const workflow = await fetch(api('/workflows/device-A-000001'), {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(workflow.status, await workflow.clone().text()).toBe(200);

    const stoppedAgain = await stopStack(stack, PATIENCE_MS);
    expect(stoppedAgain.code === 0 || stoppedAgain.signal === 'SIGINT').toBe(true);
    console.log(
      `[localStack.test] ready in ${firstSeconds} s (fresh data), ${secondSeconds} s (restart); stopped in ${stopped.ms} / ${stoppedAgain.ms} ms`,
    );
  });

  it('heals itself: a worker killed mid-process is restarted and the process completes; PostgreSQL and Temporal come back', async () => {
    await usePorts(); // same data, new ports: the first test's may have been taken since
    stack = startStack(env);
    await stack.ready;
    const running = stack;
    const out = () => running.output();
    const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const lastPid = (pattern: RegExp) => Number([...out().matchAll(pattern)].at(-1)?.[1]);
    const workerPid = () => lastPid(/serving task queue .*\(pid (\d+)/g);
    const count = (text: string) => out().split(text).length - 1;

    // An enrolled device in use, not the one the first test left waiting.
    const client = new pg.Client({ connectionString: dbUrl() });
    await client.connect();
    const { rows } = await client
      .query<{ asset: string; device: string }>(
        `SELECT asset_number AS asset, mdm_device_id AS device FROM assets
          WHERE status = 'in_use' AND mdm_device_id IS NOT NULL AND asset_number <> 'A-000001'
          ORDER BY asset_number LIMIT 1`,
      )
      .finally(() => client.end());
    const { asset, device } = rows[0]!;

    const workflow = async (id: string) => {
      const res = await fetch(api(`/workflows/${id}`), { headers });
      return res.status === 200 ? ((await res.json()) as { step?: string; currentStep?: string; status?: string }) : {};
    };
    const stepOf = async (id: string) => {
      const w = await workflow(id);
      return w.step ?? w.currentStep;
    };
    /** A report with its own idempotency key, sent again while the API answers 503 (worker not back yet). */
    const report = async (id: string, event: string, data: Record<string, unknown>) => {
      const body = JSON.stringify({ data, idempotencyKey: `local-stack-${event}-${Date.now()}` });
      await expect
        .poll(async () => {
          const res = await fetch(api(`/workflows/${id}/events/${event}`), { method: 'POST', headers, body });
          return res.status === 503 ? 503 : `${res.status} ${await res.text()}`;
        })
        .toMatch(/^200 /);
    };

    const started = await fetch(api(`/devices/${asset}/change-user`), {
      method: 'POST',
      headers,
      body: JSON.stringify({
        reason: 'local stack chaos test',
        plannedCollectionDate: new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10),
        storageLocation: 'Test storage',
        newUser: { department: 'Engineering', location: 'Osaka', name: 'Yuki New', email: 'y.new@example.com' },
      }),
    });
    expect(started.status, await started.clone().text()).toBe(201);
    const id = ((await started.json()) as { workflowId: string }).workflowId;
    await expect.poll(() => stepOf(id)).toBe('awaiting-collection');
    await report(id, 'device-collected', { collectedBy: 'Field Tech', storageLocation: 'Shelf 1' });
    // Collected, wiped, removed from the MDM: half-way, waiting for the device to be enrolled again.
    await expect.poll(() => stepOf(id)).toBe('awaiting-reenrollment');

    // --- the worker dies
    const killed = workerPid();
    expect(killed).toBeGreaterThan(0);
    process.kill(killed, 'SIGKILL');
    await expect.poll(() => out()).toContain('worker exited unexpectedly (killed by SIGKILL)');
    await expect.poll(() => workerPid()).not.toBe(killed);
    const back = /worker is back: ready ([\d.]+) s after its restart/.exec(out());
    expect(back, out().slice(-3000)).not.toBeNull();

    // --- the process goes on with the new worker, through the API
    const reEnrolled = await fetch(`http://127.0.0.1:${ports.mdm}/devices/${device}/actions/re-enroll`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MDM_KEY}` },
    });
    expect(reEnrolled.ok, await reEnrolled.clone().text()).toBe(true);
    await report(id, 'device-reenrolled', {});
    await expect.poll(() => stepOf(id)).toBe('awaiting-delivery');
    await report(id, 'device-delivered', { receivedBy: 'Yuki New', signature: SIGNATURE_PNG });
    await expect.poll(async () => (await workflow(id)).status).toBe('completed');

    // --- PostgreSQL dies: restarted on its data; the API's pool reconnects
    const postmaster = Number(readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(postmaster, 'SIGKILL');
    await expect.poll(() => count('postgres is back')).toBe(1);
    await expect.poll(async () => (await fetch(api(`/assets/${asset}`), { headers })).status).toBe(200);

    // --- Temporal dies: restarted on its SQLite file; the worker polls again, the finished process is there
    const temporalPid = lastPid(/Temporal dev server on .*\(pid (\d+)/g);
    process.kill(temporalPid, 'SIGKILL');
    await expect.poll(() => count('temporal is back')).toBe(1);
    await expect.poll(async () => (await fetch(api('/readyz'))).status).toBe(200);
    expect((await workflow(id)).status).toBe('completed');

    expect(out()).not.toMatch(/stopping the stack|start-up failed/);
    const stopped = await stopStack(running, PATIENCE_MS);
    expect(stopped.code === 0 || stopped.signal === 'SIGINT', JSON.stringify(stopped)).toBe(true);
    const shutdownLog = out().slice(out().indexOf('SIGINT received'));
    const order = ['api', 'worker', 'mail', 'mdm', 'temporal', 'postgres'].map((n) =>
      shutdownLog.indexOf(`stopped ${n} (`),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    console.log(`[localStack.test] the killed worker served again ${back![1]} s after its restart`);
  });

  it('names the port and the variable to change when a port is taken', async () => {
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const conflicted = startStack({ ...env, DATA_DIR: path.join(dataDir, 'conflict'), PORT: String(port) });
      const { code } = await conflicted.exit;
      expect(code).not.toBe(0);
      expect(conflicted.output()).toContain(`port ${port} for the API on 127.0.0.1 is already in use`);
      expect(conflicted.output()).toContain(`PORT=${port + 1}`);
    } finally {
      blocker.close();
    }
  });
});
