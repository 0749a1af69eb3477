/**
 * Many processes waiting for people: a bulk start (POST /collections) timed until every process is at
 * the first human step, more campaigns until K processes wait, then the task inbox (GET /tasks) timed
 * and paged through with K open tasks.
 */
import type { Client } from '@temporalio/client';
import { literal } from '../api/workflowList';
import { CHANGE_USER_WORKFLOW } from '../workflows/definitions';
import { collectionBody, unenrolled, type BenchDevice, type Fleet } from './fleet';
import { expectStatus, type ApiAnswer, type ApiClient } from './http';
import { MAX_BULK } from './options';
import { Samples, sleep } from './stats';

export interface PopulationDeps {
  api: ApiClient;
  tokens: { admin: string; field: string };
  client: Client;
  namespace: string;
  taskQueue: string;
  fleet: Fleet;
  log: (line: string) => void;
}

interface BulkRow {
  assetNumber: string;
  result: string;
  workflowId?: string;
}

export interface BulkStart {
  requested: number;
  /** HTTP status of POST /collections: 200 (every row decided) or 202 (starts still running). */
  status: number;
  /** Rows decided in the answer itself. */
  startedInAnswer: number;
  answeredMs: number;
  /** From sending the request until every row was decided (the answer, or GET /bulk/{id} saying done). */
  decidedMs: number;
  started: string[];
  /** Rows not `started` once decided, or still pending when the bench stopped following (lost starts). */
  notStarted: BulkRow[];
  /** The CSV import of its assets, before the start. */
  importMs: number;
}

interface BulkBody {
  bulkId?: string;
  status?: 'done' | 'running';
  results?: BulkRow[];
}

export const BULK_LOCATION = 'Bench bulk';
export const WAITING_LOCATION = 'Bench waiting';

/**
 * Visibility count of this run's campaign processes (the bulk start's and the waiting ones', or one
 * location's) at the first human step.
 */
export async function countAtFirstStep(d: PopulationDeps, location?: string): Promise<number> {
  const clauses = [
    `WorkflowType = ${literal(CHANGE_USER_WORKFLOW)}`,
    `TaskQueue = ${literal(d.taskQueue)}`,
    `ExecutionStatus = 'Running'`,
    `LifecycleStep = 'awaiting-collection'`,
    `Department = ${literal(d.fleet.department)}`,
    location
      ? `Location = ${literal(location)}`
      : `Location IN (${literal(BULK_LOCATION)}, ${literal(WAITING_LOCATION)})`,
  ];
  const res = await d.client.workflowService.countWorkflowExecutions({
    namespace: d.namespace,
    query: clauses.join(' AND '),
  });
  return Number(res.count ?? 0);
}

export interface TaskItem {
  workflowId?: string;
  runId?: string;
  type?: string;
  step?: string;
  expects?: string[];
  assetNumber?: string;
  dueAt?: string;
  stateAvailable?: boolean;
}

/** Items a field worker could not act on: no type, step, expected report, device or due time. */
export function lacksData(t: TaskItem): boolean {
  return (
    !t.workflowId ||
    !t.type ||
    !t.step ||
    !t.expects?.length ||
    !t.assetNumber ||
    !t.dueAt ||
    t.stateAvailable === false
  );
}

interface TaskPage {
  items: TaskItem[];
  nextCursor: string | null;
}

export interface InboxWalk {
  pages: number;
  items: number;
  distinct: Set<string>;
  duplicates: number;
  withoutData: number;
  latencies: Samples;
  complete: boolean;
}

/** Pages through GET /tasks (limit 200) to the end, bounded in pages and time. */
export async function walkInbox(d: PopulationDeps, query: string, maxPages: number, timeoutMs: number) {
  const walk: InboxWalk = {
    pages: 0,
    items: 0,
    distinct: new Set(),
    duplicates: 0,
    withoutData: 0,
    latencies: new Samples(),
    complete: false,
  };
  const deadline = Date.now() + timeoutMs;
  let cursor: string | null = null;
  while (walk.pages < maxPages && Date.now() < deadline) {
    const path: string = `/tasks?limit=200${query ? `&${query}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res: ApiAnswer<TaskPage> = await d.api.call<TaskPage>('GET', path, {
      token: d.tokens.field,
    });
    expectStatus(res, 200, `GET ${path}`);
    walk.latencies.add(res.ms);
    walk.pages += 1;
    for (const t of res.body.items) {
      walk.items += 1;
      if (lacksData(t)) walk.withoutData += 1;
      if (!t.workflowId) continue;
      if (walk.distinct.has(t.workflowId)) walk.duplicates += 1;
      walk.distinct.add(t.workflowId);
    }
    cursor = res.body.nextCursor;
    if (!cursor) {
      walk.complete = true;
      break;
    }
  }
  return walk;
}

