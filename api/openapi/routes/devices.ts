/** api/routes/devices.ts: one process for one device. */
import { changeUserBody, inactivationBody } from '../../schemas';
import { describeRoute } from '../registry';
import { startResult } from '../responseSchemas';

const REPEAT_TEXT =
  'The same `Idempotency-Key` again answers the first start (same `workflowId` and `runId`); the key with another ' +
  'asset or body is refused with 409 `idempotency-key-reused`.';

const started = {
  status: 201,
  description: 'Started; `Location` points at the workflow',
  schema: startResult,
  headers: {
    Location: { description: 'the new workflow, /api/v1/workflows/{workflowId}', schema: { type: 'string' } },
  },
};

export const devicesRoutes = [
  describeRoute({
    method: 'post',
    path: '/api/v1/devices/{assetNumber}/change-user',
    tag: 'Devices',
    summary: 'Start "change device user" (DESIGN §3.1) for one device',
    description:
      'The workflow id is `device-{assetNumber}`; a device with a running process answers 409 `device-busy` naming it. ' +
      '`plannedCollectionDate` must not be in the past nor more than two years ahead. ' +
      REPEAT_TEXT,
    roles: ['admin'],
    body: changeUserBody,
    idempotencyKeyHeader: true,
    responses: [started],
    errors: [404, 409],
  }),
  describeRoute({
    method: 'post',
    path: '/api/v1/devices/{assetNumber}/inactivation',
    tag: 'Devices',
    summary: 'Start "inactivate device" (DESIGN §3.2) for one device',
    description:
      'When `forced` is true, `acknowledgeProfileStays` must be true: a forced inactivation leaves the MDM profile on the device. ' +
      'An asset whose platform has no inactivation procedure (only iOS and iPadOS have one) is refused with 409 ' +
      '`platform-not-supported` naming the platform; nothing is started. ' +
      REPEAT_TEXT,
    roles: ['admin'],
    body: inactivationBody,
    idempotencyKeyHeader: true,
    responses: [started],
    errors: [404, 409],
  }),
];
