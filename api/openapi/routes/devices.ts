/** api/routes/devices.ts: one process for one device. */
import { z } from 'zod';
import { distributionBody } from '../../distributionBody';
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

const distributionStarted = {
  ...started,
  schema: startResult.extend({
    assetNumber: z.string().meta({ description: 'the in-stock asset reserved for this distribution' }),
  }),
};

const DISTRIBUTION_TEXT =
  'The process (DESIGN §3.3, workflow type `distributeDevice`, id `device-{assetNumber}`) reserves the asset, assigns it ' +
  'to the user of `applicationId` (a pending application, taken at once: 409 `application-unavailable` otherwise) or to ' +
  '`newUser`, and waits for `device-delivered` with the signature (task `deliver-device` in GET /tasks, on the field page ' +
  'and on the distribution list until delivered). Steps: `reserving`, `assigning`, `awaiting-delivery`, `completed`. ' +
  'The reservation is made before the start, in one transaction with the application; a start that does not happen puts ' +
  'both back. Cancel or abort (POST /workflows/{workflowId}/cancel, /abort) releases the reservation and the application, ' +
  'each audited; a user already assigned stays assigned (said in the audit event). ';

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
  describeRoute({
    method: 'post',
    path: '/api/v1/devices/{assetNumber}/distribution',
    tag: 'Devices',
    summary: 'Start "distribute device" (DESIGN §3.3) for a device an admin chose from stock',
    description:
      DISTRIBUTION_TEXT +
      'The asset must be `in_stock` (409 `asset-not-in-stock` naming its status) and not reserved by another ' +
      'distribution (409 `asset-reserved`); a device with a running process answers 409 `device-busy`. ' +
      REPEAT_TEXT,
    roles: ['admin'],
    body: distributionBody,
    idempotencyKeyHeader: true,
    responses: [distributionStarted],
    errors: [404, 409],
  }),
  describeRoute({
    method: 'post',
    path: '/api/v1/distributions',
    tag: 'Devices',
    summary: 'Start "distribute device" (DESIGN §3.3) on an in-stock device the product picks',
    description:
      DISTRIBUTION_TEXT +
      'The product picks an asset that is `in_stock`, not planned to be retired, lost or repaired, not reserved, and ' +
      'without an open task; it prefers one in the department and location of the application (or of `newUser`): both, ' +
      'then the department, then the location, then any, lowest asset number first. Concurrent requests never take the ' +
      'same asset (the pick locks with SKIP LOCKED; one reservation per asset). A picked device found busy with another ' +
      'process is passed over for the next. No free device: 409 `no-stock`. The answer names the asset (`assetNumber`). ' +
      'The same `Idempotency-Key` again answers the first start; the key with another body is refused with 409 ' +
      '`idempotency-key-reused`.',
    roles: ['admin'],
    body: distributionBody,
    idempotencyKeyHeader: true,
    responses: [distributionStarted],
    errors: [404, 409],
  }),
];
