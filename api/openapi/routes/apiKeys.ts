/**
 * api/auth/apiKeysRouter.ts: admin routes for API keys. Its body and query schemas are private to that
 * file, so they are written out here by hand (keep them in step, or export them from there and use them).
 */
import { z } from 'zod';
import { describeRoute } from '../registry';
import { apiKey, apiKeyCreated, apiKeyPage } from '../responseSchemas';

const keyRef = {
  id: {
    description: 'API key id (uuid) or its prefix (`dlk_` and 8 characters)',
    schema: {
      type: 'string',
      pattern: '^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|dlk_[A-Za-z0-9_-]{8})$',
    },
  },
};

export const apiKeysRoutes = [
  describeRoute({
    method: 'post',
    path: '/api/v1/api-keys',
    tag: 'API keys',
    summary: 'Create an API key (the key is in this answer only)',
    roles: ['admin'],
    bodySchema: {
      type: 'object',
      properties: {
        actorId: { type: 'string', minLength: 1, maxLength: 200 },
        role: { type: 'string', enum: ['admin', 'field-staff', 'viewer'] },
        name: { type: 'string', minLength: 1, maxLength: 100 },
        expiresInDays: { type: 'number', exclusiveMinimum: 0, maximum: 3650 },
      },
      required: ['actorId', 'role'],
      additionalProperties: false,
    },
    responses: [{ status: 201, description: 'Created; store the key now', schema: apiKeyCreated }],
    errors: [503],
  }),
  describeRoute({
    method: 'get',
    path: '/api/v1/api-keys',
    tag: 'API keys',
    summary: 'List API keys (never the secrets), oldest first',
    roles: ['admin'],
    queryParameters: [
      { name: 'includeRevoked', schema: { type: 'string', enum: ['true', 'false'], default: 'false' } },
      { name: 'limit', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
      { name: 'cursor', schema: { type: 'string', maxLength: 500 } },
    ],
    responses: [{ status: 200, description: 'One page', schema: apiKeyPage }],
    errors: [503],
  }),
  describeRoute({
    method: 'delete',
    path: '/api/v1/api-keys/{id}',
    tag: 'API keys',
    summary: 'Revoke an API key (idempotent)',
    roles: ['admin'],
    pathParams: keyRef,
    responses: [{ status: 200, description: 'Revoked', schema: z.object({ apiKey, alreadyRevoked: z.boolean() }) }],
    errors: [404, 409, 503],
  }),
];
