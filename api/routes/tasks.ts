/** The task inbox: GET /tasks for field staff and admins (see taskInbox.ts for where tasks come from). */
import { Router } from 'express';
import { REPORTERS, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { listTasks, listTasksQuery } from '../taskInbox';
import { temporalUnavailable } from '../temporalErrors';
import { parseQuery } from '../validation';

export function tasksRouter(ctx: ApiContext): Router {
  const router = Router();
  router.get('/tasks', requireRole(...REPORTERS), async (req, res) => {
    const q = parseQuery(listTasksQuery, req);
    const deps = {
      temporal: ctx.temporal,
      namespace: ctx.namespace,
      taskQueue: ctx.taskQueue,
      queryTimeoutMs: ctx.queryTimeoutMs,
      now: ctx.clock(),
    };
    try {
      res.json(await listTasks(deps, q));
    } catch (err) {
      throw temporalUnavailable(err) ?? err;
    }
  });
  return router;
}
