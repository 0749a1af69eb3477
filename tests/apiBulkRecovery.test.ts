/**
 * Bulk recovery (POST /workflows/retry, POST /workflows/abort) on real parts: the API, the shared Temporal
 * dev server, a worker with the real activities, PostgreSQL and the MDM emulator. Processes are parked in
 * needs-attention the way production parks them: the MDM refuses a command (HTTP 400, which no retry can
 * fix), at the wipe of a change of user or at the request of an inactivation, in two departments.
 *
 * Shown: admins only; an empty, unknown or bad filter is a 400 naming the field; a dry run lists the
 * matches and changes nothing; a limit cuts the answer and says where to go on; a retry with a filter
 * moves exactly the matching processes (the others stay in needs-attention) and each records its retry,
 * attributed to the admin; the same request sent again with its Idempotency-Key acts on nothing twice,
 * even when the process is parked again by then (and a new key does act); a process that is not in
 * needs-attention any more is skipped with the reason; an abort with a reason ends the matching ones.
 */
import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import type { OpenTask } from '../activities/contracts';
import * as eventsRepo from '../db/assetEventsRepo';
import * as tasksRepo from '../db/tasksRepo';
import { stateQuery, workflowIdFor } from '../workflows/definitions';
import { TOKEN_ACTORS, TOKENS } from './support/apiHarness';
import { newAssetNumber, PATIENCE_MS } from './support/fixtures';
import { startChangeUserThroughApi, useHarnessWithApi } from './support/suite';

const { h, api } = useHarnessWithApi();

/** Only this file's devices are in these departments (the database is the file's own, but be plain). */
const SALES = `Sales ${randomUUID().slice(0, 6)}`;
const LEGAL = `Legal ${randomUUID().slice(0, 6)}`;

interface Parked {
  assetNumber: string;
  workflowId: string;
  handle: WorkflowHandle;
  mdmDeviceId: string;
}

interface Row {
  workflowId: string;
  assetNumber: string;
  failedStep: string | null;
  errorKind: string;
  outcome: string;
  error?: { code: string; message: string };
}

const admin = (body: unknown, headers: Record<string, string> = {}) => ({ token: TOKENS.admin, body, headers });
const retry = (body: unknown, headers?: Record<string, string>) =>
  api.call('POST', '/api/v1/workflows/retry', admin(body, headers));
const abort = (body: unknown, headers?: Record<string, string>) =>
  api.call('POST', '/api/v1/workflows/abort', admin(body, headers));

/** The MDM refuses the next `count` commands to the device with a 400: no retry can fix that. */
function refuseCommands(mdmDeviceId: string, count = 1) {
  return h.emulator.addFault({
    kind: 'error',
    status: 400,
    count,
    method: 'POST',
    pathPrefix: `/devices/${mdmDeviceId}/commands`,
  });
}

/** Waits until the task index holds the process's admin decision (written right after it parks). */
async function decisionRow(workflowId: string, afterOccurrence = -1): Promise<OpenTask> {
  let row: OpenTask | null = null;
  await expect
    .poll(async () => {
      row = await tasksRepo.get(h.db.pool, workflowId);
      return row?.type === 'admin-decision' && row.occurrence > afterOccurrence;
    })
    .toBe(true);
  return row!;
}

/** Change user whose wipe the MDM refuses (`refusals` times): parked at `wiping`. */
async function parkedAtWipe(department: string, refusals = 1): Promise<Parked> {
  const assetNumber = newAssetNumber();
  const { mdmDeviceId } = await h.seedDevice({ assetNumber, department, location: 'Osaka' });
  const handle = await startChangeUserThroughApi(h, api, assetNumber);
  await refuseCommands(mdmDeviceId, refusals);
  const collected = await api.call('POST', `/api/v1/workflows/${handle.workflowId}/events/device-collected`, {
    token: TOKENS.field,
    body: { data: { collectedBy: 'Aki' } },
  });
  expect(collected.status, JSON.stringify(collected.body)).toBe(200);
  await h.waitForState(handle, (s) => s.status === 'needs-attention' && s.failedStep === 'wiping');
  await decisionRow(handle.workflowId);
  return { assetNumber, workflowId: handle.workflowId, handle, mdmDeviceId };
}

