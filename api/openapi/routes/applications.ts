/** api/routes/applications.ts: users' applications for a device. */
import { REPORTERS } from '../../auth';
import { applicationBody, listApplicationsQuery } from '../../routes/applications';
import { describeRoute } from '../registry';
import { application, applicationPage, applicationWrite } from '../responseSchemas';

const applicationId = {
  id: { description: 'Application id', schema: { type: 'string', format: 'uuid' } },
};

export const applicationsRoutes = [
  describeRoute({
    method: 'post',
    path: '/api/v1/applications',
    tag: 'Applications',
    summary: "Record a user's application for a device",
    description:
      'The application goes to the change-user workflow that has waited longest in `awaiting-assignment`, or waits until one does. ' +
      'The same `Idempotency-Key` with another body is refused with 409 `idempotency-key-reused`.',
    roles: ['admin'],
    body: applicationBody,
    idempotencyKeyHeader: true,
    responses: [
      { status: 201, description: 'Recorded (and handed off when a workflow was waiting)', schema: applicationWrite },
      {
        status: 200,
        description: 'The same Idempotency-Key again: the application as recorded',
        schema: applicationWrite,
      },
    ],
    errors: [409, 503],
  }),
  describeRoute({
    method: 'get',
    path: '/api/v1/applications',
    tag: 'Applications',
    summary: 'Pending applications, oldest first (the order they are served in)',
    roles: REPORTERS,
    query: listApplicationsQuery,
    responses: [{ status: 200, description: 'One page', schema: applicationPage }],
    errors: [503],
  }),
  describeRoute({
    method: 'get',
    path: '/api/v1/applications/{id}',
    tag: 'Applications',
    summary: 'One application in any state',
    roles: REPORTERS,
    pathParams: applicationId,
    responses: [{ status: 200, description: 'The application', schema: application }],
    errors: [404, 503],
  }),
];
