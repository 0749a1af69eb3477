/**
 * Starting a campaign: one process per asset, with one row per asset number given, in input order, so
 * one busy or unknown device never hides what happened to the others.
 *
 * Every asset number is checked first (format, repeats), the known ones are looked up in one query, and
 * only then do the workflow starts run, BULK_START_CONCURRENCY at a time (one start call each; a busy
 * device costs one describe more, to name what it is busy with). The request and its rows are stored, so
 * its results can be read back (GET /bulk/{bulkId}). How fast a thousand starts go is up to the Temporal
 * server (its persistence writes each one), not to the API: if they are not all decided within
 * BULK_SYNC_WAIT_MS the answer is 202 with the rows decided so far and the others `pending`, and the starts
 * go on, their results written to the store in batches as they come.
 */
import type { ApiContext } from './context';
import { mapBounded } from './concurrency';
import type { Logger } from './errors';
import { startForAsset, unknownAsset, type StartOutcome, type StartPlan } from './lifecycleStarts';
import type { AssetSummary, BulkRequestStore } from './ports';
import { ASSET_NUMBER_PATTERN } from './schemas';
import type { BulkItem, BulkKind } from '../db/bulkRequestsRepo';

export type BulkRow = BulkItem;

export interface BulkAnswer {
  /** 200 when every row is decided, 202 when starts are still running (read the rest at GET /bulk/{id}). */
  httpStatus: 200 | 202;
  body: {
    /** Absent only where no store is configured (in-memory ports): the request then waits for every start. */
    bulkId?: string;
    status: 'done' | 'running';
    total: number;
    counts: Record<string, number>;
    results: BulkRow[];
  };
}

/** Malformed and repeated asset numbers are decided up front; each repeat after the first is invalid. */
export function precheck(assetNumbers: readonly string[]): (BulkRow | undefined)[] {
  const seen = new Map<string, number>();
  return assetNumbers.map((assetNumber, i) => {
    if (!ASSET_NUMBER_PATTERN.test(assetNumber)) {
      return {
        assetNumber,
        result: 'invalid',
        error: { code: 'invalid-asset-number', message: 'must be an asset number like A-000123' },
      };
    }
    const first = seen.get(assetNumber);
    if (first !== undefined) {
      return {
        assetNumber,
        result: 'invalid',
        error: { code: 'duplicate', message: `repeats assetNumbers[${first}]` },
      };
    }
    seen.set(assetNumber, i);
    return undefined;
  });
}

function rowOf(assetNumber: string, outcome: StartOutcome): BulkRow {
  switch (outcome.result) {
    case 'started':
      return { assetNumber, result: 'started', workflowId: outcome.workflowId, runId: outcome.runId };
    case 'unknown-asset':
      return { assetNumber, result: 'unknown-asset', error: { code: 'not-found', message: outcome.message } };
    case 'busy':
      return {
        assetNumber,
        result: 'busy',
        workflowId: outcome.workflowId,
        error: { code: 'device-busy', message: outcome.message, details: { running: outcome.running } },
      };
    case 'unsupported-platform':
      return {
        assetNumber,
        result: 'invalid',
        error: {
          code: 'platform-not-supported',
          message: outcome.message,
          details: { platform: outcome.platform, supported: outcome.supported },
        },
      };
  }
}

async function startOne(ctx: ApiContext, asset: AssetSummary, plan: StartPlan): Promise<BulkRow> {
  try {
    return rowOf(asset.assetNumber, await startForAsset(ctx, asset, plan));
  } catch (err) {
    // One failed start (Temporal hiccup) must not lose the rows already started: report it in its row.
    ctx.logger.error(`[api] bulk start of ${asset.assetNumber} failed:`, err);
    return {
      assetNumber: asset.assetNumber,
      result: 'error',
      error: { code: 'start-failed', message: 'could not start; retry this asset' },
    };
  }
}

/**
 * Writes decided rows to the store in batches (at most one write in flight), and marks the request alive
 * at least every few seconds while starts run. A failed write is kept and tried again with the next one.
 */