/** An inactivation whose request the MDM refuses: parked at `requesting-inactivation`. */
async function parkedAtInactivation(department: string): Promise<Parked> {
  const assetNumber = newAssetNumber();
  const { mdmDeviceId } = await h.seedDevice({ assetNumber, department, location: 'Kobe' });
  await refuseCommands(mdmDeviceId);
  const res = await api.call('POST', `/api/v1/devices/${assetNumber}/inactivation`, admin({ reason: 'Retire' }));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const handle = api.temporal.workflow.getHandle(workflowIdFor(assetNumber));
  await h.waitForState(handle, (s) => s.status === 'needs-attention' && s.failedStep === 'requesting-inactivation');
  await decisionRow(handle.workflowId);
  return { assetNumber, workflowId: handle.workflowId, handle, mdmDeviceId };
}

const status = async (p: Parked) => (await p.handle.query(stateQuery)).status;
const eventsOf = async (p: Parked, type: string) =>
  (await eventsRepo.listForAsset(h.db.pool, p.assetNumber)).filter((e) => e.eventType === type);
const ids = (rows: Row[]) => rows.map((r) => r.workflowId);
const sorted = (...parked: Parked[]) => parked.map((p) => p.workflowId).sort();

// Parked in the first test. Wipes: a process returned to stock belongs to the IT department by then, so
// these are told apart by asset number; the first is refused twice, so its first retry parks it again.
// Inactivations: two in Sales, one in Legal. One Sales process waits for a person and has no decision.
let wipe1: Parked;
let wipe2: Parked;
let wipe3: Parked;
let sales1: Parked;
let sales2: Parked;
let legal: Parked;
let waiting: Parked;

