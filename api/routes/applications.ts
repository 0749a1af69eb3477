/**
 * Users' applications for a device (seed procedure, "Distribute"): POST records one and hands it to the
 * change-user workflow that has waited longest for a new user (applicationHandoff.ts); GET lists the
 * pending ones (oldest first, the order they are served in) and shows one in any state.
 */
import { Router } from 'express';
import { z } from 'zod';
import * as applicationsRepo from '../../db/applicationsRepo';
import { applicationInputSchema } from '../../db/types';
import { handOff } from '../applicationHandoff';
import { actorOf, REPORTERS, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { poolOf } from '../databasePool';
import { dbCall } from '../dbErrors';
import { invalidInput, notFound } from '../errors';
import { idempotent, REPLAYED_HEADER } from '../idempotentRequests';
import { filterText } from '../queryFilters';
import { parseBody, parseQuery } from '../validation';
import { idempotencyKeyFor } from '../workflowUpdates';

/** What a client sends; who created it and the idempotency key come from the request, not the body. */
export const applicationBody = applicationInputSchema.omit({ createdBy: true, idempotencyKey: true });

export const listApplicationsQuery = z.strictObject({
  department: filterText.optional(),
  deliveryLocation: filterText.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});

export function applicationsRouter(ctx: ApiContext): Router {
  const router = Router();

  router.post('/applications', requireRole('admin'), async (req, res) => {
    const body = parseBody(applicationBody, req);
    const actor = actorOf(res);
    const idempotencyKey = idempotencyKeyFor(req, undefined);
    const pool = poolOf(ctx);
    // The repository answers a repeat (`replayed`); the record refuses the key for another application.
    const sent = { scope: 'application', key: idempotencyKey, request: { route: 'POST /applications' }, body };
    const a = await idempotent(pool, { ...sent, waitMs: ctx.updateTimeoutMs, replay: 'rerun' }, async () => {
      const { application, created } = await dbCall(
        applicationsRepo.create(pool, { ...body, createdBy: actor.id, idempotencyKey }),
      );
      const result = await handOff(
        { pool, temporal: ctx.temporal, taskQueue: ctx.taskQueue, updateTimeoutMs: ctx.updateTimeoutMs },
        application,
        actor,
      );
      const current = (await dbCall(applicationsRepo.get(pool, application.id))) ?? application;
      return {
        status: created ? 201 : 200,
        body: { application: current, ...result, replayed: !created, idempotencyKey },
      };
    });
    if (a.replayed) res.set(REPLAYED_HEADER, 'true');
    const { application } = a.body as { application: { id: string } };
    res.status(a.status).location(`/api/v1/applications/${application.id}`).json(a.body);
  });

  router.get('/applications', requireRole(...REPORTERS), async (req, res) => {
    const { limit, cursor, ...filters } = parseQuery(listApplicationsQuery, req);
    res.json(await dbCall(applicationsRepo.listPending(poolOf(ctx), { limit, cursor, filters })));
  });

  router.get('/applications/:id', requireRole(...REPORTERS), async (req, res) => {
    const id = String(req.params.id ?? '');
    if (!applicationsRepo.isApplicationId(id))
      throw invalidInput('invalid path', [{ field: 'id', problem: 'must be an application id (a UUID)' }]);
    const application = await dbCall(applicationsRepo.get(poolOf(ctx), id));
    if (!application) throw notFound('application', id);
    res.json(application);
  });

  return router;
}
