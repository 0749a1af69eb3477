/** The task inbox: GET /tasks for field staff and admins (see taskInbox.ts for where tasks come from). */
import { Router } from 'express';
import { REPORTERS, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { poolOf } from '../databasePool';
import { dbCall } from '../dbErrors';
import { listTasks, listTasksQuery } from '../taskInbox';
import { parseQuery } from '../validation';

export function tasksRouter(ctx: ApiContext): Router {
  const router = Router();
  router.get('/tasks', requireRole(...REPORTERS), async (req, res) => {
    const q = parseQuery(listTasksQuery, req);
    const deps = { pool: poolOf(ctx), taskQueue: ctx.taskQueue, now: ctx.clock() };
    res.json(await dbCall(listTasks(deps, q)));
  });
  return router;
}
