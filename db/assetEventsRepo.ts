/**
 * The append-only audit trail of assets. Every write is keyed by an idempotency key, so an activity that is
 * retried after a crash (or a report sent twice) leaves exactly one event.
 */
import {
  eventInputSchema,
  IdempotencyKeyConflictError,
  InvalidInputError,
  NotFoundError,
  translateDbError,
  type AssetEvent,
  type EventInput,
  type Queryable,
} from './types';

export interface AssetEventRow {
  id: string;
  asset_number: string;
  event_type: string;
  actor: string;
  actor_role: string | null;
  credential: string | null;
  workflow_id: string | null;
  run_id: string | null;
  step: string | null;
  occurred_at: Date;
  details: Record<string, unknown>;
  changes: AssetEvent['changes'];
  asset_version: number | null;
  idempotency_key: string;
}

export function toAssetEvent(row: AssetEventRow): AssetEvent {
  return {
    id: row.id,
    assetNumber: row.asset_number,
    eventType: row.event_type,
    actor: row.actor,
    actorRole: row.actor_role,
    // Only when known, so events of workflows (which do not send it yet) look as they always did.
    ...(row.credential ? { credential: row.credential } : {}),
    workflowId: row.workflow_id,
    runId: row.run_id,
    step: row.step,
    occurredAt: row.occurred_at.toISOString(),
    details: row.details,
    changes: row.changes,
    assetVersion: row.asset_version,
    idempotencyKey: row.idempotency_key,
  };
}

export interface RecordResult {
  /** False when an event with this idempotency key already existed; `event` is then the stored one. */
  inserted: boolean;
  event: AssetEvent;
}

/** What applyChange adds to an event it writes together with an asset update. */
export interface EventAssetChange {
  changes: AssetEvent['changes'];
  assetVersion: number | null;
}

export function parseEventInput(event: EventInput): EventInput {
  const parsed = eventInputSchema.safeParse(event);
  if (!parsed.success) throw InvalidInputError.fromZod('event', parsed.error);
  return parsed.data;
}

/**
 * Inserts the event unless its idempotency key is already stored. Reusing a key for another asset or
 * event type is a caller bug and throws IdempotencyKeyConflictError rather than silently returning.
 */
export async function record(
  db: Queryable,
  assetNumber: string,
  event: EventInput,
  change: EventAssetChange = { changes: null, assetVersion: null },
): Promise<RecordResult> {
  const e = parseEventInput(event);
  let rows: AssetEventRow[];
  try {
    ({ rows } = await db.query<AssetEventRow>(
      `INSERT INTO asset_events
         (asset_number, event_type, actor, actor_role, workflow_id, run_id, step, details, changes,
          asset_version, idempotency_key, credential)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING *`,
      [
        assetNumber,
        e.eventType,
        e.actor,
        e.actorRole ?? null,
        e.workflowId ?? null,
        e.runId ?? null,
        e.step ?? null,
        JSON.stringify(e.details ?? {}),
        change.changes === null ? null : JSON.stringify(change.changes),
        change.assetVersion,
        e.idempotencyKey,
        e.credential ?? null,
      ],
    ));
  } catch (err) {
    if ((err as { code?: string }).code === '23503') throw new NotFoundError('asset', assetNumber);
    throw translateDbError(err);
  }
  if (rows[0]) return { inserted: true, event: toAssetEvent(rows[0]) };
  const existing = await getByIdempotencyKey(db, e.idempotencyKey);
  if (!existing) throw new Error(`event ${e.idempotencyKey} conflicted but cannot be read back`);
  assertSameEvent(existing, assetNumber, e.eventType);
  return { inserted: false, event: existing };
}

export function assertSameEvent(existing: AssetEvent, assetNumber: string, eventType: string): void {
  if (existing.assetNumber !== assetNumber || existing.eventType !== eventType) {
    throw new IdempotencyKeyConflictError(existing.idempotencyKey, existing);
  }
}

export async function getByIdempotencyKey(db: Queryable, idempotencyKey: string): Promise<AssetEvent | null> {
  const { rows } = await db.query<AssetEventRow>('SELECT * FROM asset_events WHERE idempotency_key = $1', [
    idempotencyKey,
  ]);
  return rows[0] ? toAssetEvent(rows[0]) : null;
}

/** The asset's history, oldest first. */
export async function listForAsset(db: Queryable, assetNumber: string, limit = 1000): Promise<AssetEvent[]> {
  const { rows } = await db.query<AssetEventRow>(
    'SELECT * FROM asset_events WHERE asset_number = $1 ORDER BY occurred_at, id LIMIT $2',
    [assetNumber, limit],
  );
  return rows.map(toAssetEvent);
}

/**
 * Events of one workflow id, oldest first. Lifecycle workflow ids are reused per device
 * (`device-<assetNumber>`), so pass `runId` to see one run only, or `fromRunId` (a chain's first run) to see
 * a process that continued as new: every event from that run's first one on (a device's next process
 * starts only after this one closed, so nothing later belongs to another).
 */
export async function listForWorkflow(
  db: Queryable,
  workflowId: string,
  options: { runId?: string; fromRunId?: string; limit?: number } = {},
): Promise<AssetEvent[]> {
  const { rows } = await db.query<AssetEventRow>(
    `SELECT * FROM asset_events
      WHERE workflow_id = $1 AND ($2::text IS NULL OR run_id = $2)
        AND ($4::text IS NULL OR occurred_at >= (
          SELECT coalesce(min(occurred_at), 'infinity') FROM asset_events WHERE workflow_id = $1 AND run_id = $4))
      ORDER BY occurred_at, id LIMIT $3`,
    [workflowId, options.runId ?? null, options.limit ?? 1000, options.fromRunId ?? null],
  );
  return rows.map(toAssetEvent);
}