describe('bulk recovery of processes in needs-attention', () => {
  it('parks processes at different steps in two departments (setup)', async () => {
    [wipe1, wipe2, wipe3, sales1, sales2, legal] = await Promise.all([
      parkedAtWipe(SALES, 2),
      parkedAtWipe(SALES),
      parkedAtWipe(LEGAL),
      parkedAtInactivation(SALES),
      parkedAtInactivation(SALES),
      parkedAtInactivation(LEGAL),
    ]);
    const assetNumber = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber, department: SALES });
    const handle = await startChangeUserThroughApi(h, api, assetNumber);
    waiting = { assetNumber, workflowId: handle.workflowId, handle, mdmDeviceId };
    expect(await tasksRepo.get(h.db.pool, wipe2.workflowId)).toMatchObject({
      failedStep: 'wiping',
      lastError: expect.stringContaining('MDM refused'),
    });
  });

  it('is for admins only, and refuses an empty, unknown or malformed filter naming the field', async () => {
    for (const token of [TOKENS.viewer, TOKENS.field]) {
      for (const path of ['/api/v1/workflows/retry', '/api/v1/workflows/abort']) {
        const res = await api.call('POST', path, { token, body: { filter: { department: SALES }, reason: 'x' } });
        expect(res.status, `${path} ${JSON.stringify(res.body)}`).toBe(403);
      }
    }
    const anonymous = await api.call('POST', '/api/v1/workflows/retry', { body: { filter: { department: SALES } } });
    expect(anonymous.status).toBe(401);
    const refused: [unknown, string][] = [
      [{ filter: {} }, 'filter'],
      [{}, 'filter'],
      [{ filter: { department: SALES, colour: 'red' } }, 'filter.colour'],
      [{ filter: { errorKind: 'gremlins' } }, 'filter.errorKind'],
      [{ filter: { step: 'nowhere' } }, 'filter.step'],
      [{ filter: { assetNumbers: [] } }, 'filter.assetNumbers'],
      [{ filter: { assetNumbers: ['A-12'] } }, 'filter.assetNumbers.0'],
      [{ filter: { department: SALES }, limit: 0 }, 'limit'],
      [{ filter: { department: SALES }, force: true }, 'force'],
    ];
    for (const [body, field] of refused) {
      const res = await retry(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const fields = res.body.error.details.problems.map((p: { field: string }) => p.field);
      expect(fields, JSON.stringify(res.body)).toContain(field);
    }
    // An abort must say why.
    const noReason = await abort({ filter: { department: SALES } });
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.details.problems).toContainEqual(expect.objectContaining({ field: 'reason' }));
    // Nothing of that moved anything.
    for (const p of [wipe1, wipe2, wipe3, sales1, sales2, legal]) expect(await status(p)).toBe('needs-attention');
  });

  it('a dry run lists the matches, each with its step and kind, and changes nothing', async () => {
    const res = await retry({ filter: { department: SALES }, dryRun: true });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ command: 'retry', dryRun: true, matched: 2, acted: 0, truncated: false });
    // The waiting Sales process has no admin decision to act on.
    expect(res.body.results).toEqual(
      [sales1, sales2]
        .map((p) => ({
          workflowId: p.workflowId,
          assetNumber: p.assetNumber,
          failedStep: 'requesting-inactivation',
          errorKind: 'mdm-refused',
          outcome: 'would-retry',
        }))
        .sort((a, b) => a.workflowId.localeCompare(b.workflowId)),
    );
    const wipes = await retry({ filter: { step: 'wiping' }, dryRun: true });
    expect(ids(wipes.body.results)).toEqual(sorted(wipe1, wipe2, wipe3));
    for (const p of [wipe1, wipe2, wipe3, sales1, sales2]) {
      expect(await status(p)).toBe('needs-attention');
      expect(await eventsOf(p, 'retry')).toEqual([]);
    }
    // Cut at a limit, it says so and where to go on; going on gives the rest.
    const first = await retry({ filter: { step: 'wiping' }, dryRun: true, limit: 2 });
    expect(first.body).toMatchObject({ matched: 2, truncated: true });
    expect(first.body.next.after).toBe(first.body.results[1].workflowId);
    const rest = await retry({ filter: { step: 'wiping' }, dryRun: true, limit: 2, after: first.body.next.after });
    expect(rest.body).toMatchObject({ matched: 1, truncated: false });
    expect([...ids(first.body.results), ...ids(rest.body.results)]).toEqual(ids(wipes.body.results));
  });

  it('a retry with a filter moves exactly the matching processes; the others stay in needs-attention', async () => {
    const key = `bulk-retry-${randomUUID()}`;
    const firstDecision = await decisionRow(wipe1.workflowId);
    const filter = { step: 'wiping', errorKind: 'mdm-refused', assetNumbers: [wipe1.assetNumber, wipe2.assetNumber] };
    const res = await retry({ filter, reason: 'MDM permissions fixed' }, { 'Idempotency-Key': key });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ command: 'retry', dryRun: false, matched: 2, acted: 2, duplicate: false });
    expect(res.body.results).toEqual(
      [wipe1, wipe2]
        .map((p) => ({
          workflowId: p.workflowId,
          assetNumber: p.assetNumber,
          failedStep: 'wiping',
          errorKind: 'mdm-refused',
          outcome: 'retried',
        }))
        .sort((a, b) => a.workflowId.localeCompare(b.workflowId)),
    );
    // Retried: the wipe goes out again and the process moves on to the re-enrolment.
    await h.waitForStep(wipe2.handle, 'awaiting-reenrollment');
    // Each records its retry, attributed to the admin, with the reason.
    for (const p of [wipe1, wipe2]) {
      const retries = await eventsOf(p, 'retry');
      expect(retries).toHaveLength(1);
      expect(retries[0]).toMatchObject({ actor: TOKEN_ACTORS.admin, details: { reason: 'MDM permissions fixed' } });
    }
    // Not matched: not listed, another step; they are still waiting for an admin.
    for (const p of [wipe3, sales1, sales2, legal]) {
      expect(await status(p)).toBe('needs-attention');
      expect(await eventsOf(p, 'retry')).toEqual([]);
    }
    expect(await status(waiting)).toBe('running');

    // The MDM refused wipe1's wipe once more: parked again, with a new admin decision.
    await decisionRow(wipe1.workflowId, firstDecision.occurrence);
    await h.waitForState(wipe1.handle, (s) => s.status === 'needs-attention');

    // The same request again: its first answer, and nothing acted twice, though the process is parked again.
    const again = await retry({ filter, reason: 'MDM permissions fixed' }, { 'Idempotency-Key': key });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual({ ...res.body, duplicate: true });
    expect(await status(wipe1)).toBe('needs-attention');
    expect(await eventsOf(wipe1, 'retry')).toHaveLength(1);

    // Even if the API lost the stored answer (its record gone), the per-workflow keys hold: Temporal answers
    // each process's command with the first outcome and the workflow does not retry a second time.
    await h.db.pool.query('DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2', ['bulk-recovery', key]);
    const rerun = await retry({ filter, reason: 'MDM permissions fixed' }, { 'Idempotency-Key': key });
    expect(rerun.status, JSON.stringify(rerun.body)).toBe(200);
    expect(ids(rerun.body.results)).toEqual([wipe1.workflowId]);
    expect(await status(wipe1)).toBe('needs-attention');
    expect(await eventsOf(wipe1, 'retry')).toHaveLength(1);

    // The key with another body is refused, naming what differs.
    const reused = await retry({ filter: { department: LEGAL } }, { 'Idempotency-Key': key });
    expect(reused.status).toBe(409);
    expect(reused.body.error).toMatchObject({ code: 'idempotency-key-reused', details: { differs: ['body'] } });

    // A new key is a new request: it retries the process parked again (and the MDM takes the wipe now).
    const next = await retry({ filter }, { 'Idempotency-Key': `bulk-retry-${randomUUID()}` });
    expect(next.body).toMatchObject({ matched: 1, acted: 1 });
    expect(await eventsOf(wipe1, 'retry')).toHaveLength(2);
    await h.waitForStep(wipe1.handle, 'awaiting-reenrollment');

    // By department: the Legal inactivation moves on, the Sales ones stay.
    const byDepartment = await retry({ filter: { department: LEGAL, process: 'inactivation' } });
    expect(byDepartment.body).toMatchObject({ matched: 1, acted: 1 });
    expect(ids(byDepartment.body.results)).toEqual([legal.workflowId]);
    await h.waitForStep(legal.handle, 'awaiting-removal-profile');
    for (const p of [sales1, sales2, wipe3]) expect(await status(p)).toBe('needs-attention');
  });

  it('a process that left needs-attention after it was matched is skipped with the reason', async () => {
    // The index still names processes the workflows moved on from (a stale or rebuilt index): one row
    // for a process waiting for a person, one for a workflow that does not exist.
    const stale = await tasksRepo.get(h.db.pool, waiting.workflowId);
    const ghost = newAssetNumber();
    const decision = (over: Partial<OpenTask>): OpenTask => ({
      ...stale!,
      type: 'admin-decision',
      step: 'needs-attention',
      expects: [],
      department: LEGAL,
      failedStep: 'returning-to-stock',
      lastError: 'returnToStock: connect ECONNREFUSED 127.0.0.1:5433',
      ...over,
    });
    await tasksRepo.open(h.db.pool, decision({ occurrence: stale!.occurrence + 100 }));
    await tasksRepo.open(
      h.db.pool,
      decision({ workflowId: workflowIdFor(ghost), assetNumber: ghost, runId: randomUUID() }),
    );
    const res = await retry({ filter: { department: LEGAL, step: 'returning-to-stock', errorKind: 'database' } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ matched: 2, acted: 0, counts: { skipped: 2 } });
    const byId = new Map<string, Row>(res.body.results.map((r: Row) => [r.workflowId, r]));
    expect(byId.get(waiting.workflowId)).toMatchObject({
      outcome: 'skipped',
      errorKind: 'database',
      error: { code: 'command-not-allowed', message: expect.stringContaining('needs attention') },
    });
    expect(byId.get(workflowIdFor(ghost))).toMatchObject({ outcome: 'skipped', error: { code: 'not-found' } });
    expect(await status(waiting)).toBe('running');
    expect(await status(wipe3)).toBe('needs-attention');
  });

  it(
    'an abort with a reason ends the matching processes and nothing else',
    async () => {
      const res = await abort({ filter: { department: SALES, process: 'inactivation' }, reason: 'Devices lost' });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ command: 'abort', matched: 2, acted: 2, counts: { aborted: 2 } });
      expect(ids(res.body.results)).toEqual(sorted(sales1, sales2));
      for (const p of [sales1, sales2]) {
        expect((await p.handle.result()).status).toBe('aborted');
        const [aborted, ...more] = await eventsOf(p, 'aborted');
        expect(more).toEqual([]);
        expect(aborted).toMatchObject({ actor: TOKEN_ACTORS.admin, details: { reason: 'Devices lost' } });
        await expect.poll(() => tasksRepo.get(h.db.pool, p.workflowId)).toBeNull();
      }
      expect(await status(wipe3)).toBe('needs-attention');
      // Nothing left to abort in Sales: an answer with no rows, not an error.
      const none = await abort({ filter: { department: SALES, process: 'inactivation' }, reason: 'Devices lost' });
      expect(none.body).toMatchObject({ matched: 0, acted: 0, results: [] });
    },
    PATIENCE_MS * 2,
  );
});