/**
 * Creates a campaign's assets (CSV import) and sends POST /collections. The answer is 200 with every row,
 * or 202 with a bulk id while the starts go on: then `decided` follows GET /bulk/{id} until it is done.
 */
export async function sendCampaign(d: PopulationDeps, devices: BenchDevice[], location: string, timeoutMs: number) {
  const t = Date.now();
  await d.fleet.importCsv(devices, location);
  const importMs = Date.now() - t;
  const assetNumbers = devices.map((x) => x.assetNumber);
  const sentAt = Date.now();
  const res = await d.api.call<BulkBody>('POST', '/collections', {
    token: d.tokens.admin,
    body: collectionBody(assetNumbers),
    timeoutMs: 300_000,
  });
  if (res.status !== 200 && res.status !== 202) {
    d.log(`POST /collections answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
  }
  const ok = res.status === 200 || res.status === 202;
  const answerRows = ok ? (res.body.results ?? []) : [];
  const startedInAnswer = answerRows.filter((r) => r.result === 'started').length;
  const finish = (rows: BulkRow[], decidedAt: number): BulkStart => ({
    requested: assetNumbers.length,
    status: res.status,
    startedInAnswer,
    answeredMs: res.ms,
    decidedMs: decidedAt - sentAt,
    started: rows.filter((r) => r.result === 'started' && r.workflowId).map((r) => r.workflowId!),
    notStarted: ok
      ? rows.filter((r) => r.result !== 'started')
      : assetNumbers.map((a) => ({ assetNumber: a, result: `HTTP ${res.status}` })),
    importMs,
  });
  const answer = { status: res.status, answeredMs: res.ms, startedInAnswer, sentAt };
  if (!ok || res.body.status !== 'running' || !res.body.bulkId) {
    return { answer, decided: Promise.resolve(finish(answerRows, Date.now())) };
  }
  const bulkId = res.body.bulkId;
  const decided = (async () => {
    const deadline = sentAt + timeoutMs;
    let rows = answerRows;
    while (Date.now() < deadline) {
      await sleep(500);
      const page = await d.api.call<BulkBody>('GET', `/bulk/${bulkId}`, { token: d.tokens.admin });
      expectStatus(page, 200, `GET /bulk/${bulkId}`);
      rows = page.body.results ?? rows;
      if (page.body.status === 'done') return finish(rows, Date.now());
    }
    return finish(rows, Number.NaN);
  })();
  return { answer, decided };
}

/** A campaign sent and followed until every row is decided. */
export async function startCampaign(
  d: PopulationDeps,
  devices: BenchDevice[],
  location: string,
  timeoutMs: number,
): Promise<BulkStart> {
  return (await sendCampaign(d, devices, location, timeoutMs)).decided;
}

export interface BulkResult {
  start: BulkStart;
  /** Until the visibility count of the campaign at awaiting-collection equals the starts. */
  allAtStepMs: number;
  /** Until every started process's task is in the inbox (GET /tasks filtered to the campaign). */
  allInInboxMs: number;
  reachedStep: number;
  inInbox: number;
  enrolMs: number;
}

/** Bulk start of `size` enrolled devices, timed until all are at the first human step. */
export async function bulkStart(d: PopulationDeps, size: number, timeoutMs: number): Promise<BulkResult> {
  const location = BULK_LOCATION;
  const t = Date.now();
  const devices = await d.fleet.enrol(d.fleet.take(size));
  const enrolMs = Date.now() - t;
  const sent = await sendCampaign(d, devices, location, timeoutMs);
  const t0 = sent.answer.sentAt;
  d.log(
    `POST /collections with ${size}: HTTP ${sent.answer.status} in ${(sent.answer.answeredMs / 1000).toFixed(2)} s, ` +
      `${sent.answer.startedInAnswer} started in the answer`,
  );
  let start: BulkStart | undefined;
  const decided = sent.decided.then((b) => {
    start = b;
    d.log(`  every row decided after ${(b.decidedMs / 1000).toFixed(1)} s: ${b.started.length} started`);
    return b;
  });
  // Handled here; a failure to follow the request is thrown where it is awaited below.
  decided.catch(() => undefined);
  let expected = new Set<string>();
  let allAtStepMs = Number.NaN;
  let allInInboxMs = Number.NaN;
  let reachedStep = 0;
  let inInbox = 0;
  let lastInboxCheck = 0;
  let lastLog = Date.now();
  const deadline = t0 + timeoutMs;
  while (Date.now() < deadline && (Number.isNaN(allAtStepMs) || Number.isNaN(allInInboxMs))) {
    if (start && expected.size === 0) expected = new Set(start.started);
    // Until every row is decided, "all" is not known yet.
    const all = start ? expected.size : Infinity;
    reachedStep = await countAtFirstStep(d, location);
    if (Number.isNaN(allAtStepMs) && reachedStep >= all) allAtStepMs = Date.now() - t0;
    // Paging the inbox costs requests: once the count says all are there, else every 5 s.
    if (Number.isNaN(allInInboxMs) && (reachedStep >= all || Date.now() - lastInboxCheck > 5_000)) {
      lastInboxCheck = Date.now();
      const walk = await walkInbox(
        d,
        `type=collect-device&department=${encodeURIComponent(d.fleet.department)}&location=${encodeURIComponent(location)}`,
        Math.ceil(size / 200) + 20,
        60_000,
      );
      inInbox = start ? [...walk.distinct].filter((id) => expected.has(id)).length : walk.distinct.size;
      if (inInbox >= all) allInInboxMs = Date.now() - t0;
    }
    if (Date.now() - lastLog > 10_000) {
      d.log(
        `  +${((Date.now() - t0) / 1000).toFixed(0)} s: ${reachedStep}/${expected.size} at awaiting-collection, ${inInbox} in the inbox`,
      );
      lastLog = Date.now();
    }
    await sleep(1_000);
  }
  return { start: start ?? (await decided), allAtStepMs, allInInboxMs, reachedStep, inInbox, enrolMs };
}

export interface WaitingResult {
  target: number;
  started: number;
  reached: number;
  campaigns: BulkStart[];
  fillMs: number;
  outOfTime: boolean;
  workflowIds: string[];
}

/**
 * More campaigns (no MDM enrolment: these processes wait at the first step) until `target` processes of
 * this run wait at awaiting-collection, `alreadyWaiting` counted. At most about one campaign is in flight
 * (the next starts when the previous one is mostly at its step), within `budgetMs`.
 */
export async function fillWaiting(
  d: PopulationDeps,
  target: number,
  alreadyWaiting: string[],
  budgetMs: number,
): Promise<WaitingResult> {
  const t0 = Date.now();
  const deadline = t0 + budgetMs;
  const campaigns: BulkStart[] = [];
  const workflowIds = [...alreadyWaiting];
  let reached = await countAtFirstStep(d);
  let lastLog = 0;
  while (workflowIds.length < target && Date.now() < deadline) {
    // Pacing: wait until less than one campaign's worth is still on its way to the first step.
    while (workflowIds.length - reached > MAX_BULK / 2 && Date.now() < deadline) {
      await sleep(1_000);
      reached = await countAtFirstStep(d);
    }
    if (Date.now() >= deadline) break;
    const size = Math.min(MAX_BULK, target - workflowIds.length);
    const campaign = await startCampaign(
      d,
      unenrolled(d.fleet.take(size)),
      WAITING_LOCATION,
      Math.max(60_000, deadline - Date.now()),
    );
    campaigns.push(campaign);
    workflowIds.push(...campaign.started);
    if (campaign.started.length === 0)
      throw new Error(`a campaign of ${size} started nothing (HTTP ${campaign.status})`);
    reached = await countAtFirstStep(d);
    if (Date.now() - lastLog > 10_000) {
      d.log(
        `  +${((Date.now() - t0) / 1000).toFixed(0)} s: ${workflowIds.length} started, ${reached} waiting at awaiting-collection ` +
          `(last campaign of ${size} answered in ${(campaign.answeredMs / 1000).toFixed(2)} s)`,
      );
      lastLog = Date.now();
    }
  }
  while (reached < workflowIds.length && Date.now() < deadline) {
    await sleep(2_000);
    reached = await countAtFirstStep(d);
    if (Date.now() - lastLog > 10_000) {
      d.log(
        `  +${((Date.now() - t0) / 1000).toFixed(0)} s: ${reached}/${workflowIds.length} waiting at awaiting-collection`,
      );
      lastLog = Date.now();
    }
  }
  return {
    target,
    started: workflowIds.length,
    reached,
    campaigns,
    fillMs: Date.now() - t0,
    outOfTime: reached < target,
    workflowIds,
  };
}

/** `GET /tasks` timed `samples` times, sequentially (one user at a time: the latency, not the throughput). */
export async function timeInbox(d: PopulationDeps, query: string, samples: number): Promise<Samples> {
  const s = new Samples();
  for (let i = 0; i < samples; i++) {
    const res = await d.api.call('GET', `/tasks${query ? `?${query}` : ''}`, { token: d.tokens.field });
    expectStatus(res, 200, `GET /tasks?${query}`);
    s.add(res.ms);
  }
  return s;
}
