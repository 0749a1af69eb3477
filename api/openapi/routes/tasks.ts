/** api/routes/tasks.ts: the task inbox (the /field/ page lists these). */
import { REPORTERS } from '../../auth';
import { listTasksQuery } from '../../taskInbox';
import { describeRoute } from '../registry';
import { taskPage } from '../responseSchemas';

export const tasksRoutes = [
  describeRoute({
    method: 'get',
    path: '/api/v1/tasks',
    tag: 'Tasks',
    summary: 'Pending human tasks of both processes, oldest due first',
    description:
      'Filter by task `type` (collect-device, deliver-device..., admin-decision while a process needs attention), `process`, `department`, `location`. Each item has the device, where, whom to contact, when it is due and escalated, and where to POST each report it accepts. Answered from the task index in one query; paging with `cursor` is exact while tasks open and close: every task open throughout is listed once.',
    roles: REPORTERS,
    query: listTasksQuery,
    responses: [{ status: 200, description: 'One page of tasks', schema: taskPage }],
    errors: [503],
  }),
];