class ResultWriter {
  private waiting = new Map<number, BulkRow>();
  private writing: Promise<void> = Promise.resolve();
  private lastWrite = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly store: BulkRequestStore,
    private readonly id: string,
    private readonly logger: Logger,
    everyMs = 500,
    private readonly aliveEveryMs = 5_000,
  ) {
    this.timer = setInterval(() => void this.flush(), everyMs);
    this.timer.unref();
  }

  decided(position: number, row: BulkRow): void {
    this.waiting.set(position, row);
  }

  flush(): Promise<void> {
    this.writing = this.writing.then(async () => {
      if (this.waiting.size === 0 && Date.now() - this.lastWrite < this.aliveEveryMs) return;
      const batch = [...this.waiting].map(([position, item]) => ({ position, item }));
      this.waiting.clear();
      try {
        await this.store.record(this.id, batch);
        this.lastWrite = Date.now();
      } catch (err) {
        for (const { position, item } of batch) if (!this.waiting.has(position)) this.waiting.set(position, item);
        this.logger.warn(`[api] bulk ${this.id}: results not written yet (${batch.length}); trying again:`, err);
      }
    });
    return this.writing;
  }

  /** Writes what is left (trying a few times) and marks the request finished. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    for (let attempt = 0; attempt < 5; attempt++) {
      await this.flush();
      if (this.waiting.size === 0) break;
      await new Promise((r) => setTimeout(r, 1_000 * (attempt + 1)));
    }
    if (this.waiting.size > 0) throw new Error(`${this.waiting.size} results could not be written`);
    await this.store.finish(this.id);
  }
}

function summary(rows: readonly BulkRow[]) {
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.result] = (counts[r.result] ?? 0) + 1;
  return { total: rows.length, counts, results: [...rows] };
}

/** A device the plan refuses before anything starts (e.g. a campaign device with no planned date). */
export interface PlanRefusal {
  refused: { code: string; message: string; details?: unknown };
}

export type PlanFor = (assetNumber: string, asset: AssetSummary) => StartPlan | PlanRefusal;

/** A bulk request of a collection campaign (DESIGN §3.1): how its devices were chosen, kept with its rows. */
export interface CampaignRequest {
  campaign: Record<string, unknown>;
}

/** What a campaign keeps per device: the date its process is started with, and where the device was. */
function campaignDevice(asset: AssetSummary | undefined, plan: StartPlan | PlanRefusal | undefined) {
  if (!asset) return null;
  const plannedDate =
    plan && 'process' in plan && plan.process === 'change-user' ? plan.input.plannedCollectionDate : null;
  return { plannedDate: plannedDate?.slice(0, 10) ?? null, department: asset.department, location: asset.location };
}

export async function runBulk(
  ctx: ApiContext,
  request: { kind: BulkKind; requestedBy: string; assetNumbers: readonly string[] } & Partial<CampaignRequest>,
  planFor: PlanFor,
): Promise<BulkAnswer> {
  const { assetNumbers } = request;
  const pre = precheck(assetNumbers);
  // Only well-formed first occurrences reach the database, all in one query.
  const assets = await ctx.db.assets.getMany(assetNumbers.filter((_, i) => !pre[i]));
  const plans = assetNumbers.map((assetNumber, i) => {
    const asset = pre[i] ? undefined : assets.get(assetNumber);
    return asset ? planFor(assetNumber, asset) : undefined;
  });
  const rows: BulkRow[] = assetNumbers.map((assetNumber, i) => {
    const plan = plans[i];
    if (pre[i]) return pre[i];
    if (!plan) return rowOf(assetNumber, unknownAsset(assetNumber));
    if ('refused' in plan) return { assetNumber, result: 'invalid', error: plan.refused };
    return { assetNumber, result: 'pending' };
  });
  const toStart = rows.flatMap((r, i) => (r.result === 'pending' ? [i] : []));

  const store = ctx.db.bulkRequests;
  const campaign = request.campaign
    ? {
        campaign: request.campaign,
        devices: assetNumbers.map((n, i) => campaignDevice(pre[i] ? undefined : assets.get(n), plans[i])),
      }
    : undefined;
  const bulkId = store
    ? await store.create({
        kind: request.kind,
        requestedBy: request.requestedBy,
        items: rows,
        ...(campaign ? { campaign } : {}),
      })
    : undefined;
  const writer = store && bulkId ? new ResultWriter(store, bulkId, ctx.logger) : undefined;
  const starts = mapBounded(toStart, ctx.config.BULK_START_CONCURRENCY, async (i) => {
    const assetNumber = assetNumbers[i]!;
    const plan = plans[i] as StartPlan;
    rows[i] = await startOne(
      ctx,
      assets.get(assetNumber)!,
      campaign && bulkId ? { ...plan, campaignId: bulkId } : plan,
    );
    writer?.decided(i, rows[i]);
  });
  if (!writer) {
    await starts;
    return { httpStatus: 200, body: { status: 'done', ...summary(rows) } };
  }
  const stored = starts.then(() => writer.close());

  let timer: NodeJS.Timeout | undefined;
  const inTime = await Promise.race([
    starts.then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ctx.config.BULK_SYNC_WAIT_MS);
    }),
  ]);
  clearTimeout(timer);
  if (inTime) {
    // Answered once the results are stored too, so GET /bulk/{id} agrees with this answer at once. The
    // answer holds every result either way: a store that fails now costs the read-back, not the answer.
    await stored.catch((err: unknown) => ctx.logger.error(`[api] bulk ${bulkId}: results could not be stored:`, err));
    return { httpStatus: 200, body: { bulkId, status: 'done', ...summary(rows) } };
  }
  stored.catch((err: unknown) => ctx.logger.error(`[api] bulk ${bulkId}: results could not be stored:`, err));
  return { httpStatus: 202, body: { bulkId, status: 'running', ...summary(rows) } };
}
