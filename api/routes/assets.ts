/**
 * Assets: the list, one asset with its history, create-or-update, and the CSV import.
 */
import { createHash } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import * as assetEventsRepo from '../../db/assetEventsRepo';
import * as assetsRepo from '../../db/assetsRepo';
import { withTransaction } from '../../db/pool';
import { ASSET_STATUSES, assetInputSchema } from '../../db/types';
import { editRefused, judgeEdit, runningForEdits } from '../assetEdit';
import { exportAssetsCsv } from '../assetExport';
import { ImportRejected, importAssets } from '../assetImport';
import { eventView } from '../assetViews';
import { actorOf, ANY_ROLE, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { csvBody, csvText } from '../csvBody';
import { poolOf } from '../databasePool';
import { dbCall } from '../dbErrors';
import { ApiError, notFound } from '../errors';
import { idempotent } from '../idempotentRequests';
import { filterText } from '../queryFilters';
import { assetNumberParam, parseBody, parseQuery } from '../validation';
import { idempotencyKeyFor } from '../workflowUpdates';

export const listAssetsQuery = z.strictObject({
  status: z.enum(ASSET_STATUSES).optional(),
  plannedStatus: z.enum(ASSET_STATUSES).optional(),
  department: filterText.optional(),
  location: filterText.optional(),
  userEmail: z.email().max(254).optional(),
  limit: z.coerce.number().int().min(1).max(assetsRepo.MAX_PAGE_SIZE).default(50),
  cursor: z.string().max(512).optional(),
});

/**
 * A whole asset; on update, optional fields that are absent stay as they are (null clears them). `version`
 * is the version the edit was based on: required to update an asset that exists, none (or 0) to create
 * one (api/assetEdit.ts).
 */
export const assetBody = assetInputSchema.extend({
  version: z
    .number()
    .int()
    .min(0)
    .max(2_147_483_647)
    .optional()
    .describe('The version the edit was based on: required to change an asset that exists; none (or 0) creates one'),
});

/** History shown with an asset; older events beyond it are still in the database. */
const HISTORY_LIMIT = 1000;

export function assetsRouter(ctx: ApiContext): Router {
  const router = Router();

  router.get('/assets', requireRole(...ANY_ROLE), async (req, res) => {
    const q = parseQuery(listAssetsQuery, req);
    const { limit, cursor, ...filters } = q;
    res.json(await dbCall(assetsRepo.list(poolOf(ctx), { limit, cursor, filters })));
  });

  // Before /assets/:assetNumber, which would take `export.csv` for an asset number.
  router.get('/assets/export.csv', requireRole(...ANY_ROLE), async (req, res) => {
    const { limit: _limit, cursor: _cursor, ...filters } = parseQuery(listAssetsQuery, req);
    const text = await dbCall(exportAssetsCsv(poolOf(ctx), filters));
    res
      .status(200)
      .set({
        'Content-Type': 'text/csv; charset=utf-8; header=present',
        'Content-Disposition': `attachment; filename="assets-${ctx.clock().toISOString().slice(0, 10)}.csv"`,
        // Personal data: no shared caches, and a fresh export every time.
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
      })
      .send(text);
  });

  router.get('/assets/:assetNumber', requireRole(...ANY_ROLE), async (req, res) => {
    const assetNumber = assetNumberParam(req);
    const pool = poolOf(ctx);
    const asset = await dbCall(assetsRepo.get(pool, assetNumber));
    if (!asset) throw notFound('asset', assetNumber);
    const events = await dbCall(assetEventsRepo.listForAsset(pool, assetNumber, HISTORY_LIMIT + 1));
    // Least exposure (api/assetViews.ts): what of the history's personal data this role may see.
    const { role } = actorOf(res);
    res.json({
      asset,
      events: events.slice(0, HISTORY_LIMIT).map((e) => eventView(e, role)),
      eventsTruncated: events.length > HISTORY_LIMIT,
    });
  });

  router.post('/assets', requireRole('admin'), async (req, res) => {
    const body = parseBody(assetBody, req);
    const { version, ...input } = body;
    const actor = actorOf(res);
    const idempotencyKey = idempotencyKeyFor(req, undefined);
    const pool = poolOf(ctx);
    // The audit trail answers a repeat (`applied: false`) and refuses the key for another asset; the
    // record also refuses it for another body of the same asset.
    const sent = { scope: 'asset', key: idempotencyKey, request: { route: 'POST /assets' }, body };
    const a = await idempotent(pool, { ...sent, waitMs: ctx.updateTimeoutMs, replay: 'rerun' }, async () => {
      // Which processes own the asset: a read of Temporal, bounded as the API's other reads of it.
      const running = await dbCall(runningForEdits(ctx.temporal, pool, [input], ctx.queryTimeoutMs));
      const audit = {
        actor: actor.id,
        actorRole: actor.role,
        credential: actor.credential ?? null,
        // Namespaced: the audit trail's keys are shared with the workflows' step keys.
        idempotencyKey: assetWriteKey(idempotencyKey),
        details: { via: 'api' },
      };
      const result = await dbCall(
        withTransaction(pool, async (client) => {
          const current = await assetsRepo.getForUpdate(client, input.assetNumber);
          // A repeat of a request already written is answered by upsert as such, whatever happened since.
          const repeat = current && (await assetEventsRepo.getByIdempotencyKey(client, audit.idempotencyKey));
          if (!repeat) {
            const refusal = await judgeEdit(
              client,
              input.assetNumber,
              current,
              input,
              version,
              running.get(input.assetNumber),
            );
            if (refusal) throw editRefused(refusal);
          }
          const written = await assetsRepo.upsert(client, input, audit);
          // Absent when locked, there by the write: another request created it in between.
          if (!current && !written.created && !repeat) {
            throw new ApiError(
              409,
              'version-required',
              `asset ${input.assetNumber} was created by another request meanwhile; read it and send its version to update it`,
              { assetNumber: input.assetNumber },
            );
          }
          return written;
        }),
      );
      return {
        status: result.created ? 201 : 200,
        body: {
          asset: result.asset,
          created: result.created,
          applied: result.applied,
          event: result.event && eventView(result.event),
          idempotencyKey,
        },
      };
    });
    const { asset } = a.body as { asset: { assetNumber: string } };
    res.status(a.status).location(`/api/v1/assets/${asset.assetNumber}`).json(a.body);
  });

  return router;
}

/**
 * POST /assets/import takes `text/csv`; it is mounted before the app's JSON-only check, and checks the
 * role before reading the body so nobody else can make the server read a large upload.
 */
export function assetImportRouter(ctx: ApiContext): Router {
  const router = Router();
  router.post('/assets/import', requireRole('admin'), ...csvBody(ctx.config.API_IMPORT_LIMIT), async (req, res) => {
    const text = csvText(req);
    const actor = actorOf(res);
    const importKey = idempotencyKeyFor(req, undefined);
    const pool = poolOf(ctx);
    try {
      const runningFor = (edits: Parameters<typeof runningForEdits>[2]) =>
        runningForEdits(ctx.temporal, pool, edits, ctx.queryTimeoutMs);
      res.json(await dbCall(importAssets(pool, text, { actor, importKey }, runningFor)));
    } catch (err) {
      if (!(err instanceof ImportRejected)) throw err;
      const first = err.errors.slice(0, 3).map((e) => `row ${e.row}${e.column ? ` (${e.column})` : ''}: ${e.message}`);
      // Refused only for the assets' state (stale versions, running processes): a conflict, not a bad file.
      const conflict = err.errors.every((e) => e.code && e.code !== 'unknown-asset');
      throw new ApiError(
        conflict ? 409 : 400,
        conflict ? 'import-conflict' : 'invalid-csv',
        `nothing was imported: ${first.join('; ')}${err.errors.length > 3 ? '; ...' : ''}`,
        {
          errors: err.errors,
          truncated: err.truncated,
        },
      );
    }
  });
  return router;
}

/**
 * The audit key of an asset write. A client's key may use all 200 characters the API allows, which the
 * `api:assets:` prefix would push past the audit key's limit: a long key is stored by its SHA-256 instead.
 */
function assetWriteKey(clientKey: string): string {
  const key = `api:assets:${clientKey}`;
  return key.length <= 200 ? key : `api:assets:sha256:${createHash('sha256').update(clientKey).digest('hex')}`;
}
