/**
 * Users' applications for a device. A workflow at `awaiting-assignment` takes one; the state changes are
 * conditional updates, so two workflows can never take the same application and a retried activity gets
 * back what it took the first time.
 */
import { z } from 'zod';
import { inTransaction } from './pool';
import {
  applicationInputSchema,
  ApplicationUnavailableError,
  assetNumberSchema,
  InvalidCursorError,
  InvalidInputError,
  NotFoundError,
  translateDbError,
  type Application,
  type ApplicationInput,
  type ApplicationState,
  type Page,
  type Queryable,
} from './types';

interface ApplicationRow {
  id: string;
  department: string;
  delivery_location: string;
  user_name: string;
  user_email: string;
  user_phone: string | null;
  note: string | null;
  state: ApplicationState;
  assigned_asset_number: string | null;
  workflow_id: string | null;
  created_by: string;
  idempotency_key: string | null;
  created_at: Date;
  updated_at: Date;
  assigned_at: Date | null;
  delivered_at: Date | null;
}

function toApplication(row: ApplicationRow): Application {
  return {
    id: row.id,
    department: row.department,
    deliveryLocation: row.delivery_location,
    userName: row.user_name,
    userEmail: row.user_email,
    userPhone: row.user_phone,
    note: row.note,
    state: row.state,
    assignedAssetNumber: row.assigned_asset_number,
    workflowId: row.workflow_id,
    createdBy: row.created_by,
    idempotencyKey: row.idempotency_key,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    assignedAt: row.assigned_at?.toISOString() ?? null,
    deliveredAt: row.delivered_at?.toISOString() ?? null,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `id` can be an application id (validate path parameters before querying). */
export function isApplicationId(id: string): boolean {
  return UUID.test(id);
}

/** Records an application; a repeated call with the same idempotency key returns the first one. */
export async function create(
  db: Queryable,
  input: ApplicationInput,
): Promise<{ application: Application; created: boolean }> {
  const parsed = applicationInputSchema.safeParse(input);
  if (!parsed.success) throw InvalidInputError.fromZod('application', parsed.error);
  const a = parsed.data;
  try {
    const { rows } = await db.query<ApplicationRow>(
      `INSERT INTO applications
         (department, delivery_location, user_name, user_email, user_phone, note, created_by, idempotency_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING *`,
      [
        a.department,
        a.deliveryLocation,
        a.userName,
        a.userEmail,
        a.userPhone ?? null,
        a.note ?? null,
        a.createdBy,
        a.idempotencyKey ?? null,
      ],
    );
    if (rows[0]) return { application: toApplication(rows[0]), created: true };
  } catch (err) {
    throw translateDbError(err);
  }
  const existing = await db.query<ApplicationRow>('SELECT * FROM applications WHERE idempotency_key = $1', [
    a.idempotencyKey,
  ]);
  return { application: toApplication(existing.rows[0]!), created: false };
}

export async function get(db: Queryable, id: string): Promise<Application | null> {
  if (!isApplicationId(id)) return null;
  const { rows } = await db.query<ApplicationRow>('SELECT * FROM applications WHERE id = $1', [id]);
  return rows[0] ? toApplication(rows[0]) : null;
}

/** The application a workflow currently holds (assigned, not yet delivered), if any. */
export async function getOpenForWorkflow(db: Queryable, workflowId: string): Promise<Application | null> {
  const { rows } = await db.query<ApplicationRow>(
    "SELECT * FROM applications WHERE workflow_id = $1 AND state = 'assigned'",
    [workflowId],
  );
  return rows[0] ? toApplication(rows[0]) : null;
}

export interface PendingFilters {
  department?: string;
  deliveryLocation?: string;
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isApplicationId(id)) throw new InvalidCursorError();
  return id;
}

/**
 * Pending applications, oldest first. The cursor is the last id seen; its (created_at, id) is looked up
 * in the database so the position keeps PostgreSQL's microsecond precision.
 */
export async function listPending(
  db: Queryable,
  options: { cursor?: string | null; limit?: number; filters?: PendingFilters } = {},
): Promise<Page<Application>> {
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? 50), 1), 500);
  const { rows } = await db.query<ApplicationRow>(
    `SELECT * FROM applications
      WHERE state = 'pending'
        AND ($1::uuid IS NULL OR (created_at, id) > (SELECT created_at, id FROM applications WHERE id = $1))
        AND ($2::text IS NULL OR department = $2)
        AND ($3::text IS NULL OR delivery_location = $3)
      ORDER BY created_at, id
      LIMIT $4`,
    [
      options.cursor ? decodeCursor(options.cursor) : null,
      options.filters?.department ?? null,
      options.filters?.deliveryLocation ?? null,
      limit + 1,
    ],
  );
  const items = rows.slice(0, limit).map(toApplication);
  const last = items.at(-1);
  return {
    items,
    nextCursor: rows.length > limit && last ? Buffer.from(last.id).toString('base64url') : null,
  };
}

export interface Assignment {
  assetNumber: string;
  workflowId: string;
}

const assignmentSchema = z.strictObject({
  assetNumber: assetNumberSchema,
  workflowId: z.string().trim().min(1).max(255),
});

