/**
 * Campaigns: POST /collections (change user for many devices) and POST /inactivations. Each asset gets
 * its own row in the answer, in input order, so one busy or unknown device never hides what happened to
 * the others; the request as a whole succeeds (200) once every row is decided.
 */
import { Router } from 'express';
import { actorOf, requireRole, type Actor } from '../auth';
import type { ApiContext } from '../context';
import { mapBounded } from '../concurrency';
import { changeUserPlan, inactivationPlan, startLifecycle, type StartPlan } from '../lifecycleStarts';
import { ASSET_NUMBER_PATTERN, collectionsBody, inactivationsBody } from '../schemas';
import { checkPlannedDate, parseBody } from '../validation';
import { startDeps } from './devices';

/** Enough parallelism to finish 500 starts quickly without flooding Temporal or the database pool. */
const BULK_CONCURRENCY = 8;

export interface BulkRow {
  assetNumber: string;
  result: 'started' | 'unknown-asset' | 'busy' | 'invalid' | 'error';
  workflowId?: string;
  runId?: string;
  error?: { code: string; message: string; details?: unknown };
}

/** Malformed and repeated asset numbers are decided up front; each repeat after the first is invalid. */
function precheck(assetNumbers: string[]): (BulkRow | undefined)[] {
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

async function startOne(ctx: ApiContext, assetNumber: string, plan: StartPlan): Promise<BulkRow> {
  try {
    const outcome = await startLifecycle(startDeps(ctx), assetNumber, plan);
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
    }
  } catch (err) {
    // One failed start (Temporal hiccup) must not lose the rows already started: report it in its row.
    ctx.logger.error(`[api] bulk start of ${assetNumber} failed:`, err);
    return {
      assetNumber,
      result: 'error',
      error: { code: 'start-failed', message: 'could not start; retry this asset' },
    };
  }
}

async function runBulk(ctx: ApiContext, assetNumbers: string[], planFor: (assetNumber: string) => StartPlan) {
  const pre = precheck(assetNumbers);
  const results = await mapBounded(assetNumbers, BULK_CONCURRENCY, (assetNumber, i) =>
    pre[i] ? Promise.resolve(pre[i]) : startOne(ctx, assetNumber, planFor(assetNumber)),
  );
  const counts: Record<string, number> = {};
  for (const r of results) counts[r.result] = (counts[r.result] ?? 0) + 1;
  return { total: results.length, counts, results };
}

export function bulkRouter(ctx: ApiContext): Router {
  const router = Router();

  router.post('/collections', requireRole('admin'), async (req, res) => {
    const { assetNumbers, ...body } = parseBody(collectionsBody, req);
    checkPlannedDate(body.plannedCollectionDate, ctx.clock());
    const actor: Actor = actorOf(res);
    res.status(200).json(await runBulk(ctx, assetNumbers, (a) => changeUserPlan(a, body, actor, ctx.config)));
  });

  router.post('/inactivations', requireRole('admin'), async (req, res) => {
    const { assetNumbers, ...body } = parseBody(inactivationsBody, req);
    const actor: Actor = actorOf(res);
    res.status(200).json(await runBulk(ctx, assetNumbers, (a) => inactivationPlan(a, body, actor, ctx.config)));
  });

  return router;
}
