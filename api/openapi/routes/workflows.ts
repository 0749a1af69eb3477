/** api/routes/workflows.ts: reading workflows, reporting human events, admin commands. */
import { ADMIN_COMMANDS } from '../../../workflows/definitions';
import { HUMAN_EVENTS } from '../../../workflows/reportSchemas';
import { ANY_ROLE, REPORTERS } from '../../auth';
import { adminCommandBody, eventBody, listWorkflowsQuery } from '../../schemas';
import { describeRoute } from '../registry';
import { reportAck, workflowDetail, workflowList } from '../responseSchemas';

/** Components holding each event's payload schema (see document.ts); the /field/ page builds its forms from them. */
export const eventPayloadRef = (event: string) => `#/components/schemas/${eventPayloadSchemaName(event)}`;
export const eventPayloadSchemaName = (event: string) =>
  `${event.replace(/(^|-)([a-z])/g, (_m, _d: string, c: string) => c.toUpperCase())}Data`;

const COMMAND_TEXT: Record<string, string> = {
  cancel: 'Cancel the process; what was already done is recorded, nothing is silently undone.',
  retry: 'Retry the failed step of a process in `needs-attention`.',
  abort: 'Give up a process in `needs-attention`.',
};

export const workflowsRoutes = [
  describeRoute({
    method: 'get',
    path: '/api/v1/workflows',
    tag: 'Workflows',
    summary: 'List lifecycle workflows',
    description:
      'Filter by type, step, status, department, location, asset; paginated with `limit` and the opaque `cursor`.',
    roles: ANY_ROLE,
    query: listWorkflowsQuery,
    responses: [{ status: 200, description: 'One page of workflows', schema: workflowList }],
    errors: [503],
  }),
  describeRoute({
    method: 'get',
    path: '/api/v1/workflows/{workflowId}',
    tag: 'Workflows',
    summary: 'One workflow: current step, steps done with times, the pending human task, attempts, last error',
    roles: ANY_ROLE,
    responses: [{ status: 200, description: 'The workflow', schema: workflowDetail }],
    errors: [404, 503],
  }),
  describeRoute({
    method: 'post',
    path: '/api/v1/workflows/{workflowId}/events/{event}',
    tag: 'Workflows',
    summary: 'Report a human event (e.g. device-collected)',
    description:
      'Sent to the workflow as a validated Temporal Update: a report that does not fit the current step is refused ' +
      'with 409 `event-not-expected` and `details.step` / `details.expects`, and changes nothing. Send an ' +
      '`Idempotency-Key` header (or `idempotencyKey` in the body): a repeated report is acknowledged with ' +
      '`duplicate: true`, not applied twice (concurrent repeats too). The key with another event, workflow or body is ' +
      'refused with 409 `idempotency-key-reused`, `details.differs` naming what differs. ' +
      "The actor is the token's, never taken from the body.",
    roles: REPORTERS,
    body: eventBody,
    idempotencyKeyHeader: true,
    bodyDescription: `\`data\` holds the event's fields; its schema depends on {event}: ${HUMAN_EVENTS.map((e) => `${e} -> ${eventPayloadSchemaName(e)}`).join(', ')}.`,
    responses: [
      {
        status: 200,
        description: 'Accepted (or a duplicate of an accepted report); the step after it',
        schema: reportAck,
      },
    ],
    errors: [404, 409, 503],
    extensions: { 'x-event-payloads': Object.fromEntries(HUMAN_EVENTS.map((e) => [e, { $ref: eventPayloadRef(e) }])) },
  }),
  ...ADMIN_COMMANDS.map((command) =>
    describeRoute({
      method: 'post',
      path: `/api/v1/workflows/{workflowId}/${command}`,
      tag: 'Workflows',
      summary: `Admin command: ${command}`,
      description:
        `${COMMAND_TEXT[command] ?? ''} Idempotent with an \`Idempotency-Key\` (a repeat answers \`duplicate: true\`, ` +
        'also when the first answer was lost, e.g. the first request timed out after the workflow took the command: ' +
        'the repeat gets that command’s outcome, even once the process has ended, and nothing is done twice; a ' +
        'command the workflow refused is judged afresh; the key with another command, workflow or body: 409 ' +
        '`idempotency-key-reused`).',
      roles: ['admin'],
      body: adminCommandBody,
      idempotencyKeyHeader: true,
      responses: [{ status: 200, description: 'Accepted', schema: reportAck }],
      errors: [404, 409, 503],
    }),
  ),
];
