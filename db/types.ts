/**
 * Row types of the asset database (camelCase, as the rest of the code sees them), the input schemas the
 * repositories validate against, and the typed errors they throw. The API reuses the schemas and the
 * asset-number pattern so a request is refused with the same rule the database enforces.
 */
import type { Pool, PoolClient } from 'pg';
import { z } from 'zod';
import { MDM_DEVICE_ID_PATTERN, MDM_DEVICE_ID_RULE } from '../mdm/deviceId';

/**
 * Asset numbers as people write them: `A-000123`. `[0-9]` rather than `\d` so `.source` means the same in
 * JavaScript, JSON Schema and PostgreSQL (the `assets_asset_number_format` CHECK uses this exact text).
 */
export const ASSET_NUMBER_PATTERN = /^A-[0-9]{6}$/;

export const ASSET_STATUSES = ['in_use', 'in_stock', 'retired', 'lost', 'in_repair'] as const;
export type AssetStatus = (typeof ASSET_STATUSES)[number];

/**
 * The platforms an asset may run (the `assets_platform_check` CHECK of migration 0008 lists the same). Which
 * of them have an inactivation procedure is activities/deviceInstructions/procedures.ts.
 */
export const ASSET_PLATFORMS = ['ios', 'ipados', 'android', 'windows', 'macos'] as const;
export type AssetPlatform = (typeof ASSET_PLATFORMS)[number];

export const APPLICATION_STATES = ['pending', 'assigned', 'delivered', 'cancelled'] as const;
export type ApplicationState = (typeof APPLICATION_STATES)[number];

/** Anything that runs a query: a pool, or a checked-out client (possibly inside a transaction). */
export type Queryable = Pool | PoolClient;

// ---------------------------------------------------------------------------------------------- rows

export interface Asset {
  assetNumber: string;
  serialNumber: string;
  model: string;
  mdmDeviceId: string | null;
  status: AssetStatus;
  plannedStatus: AssetStatus | null;
  /** Calendar date `YYYY-MM-DD` (no time zone: it is a day people agreed on). */
  plannedDate: string | null;
  department: string;
  location: string;
  userName: string | null;
  userEmail: string | null;
  userPhone: string | null;
  /** The device's platform; the inactivation's device-side steps are per platform. */
  platform: AssetPlatform;
  /** Incremented by every change; pass it back as `expectedVersion` for optimistic concurrency. */
  version: number;
  /** ISO 8601, UTC. */
  createdAt: string;
  updatedAt: string;
}

export interface AssetEvent {
  /** bigserial, kept as a string so it never loses precision. */
  id: string;
  assetNumber: string;
  eventType: string;
  actor: string;
  actorRole: string | null;
  /** Which credential acted (`key:<id>`, `oidc:<iss>|<sub>`, `static:<actor>`), when it was recorded. */
  credential?: string;
  workflowId: string | null;
  runId: string | null;
  step: string | null;
  occurredAt: string;
  details: Record<string, unknown>;
  /** For events written with an asset change: each changed field's value before and after. */
  changes: Record<string, { from: unknown; to: unknown }> | null;
  /** The asset version this event produced (null when the event changed nothing on the asset). */
  assetVersion: number | null;
  idempotencyKey: string;
}

export interface Application {
  id: string;
  department: string;
  deliveryLocation: string;
  userName: string;
  userEmail: string;
  userPhone: string | null;
  note: string | null;
  state: ApplicationState;
  assignedAssetNumber: string | null;
  workflowId: string | null;
  createdBy: string;
  idempotencyKey: string | null;
  createdAt: string;
  updatedAt: string;
  assignedAt: string | null;
  deliveredAt: string | null;
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to get the next page. Null on the last page. */
  nextCursor: string | null;
}

// ---------------------------------------------------------------------------------------------- inputs

const text = (max: number) => z.string().trim().min(1).max(max);
const phone = z
  .string()
  .trim()
  .regex(/^\+?[0-9()\- ]{3,32}$/, 'must be a phone number: digits, spaces, +, -, ( and )');

export const assetNumberSchema = z.string().regex(ASSET_NUMBER_PATTERN, 'must be an asset number like A-000123');
export const assetStatusSchema = z.enum(ASSET_STATUSES);
export const isoDateSchema = z.iso.date();
export const assetPlatformSchema = z.enum(ASSET_PLATFORMS, {
  error: `must be one of ${ASSET_PLATFORMS.join(', ')}`,
});

/** The fields a change may set; `null` clears a nullable field, an absent key leaves it alone. */
export const assetPatchSchema = z.strictObject({
  serialNumber: text(64).optional(),
  model: text(100).optional(),
  mdmDeviceId: text(100).regex(MDM_DEVICE_ID_PATTERN, MDM_DEVICE_ID_RULE).nullable().optional(),
  status: assetStatusSchema.optional(),
  plannedStatus: assetStatusSchema.nullable().optional(),
  plannedDate: isoDateSchema.nullable().optional(),
  department: text(100).optional(),
  location: text(200).optional(),
  userName: text(200).nullable().optional(),
  userEmail: z.email().max(254).nullable().optional(),
  userPhone: phone.nullable().optional(),
  // Not nullable: every asset has a platform (absent on create means ios, the column's default).
  platform: assetPlatformSchema.optional(),
});
export type AssetPatch = z.infer<typeof assetPatchSchema>;

