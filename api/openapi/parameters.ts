/**
 * Path parameters by name. Every `{name}` in a documented path must be defined here, with the pattern or
 * values the route checks before using it (api/validation.ts), so the spec says what a 400 will refuse.
 */
import { HUMAN_EVENTS } from '../../workflows/reportSchemas';
import { ASSET_NUMBER_PATTERN, BULK_ID_PATTERN, WORKFLOW_ID_PATTERN } from '../schemas';

export interface PathParameterDoc {
  description: string;
  schema: Record<string, unknown>;
  example?: string;
}

export const PATH_PARAMETERS: Record<string, PathParameterDoc> = {
  assetNumber: {
    description: 'Asset number of the device',
    schema: { type: 'string', pattern: ASSET_NUMBER_PATTERN.source },
    example: 'A-000123',
  },
  workflowId: {
    description: 'Lifecycle workflow id: `device-` followed by the asset number (one active process per device)',
    schema: { type: 'string', pattern: WORKFLOW_ID_PATTERN.source },
    example: 'device-A-000123',
  },
  bulkId: {
    description: 'The id a bulk request (POST /collections, POST /inactivations) answered with',
    schema: { type: 'string', pattern: BULK_ID_PATTERN.source },
    example: '3f1c2a9e-6a1b-4c7d-9e2f-0b8a7c6d5e4f',
  },
  campaignId: {
    description: 'A collection campaign: the id POST /collections answered with (`bulkId`)',
    schema: { type: 'string', pattern: BULK_ID_PATTERN.source },
    example: '3f1c2a9e-6a1b-4c7d-9e2f-0b8a7c6d5e4f',
  },
  event: {
    description: 'Human event name (DESIGN §3); the body `data` must match the payload schema of this event',
    schema: { type: 'string', enum: [...HUMAN_EVENTS] },
    example: 'device-collected',
  },
};
