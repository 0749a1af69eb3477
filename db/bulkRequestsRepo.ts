/**
 * Bulk start requests and their per-asset results (migration 0004). A request is written whole when it
 * arrives (every asset number, decided rows and pending ones), then the pending rows are decided in
 * batches as the starts finish, and it is marked finished. Reads return the rows in input order.
 */
import { z } from 'zod';
import { inTransaction } from './pool';
import { InvalidInputError, type Queryable } from './types';

export type BulkKind = 'collections' | 'inactivations';
export type BulkResult = 'pending' | 'started' | 'unknown-asset' | 'busy' | 'invalid' | 'error';

/** One asset number's row, as the API answers it. */
export interface BulkItem {
  assetNumber: string;
  result: BulkResult;
  workflowId?: string;
  runId?: string;
  error?: { code: string; message: string; details?: unknown };
}

/** running: starts still under way; done: every row decided; interrupted: rows pending, nobody writing. */
export type BulkStatus = 'running' | 'done' | 'interrupted';

export interface BulkRequest {
  id: string;
  kind: BulkKind;
  requestedBy: string;
  status: BulkStatus;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  items: BulkItem[];
}

/**
 * What a collection campaign keeps beyond the rows (migration 0014): how its devices were chosen and the
 * fields its processes share, and per row what the device's process is started with.
 */
export interface CampaignFacts {
  campaign: Record<string, unknown>;
  /** One per item, in the items' order; null where nothing is started (a malformed or unknown asset). */
  devices: readonly ({ plannedDate: string | null; department: string; location: string } | null)[];
}

/** A request with pending rows and no write for this long lost the process that ran it. */
export const BULK_STALE_AFTER_SECONDS = 60;

const idSchema = z.uuid();

function columns(items: readonly { position: number; item: BulkItem }[]) {
  return [
    items.map((i) => i.position),
    items.map((i) => i.item.result),
    items.map((i) => i.item.workflowId ?? null),
    items.map((i) => i.item.runId ?? null),
    items.map((i) => (i.item.error ? JSON.stringify(i.item.error) : null)),
  ];
}

/**
 * Writes the request and a row for every asset number (in input order); returns the request's id. A
 * campaign's facts are written in the same transaction, so a campaign is never seen without them.
 */
export async function create(
  db: Queryable,
  request: { kind: BulkKind; requestedBy: string; items: readonly BulkItem[]; campaign?: CampaignFacts },
): Promise<string> {
  if (request.items.length === 0) throw new InvalidInputError('bulk request', [{ path: 'items', message: 'empty' }]);
  return inTransaction(db, async (client) => {
    const { rows } = await client.query<{ id: string }>(
      'INSERT INTO bulk_requests (kind, requested_by, total, campaign) VALUES ($1, $2, $3, $4::jsonb) RETURNING id',
      [
        request.kind,
        request.requestedBy,
        request.items.length,
        request.campaign ? JSON.stringify(request.campaign.campaign) : null,
      ],
    );
    const id = rows[0]!.id;
    const numbered = request.items.map((item, position) => ({ position, item }));
    const [positions, results, workflowIds, runIds, errors] = columns(numbered);
    await client.query(
      `INSERT INTO bulk_request_items (bulk_id, position, asset_number, result, workflow_id, run_id, error, decided_at)
       SELECT $1, u.position, u.asset_number, u.result, u.workflow_id, u.run_id, u.error::jsonb,
              CASE WHEN u.result = 'pending' THEN NULL ELSE now() END
         FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
           AS u(position, asset_number, result, workflow_id, run_id, error)`,
      [id, positions, request.items.map((i) => i.assetNumber), results, workflowIds, runIds, errors],
    );
    if (request.campaign) await writeCampaignDevices(client, id, request.campaign.devices);
    return id;
  });
}

async function writeCampaignDevices(db: Queryable, id: string, devices: CampaignFacts['devices']): Promise<void> {
  const known = devices.flatMap((d, position) => (d ? [{ position, ...d }] : []));
  if (known.length === 0) return;
  await db.query(
    `UPDATE bulk_request_items i
        SET planned_date = u.planned_date::date, department = u.department, location = u.location
       FROM unnest($2::int[], $3::text[], $4::text[], $5::text[]) AS u(position, planned_date, department, location)
      WHERE i.bulk_id = $1 AND i.position = u.position`,
    [
      id,
      known.map((d) => d.position),
      known.map((d) => d.plannedDate),
      known.map((d) => d.department),
      known.map((d) => d.location),
    ],
  );
}

/**
 * Decides rows (by position) and marks the request as alive; with no rows, only the latter. Idempotent:
 * writing the same decision again changes nothing but the time.
 */
export async function record(
  db: Queryable,
  id: string,
  decided: readonly { position: number; item: BulkItem }[],
): Promise<void> {
  await db.query(
    `WITH alive AS (UPDATE bulk_requests SET updated_at = now() WHERE id = $1)
     UPDATE bulk_request_items i
        SET result = u.result, workflow_id = u.workflow_id, run_id = u.run_id, error = u.error::jsonb,
            decided_at = now()
       FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[])
         AS u(position, result, workflow_id, run_id, error)
      WHERE i.bulk_id = $1 AND i.position = u.position AND u.result <> 'pending'`,
    [id, ...columns(decided)],
  );
}

/** Every row has been decided. */
export async function finish(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE bulk_requests SET finished_at = now(), updated_at = now() WHERE id = $1', [id]);
}

interface RequestRow {
  id: string;
  kind: BulkKind;
  requested_by: string;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  stale: boolean;
}

interface ItemRow {
  asset_number: string;
  result: BulkResult;
  workflow_id: string | null;
  run_id: string | null;
  error: BulkItem['error'] | null;
}

/** The request with its rows in input order, or null (also for an id that is not a UUID). */
export async function get(db: Queryable, id: string): Promise<BulkRequest | null> {
  if (!idSchema.safeParse(id).success) return null;
  const { rows } = await db.query<RequestRow>(
    `SELECT id, kind, requested_by, created_at, updated_at, finished_at,
            now() - updated_at > make_interval(secs => $2) AS stale
       FROM bulk_requests WHERE id = $1`,
    [id, BULK_STALE_AFTER_SECONDS],
  );
  const request = rows[0];
  if (!request) return null;
  const items = await db.query<ItemRow>(
    `SELECT asset_number, result, workflow_id, run_id, error
       FROM bulk_request_items WHERE bulk_id = $1 ORDER BY position`,
    [id],
  );
  const mapped = items.rows.map((r): BulkItem => ({
    assetNumber: r.asset_number,
    result: r.result,
    ...(r.workflow_id !== null ? { workflowId: r.workflow_id } : {}),
    ...(r.run_id !== null ? { runId: r.run_id } : {}),
    ...(r.error !== null ? { error: r.error } : {}),
  }));
  const pending = mapped.some((i) => i.result === 'pending');
  return {
    id: request.id,
    kind: request.kind,
    requestedBy: request.requested_by,
    status: !pending ? 'done' : request.stale ? 'interrupted' : 'running',
    createdAt: request.created_at.toISOString(),
    updatedAt: request.updated_at.toISOString(),
    finishedAt: request.finished_at?.toISOString() ?? null,
    items: mapped,
  };
}
