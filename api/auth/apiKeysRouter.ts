/**
 * Admin HTTP routes for API keys (the same operations as `npm run api-key`). The key is in the response
 * to POST only, once, marked no-store so no cache keeps it.
 */
import { Router, type Request } from 'express';
import type pg from 'pg';
import { z } from 'zod';
import { API_ROLES } from '../../config/env';
import * as apiKeysRepo from '../../db/apiKeysRepo';
import { InvalidCursorError, InvalidInputError } from '../../db/types';
import type { ApiContext } from '../context';
import { ApiError, invalidInput } from '../errors';
import { parseBody, parseQuery } from '../validation';
import { actorOf, requireRole } from './middleware';

const DAY_MS = 86_400_000;

const createBody = z.strictObject({
  actorId: z.string().trim().min(1).max(200),
  role: z.enum(API_ROLES),
  name: z.string().trim().min(1).max(100).optional(),
  expiresInDays: z.number().positive().max(3650).optional(),
});

const listQuery = z.strictObject({
  includeRevoked: z.enum(['true', 'false']).default('false'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(500).optional(),
});

function poolOf(ctx: ApiContext): pg.Pool {
  if (!ctx.db.pool) throw new ApiError(503, 'database-unavailable', 'this API instance has no database configured');
  return ctx.db.pool;
}

function keyRefParam(req: Request): string {
  const ref = typeof req.params.id === 'string' ? req.params.id : '';
  if (!apiKeysRepo.isApiKeyRef(ref)) {
    throw invalidInput('invalid path', [
      { field: 'id', problem: 'must be an API key id (uuid) or prefix (dlk_ and 8 characters)' },
    ]);
  }
  return ref;
}

/** The repository's typed errors as HTTP answers; anything else stays a 500. */
function fromRepoError(err: unknown): unknown {
  if (err instanceof InvalidInputError)
    return invalidInput(
      'invalid input',
      err.issues.map((i) => ({ field: i.path || '(body)', problem: i.message })),
    );
  if (err instanceof InvalidCursorError)
    return invalidInput('invalid query', [{ field: 'cursor', problem: 'not a cursor from this list' }]);
  if (err instanceof apiKeysRepo.ApiKeyNotFoundError)
    return new ApiError(404, 'not-found', err.message, { apiKey: err.ref });
  if (err instanceof apiKeysRepo.AmbiguousApiKeyError)
    return new ApiError(409, 'ambiguous-prefix', err.message, { ids: err.ids });
  return err;
}

async function orHttpError<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw fromRepoError(err);
  }
}

export function apiKeysRouter(ctx: ApiContext): Router {
  const router = Router();
  router.use('/api-keys', requireRole('admin'));

  router.post('/api-keys', async (req, res) => {
    const body = parseBody(createBody, req);
    const expiresAt = body.expiresInDays ? new Date(ctx.clock().getTime() + body.expiresInDays * DAY_MS) : null;
    const created = await orHttpError(
      apiKeysRepo.create(poolOf(ctx), {
        actorId: body.actorId,
        role: body.role,
        name: body.name,
        createdBy: actorOf(res).id,
        expiresAt,
      }),
    );
    res.set('Cache-Control', 'no-store').status(201).json(created);
  });

  router.get('/api-keys', async (req, res) => {
    const q = parseQuery(listQuery, req);
    res.json(
      await orHttpError(
        apiKeysRepo.list(poolOf(ctx), {
          includeRevoked: q.includeRevoked === 'true',
          limit: q.limit,
          cursor: q.cursor,
        }),
      ),
    );
  });

  router.delete('/api-keys/:id', async (req, res) => {
    const ref = keyRefParam(req);
    res.json(await orHttpError(apiKeysRepo.revoke(poolOf(ctx), ref, actorOf(res).id)));
  });

  return router;
}