function parseAssignment(a: Assignment): Assignment {
  const parsed = assignmentSchema.safeParse(a);
  if (!parsed.success) throw InvalidInputError.fromZod('assignment', parsed.error);
  return parsed.data;
}

/**
 * Gives a specific pending application to a workflow and asset. Repeating the same assignment returns
 * the application unchanged; an application that is not pending (or taken by someone else) throws
 * ApplicationUnavailableError. The conditional update makes the race safe: of two concurrent callers the
 * second re-checks `state = 'pending'` after the first commits and matches nothing.
 */
export async function assign(db: Queryable, id: string, assignment: Assignment): Promise<Application> {
  const a = parseAssignment(assignment);
  if (!isApplicationId(id)) throw new NotFoundError('application', id);
  try {
    const { rows } = await db.query<ApplicationRow>(
      `UPDATE applications
          SET state = 'assigned', assigned_asset_number = $2, workflow_id = $3, assigned_at = now(),
              updated_at = now()
        WHERE id = $1 AND state = 'pending'
        RETURNING *`,
      [id, a.assetNumber, a.workflowId],
    );
    if (rows[0]) return toApplication(rows[0]);
  } catch (err) {
    throw translateDbError(err);
  }
  const current = await get(db, id);
  if (!current) throw new NotFoundError('application', id);
  if (isHeldBy(current, a)) return current;
  throw new ApplicationUnavailableError(current);
}

/**
 * Puts an application that `workflowId` holds back to pending (clears its asset, workflow and
 * assigned_at), to undo a reservation the workflow refused (api/applicationHandoff.ts). Conditional on
 * `state = 'assigned'` and on the holder, so it never takes an application away from another workflow
 * and never reopens a delivered or cancelled one; a repeat (or a call after the application moved on)
 * matches nothing and changes nothing, so it is idempotent.
 */
export async function releaseReservation(db: Queryable, id: string, workflowId: string): Promise<void> {
  await db.query(
    `UPDATE applications
        SET state = 'pending', assigned_asset_number = NULL, workflow_id = NULL, assigned_at = NULL, updated_at = now()
      WHERE id = $1 AND state = 'assigned' AND workflow_id = $2`,
    [id, workflowId],
  );
}

function isHeldBy(app: Application, a: Assignment): boolean {
  return (
    (app.state === 'assigned' || app.state === 'delivered') &&
    app.assignedAssetNumber === a.assetNumber &&
    app.workflowId === a.workflowId
  );
}

/**
 * Takes the oldest pending application (optionally for a department / delivery location) for a workflow,
 * or returns null when none is waiting. A retry returns the application the workflow already holds.
 * SKIP LOCKED lets concurrent workflows each take a different application instead of queueing.
 */
export async function claimNextPending(
  db: Queryable,
  assignment: Assignment,
  filters: PendingFilters = {},
): Promise<Application | null> {
  const a = parseAssignment(assignment);
  try {
    return await inTransaction(db, async (client) => {
      const held = await getOpenForWorkflow(client, a.workflowId);
      if (held) return held;
      const { rows } = await client.query<ApplicationRow>(
        `UPDATE applications
            SET state = 'assigned', assigned_asset_number = $1, workflow_id = $2, assigned_at = now(),
                updated_at = now()
          WHERE id = (SELECT id FROM applications
                       WHERE state = 'pending'
                         AND ($3::text IS NULL OR department = $3)
                         AND ($4::text IS NULL OR delivery_location = $4)
                       ORDER BY created_at, id
                       LIMIT 1
                       FOR UPDATE SKIP LOCKED)
          RETURNING *`,
        [a.assetNumber, a.workflowId, filters.department ?? null, filters.deliveryLocation ?? null],
      );
      return rows[0] ? toApplication(rows[0]) : null;
    });
  } catch (err) {
    throw translateDbError(err);
  }
}

/** Marks the workflow's application delivered; idempotent. */
export async function markDelivered(db: Queryable, id: string, workflowId: string): Promise<Application> {
  if (!isApplicationId(id)) throw new NotFoundError('application', id);
  const { rows } = await db.query<ApplicationRow>(
    `UPDATE applications SET state = 'delivered', delivered_at = now(), updated_at = now()
      WHERE id = $1 AND state = 'assigned' AND workflow_id = $2
      RETURNING *`,
    [id, workflowId],
  );
  if (rows[0]) return toApplication(rows[0]);
  const current = await get(db, id);
  if (!current) throw new NotFoundError('application', id);
  if (current.state === 'delivered' && current.workflowId === workflowId) return current;
  throw new ApplicationUnavailableError(current);
}

/** Cancels a pending or assigned application; idempotent. A delivered one cannot be cancelled. */
export async function cancel(db: Queryable, id: string): Promise<Application> {
  if (!isApplicationId(id)) throw new NotFoundError('application', id);
  const { rows } = await db.query<ApplicationRow>(
    `UPDATE applications SET state = 'cancelled', updated_at = now()
      WHERE id = $1 AND state IN ('pending', 'assigned')
      RETURNING *`,
    [id],
  );
  if (rows[0]) return toApplication(rows[0]);
  const current = await get(db, id);
  if (!current) throw new NotFoundError('application', id);
  if (current.state === 'cancelled') return current;
  throw new ApplicationUnavailableError(current);
}