/** A whole asset for create-or-update; on update, absent optional fields are left as they are. */
export const assetInputSchema = assetPatchSchema.extend({
  assetNumber: assetNumberSchema,
  serialNumber: text(64),
  model: text(100),
  department: text(100),
  location: text(200),
});
export type AssetInput = z.infer<typeof assetInputSchema>;

export interface AssetListFilters {
  status?: AssetStatus;
  plannedStatus?: AssetStatus;
  department?: string;
  location?: string;
  userEmail?: string;
}

/** Who did a step and where it belongs; the idempotency key makes a retried step write once. */
export const eventInputSchema = z.strictObject({
  eventType: z.string().regex(/^[A-Za-z][A-Za-z0-9_.:-]{0,99}$/, 'must be a short identifier like device-collected'),
  actor: text(200),
  actorRole: text(50).nullable().optional(),
  credential: z
    .string()
    .trim()
    .max(600)
    .regex(/^[a-z]+:./, 'must be kind:reference, like key:<id> or static:<actor>')
    .nullable()
    .optional(),
  workflowId: text(255).nullable().optional(),
  runId: text(255).nullable().optional(),
  step: text(100).nullable().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
  idempotencyKey: text(200),
});
export type EventInput = z.infer<typeof eventInputSchema>;

export const applicationInputSchema = z.strictObject({
  department: text(100),
  deliveryLocation: text(200),
  userName: text(200),
  userEmail: z.email().max(254),
  userPhone: phone.nullable().optional(),
  note: z.string().trim().max(2000).nullable().optional(),
  createdBy: text(200),
  idempotencyKey: text(200).nullable().optional(),
});
export type ApplicationInput = z.infer<typeof applicationInputSchema>;

// ---------------------------------------------------------------------------------------------- errors

/** Input refused before touching the database; `issues` name each field and why. */
export class InvalidInputError extends Error {
  constructor(
    message: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(`${message}: ${issues.map((i) => `${i.path || '(input)'}: ${i.message}`).join('; ')}`);
    this.name = 'InvalidInputError';
  }

  static fromZod(what: string, error: z.ZodError): InvalidInputError {
    return new InvalidInputError(
      `invalid ${what}`,
      error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
}

/** A row the database refused (CHECK, UNIQUE, foreign key); `constraint` is the constraint's name. */
export class ConstraintViolationError extends Error {
  constructor(
    message: string,
    readonly constraint: string | undefined,
    readonly sqlState: string,
  ) {
    super(message);
    this.name = 'ConstraintViolationError';
  }
}

export class NotFoundError extends Error {
  constructor(
    readonly entity: 'asset' | 'application',
    readonly id: string,
  ) {
    super(`${entity} ${id} not found`);
    this.name = 'NotFoundError';
  }
}

/** Someone else changed the asset since the caller read it (its version is no longer the expected one). */
export class ConcurrentUpdateError extends Error {
  constructor(
    readonly assetNumber: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(`asset ${assetNumber} was changed concurrently: expected version ${expectedVersion}, found ${actualVersion}`);
    this.name = 'ConcurrentUpdateError';
  }
}

/** An idempotency key was reused for a different asset or event: a bug in the caller, never a retry. */
export class IdempotencyKeyConflictError extends Error {
  constructor(
    readonly idempotencyKey: string,
    readonly existing: { assetNumber: string; eventType: string },
  ) {
    super(
      `idempotency key ${idempotencyKey} was already used for ${existing.eventType} on asset ${existing.assetNumber}`,
    );
    this.name = 'IdempotencyKeyConflictError';
  }
}

/** The application is not pending (already taken, delivered or cancelled). */
export class ApplicationUnavailableError extends Error {
  constructor(readonly application: Application) {
    super(
      `application ${application.id} is ${application.state}` +
        (application.workflowId ? ` (taken by ${application.workflowId})` : ''),
    );
    this.name = 'ApplicationUnavailableError';
  }
}

export class InvalidCursorError extends Error {
  constructor() {
    super('invalid cursor');
    this.name = 'InvalidCursorError';
  }
}

/** Friendlier words for the constraints a caller can trip over; the constraint name is kept on the error. */
const CONSTRAINT_MESSAGES: Record<string, string> = {
  assets_asset_number_format: 'asset number must look like A-000123',
  assets_serial_number_key: 'another asset already has this serial number',
  assets_mdm_device_id_key: 'another asset already has this MDM device id',
  assets_status_check: `status must be one of ${ASSET_STATUSES.join(', ')}`,
  assets_planned_status_check: `planned status must be one of ${ASSET_STATUSES.join(', ')}`,
  assets_platform_check: `platform must be one of ${ASSET_PLATFORMS.join(', ')}`,
  applications_one_open_per_asset: 'this asset is already assigned to another open application',
  applications_one_open_per_workflow: 'this workflow already holds another open application',
};

/**
 * Turns a PostgreSQL integrity error into a ConstraintViolationError (other errors pass through), so
 * callers can answer "400/409 and why" without parsing driver messages.
 */
export function translateDbError(err: unknown): unknown {
  const e = err as { code?: string; constraint?: string; message?: string; detail?: string };
  // 23xxx: integrity constraint violations; 22xxx: data exceptions (bad date, value too long, ...).
  if (typeof e?.code !== 'string' || !/^2[23]/.test(e.code)) return err;
  const friendly = e.constraint ? CONSTRAINT_MESSAGES[e.constraint] : undefined;
  const message = friendly ?? [e.message, e.detail].filter(Boolean).join(': ');
  return new ConstraintViolationError(message, e.constraint, e.code);
}
