/**
 * Request schemas. Every request is validated here before any state is touched, and unknown fields are
 * refused so a typo never silently becomes a default.
 */
import { z } from 'zod';
import type { Request } from 'express';
import { commandTypes, deviceStatuses } from './types';
import { invalidRequest } from './httpError';

const id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, 'only letters, digits and . _ : -');
const label = z.string().trim().min(1).max(128);

export const registerDeviceBody = z.strictObject({
  id: id.optional(),
  serialNumber: label,
  assetNumber: label.optional(),
  model: label,
  omitJobIds: z.boolean().optional(),
});

export const listDevicesQuery = z.strictObject({
  serialNumber: label.optional(),
  assetNumber: label.optional(),
  status: z.enum(deviceStatuses).optional(),
});

// Defaults follow the seed's safe console defaults: keep the record after a wipe, never force.
export const commandBody = z.discriminatedUnion(
  'type',
  [
    z.strictObject({
      type: z.literal('wipe'),
      options: z.strictObject({ keepEnrollmentData: z.boolean().default(true) }).default({ keepEnrollmentData: true }),
    }),
    z.strictObject({
      type: z.literal('inactivate'),
      options: z.strictObject({ forced: z.boolean().default(false) }).default({ forced: false }),
    }),
    z.strictObject({
      type: z.literal('delete'),
      options: z.strictObject({}).default({}),
    }),
  ],
  { error: `must be one of: ${commandTypes.join(', ')}` },
);
export type CommandBody = z.infer<typeof commandBody>;

export const idempotencyKeyHeader = z
  .string({ error: 'required header' })
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

export const cancelCommandBody = z.strictObject({ idempotencyKey: idempotencyKeyHeader });

export const listJobsQuery = z.strictObject({ deviceId: id.optional() });

export const pathId = id;

export function parseBody<S extends z.ZodType>(schema: S, req: Request): z.infer<S> {
  const result = schema.safeParse(req.body ?? {});
  if (!result.success) throw invalidRequest('body', result.error);
  return result.data;
}

export function parseQuery<S extends z.ZodType>(schema: S, req: Request): z.infer<S> {
  const result = schema.safeParse({ ...req.query });
  if (!result.success) throw invalidRequest('query', result.error);
  return result.data;
}

export function parseParam(req: Request, name: string): string {
  const result = pathId.safeParse(req.params[name]);
  if (!result.success) throw invalidRequest('path', result.error, name);
  return result.data;
}

/** Reads the Idempotency-Key header; `required` decides whether its absence is an error. */
export function idempotencyKey(req: Request, required: true): string;
export function idempotencyKey(req: Request, required: false): string | undefined;
export function idempotencyKey(req: Request, required: boolean): string | undefined {
  const raw = req.get('Idempotency-Key');
  if (raw === undefined && !required) return undefined;
  const result = idempotencyKeyHeader.safeParse(raw);
  if (!result.success) throw invalidRequest('header', result.error, 'Idempotency-Key');
  return result.data;
}
