/**
 * Collection campaigns (DESIGN §3.1), read in SQL alone: a campaign is a bulk request of kind
 * `collections` (its id is the campaign id, migrations 0004 and 0014), and each started row names its
 * process by workflow id and first run id. What happened to the device comes from the audit trail that
 * process wrote (asset_events, keyed by workflow id): `device-collected` is the collection report, written
 * in the transaction that closes the collection task; `cancelled` / `aborted` its stop. No workflow is asked.
 *
 * A workflow id is one per device (`device-<asset>`) and reused by the device's later processes, so a
 * process's events are those from its first run's first event up to the next process's start (the next
 * `collection-scheduled` of another run chain).
 */
import { japaneseOrderBy } from './japaneseCollation';
import type { BulkResult } from './bulkRequestsRepo';
import type { Queryable } from './types';

export type DeviceState = 'not-started' | 'starting' | 'outstanding' | 'collected' | 'cancelled' | 'aborted';

export interface CampaignHeader {
  id: string;
  requestedBy: string;
  createdAt: string;
  /** How the devices were chosen and the fields the processes share (null for a request from before 0014). */
  campaign: Record<string, unknown> | null;
  cancelledAt: string | null;
  cancelledBy: string | null;
}

export interface CampaignDevice {
  position: number;
  assetNumber: string;
  result: BulkResult;
  workflowId: string | null;
  runId: string | null;
  error: { code: string; message: string; details?: unknown } | null;
  /** The device's own planned date its process was started with (YYYY-MM-DD). */
  plannedDate: string | null;
  /** Where the device was when the campaign started. */
  department: string | null;
  location: string | null;
  state: DeviceState;
  /** Outstanding and its planned day is over (UTC). */
  overdue: boolean;
  collectedAt: string | null;
  /** Who collected it, as the report says; and who reported it (the authenticated actor). */
  collectedBy: string | null;
  reportedBy: string | null;
  storageLocation: string | null;
  stoppedAt: string | null;
}

export interface CampaignGroup {
  department: string;
  location: string;
  devices: number;
  collected: number;
  outstanding: number;
  overdue: number;
  stopped: number;
}

/** Assets the campaign's selection takes, in planned-date order, and whether more match than `limit`. */
export async function selectForCollection(
  db: Queryable,
  selection: { plannedStatus: string; plannedDateFrom: string; plannedDateTo: string },
  limit: number,
): Promise<{ assetNumbers: string[]; more: boolean }> {
  // A device already in the planned status (in stock) has nothing left to collect.
  const { rows } = await db.query<{ asset_number: string }>(
    `SELECT asset_number FROM assets
      WHERE planned_status = $1 AND status <> $1 AND planned_date BETWEEN $2::date AND $3::date
      ORDER BY planned_date, asset_number LIMIT $4`,
    [selection.plannedStatus, selection.plannedDateFrom, selection.plannedDateTo, limit + 1],
  );
  return { assetNumbers: rows.slice(0, limit).map((r) => r.asset_number), more: rows.length > limit };
}

/** The campaign, or null: unknown id, or a bulk request that is not a collection campaign. */
export async function getHeader(db: Queryable, id: string): Promise<CampaignHeader | null> {
  const { rows } = await db.query<{
    id: string;
    requested_by: string;
    created_at: Date;
    campaign: Record<string, unknown> | null;
    cancelled_at: Date | null;
    cancelled_by: string | null;
  }>(
    `SELECT id, requested_by, created_at, campaign, cancelled_at, cancelled_by
       FROM bulk_requests WHERE id = $1 AND kind = 'collections'`,
    [id],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    id: r.id,
    requestedBy: r.requested_by,
    createdAt: r.created_at.toISOString(),
    campaign: r.campaign,
    cancelledAt: r.cancelled_at?.toISOString() ?? null,
    cancelledBy: r.cancelled_by,
  };
}

/**
 * One row per listed asset number with what its process did (see the file comment). `$1` the campaign id,
 * `$2` now (the API's clock): overdue is outstanding past its own planned day.
 */
const DEVICES = `
  WITH items AS (
    SELECT i.position, i.asset_number, i.result, i.workflow_id, i.run_id, i.error,
           i.planned_date, i.department, i.location,
           (SELECT min(e.occurred_at) FROM asset_events e
             WHERE e.workflow_id = i.workflow_id AND e.run_id = i.run_id) AS began
      FROM bulk_request_items i
     WHERE i.bulk_id = $1
  ), spans AS (
    SELECT it.*,
           (SELECT min(e.occurred_at) FROM asset_events e
             WHERE e.workflow_id = it.workflow_id AND e.event_type = 'collection-scheduled'
               AND e.occurred_at > it.began AND e.run_id <> it.run_id) AS ended
      FROM items it
  ), facts AS (
    SELECT s.*, c.occurred_at AS collected_at, c.actor AS reported_by, c.details ->> 'collectedBy' AS collected_by,
           coalesce(c.details ->> 'storageLocation', r.details ->> 'storageLocation') AS storage_location,
           st.event_type AS stopped, st.occurred_at AS stopped_at
      FROM spans s
      LEFT JOIN LATERAL (
        SELECT e.occurred_at, e.actor, e.details FROM asset_events e
         WHERE e.workflow_id = s.workflow_id AND e.event_type = 'device-collected'
           AND e.occurred_at >= s.began AND (s.ended IS NULL OR e.occurred_at < s.ended)
         ORDER BY e.occurred_at, e.id LIMIT 1) c ON true
      LEFT JOIN LATERAL (
        SELECT e.details FROM asset_events e
         WHERE e.workflow_id = s.workflow_id AND e.event_type = 'returned-to-stock'
           AND e.occurred_at >= s.began AND (s.ended IS NULL OR e.occurred_at < s.ended)
         ORDER BY e.occurred_at, e.id LIMIT 1) r ON true
      LEFT JOIN LATERAL (
        SELECT e.event_type, e.occurred_at FROM asset_events e
         WHERE e.workflow_id = s.workflow_id AND e.event_type IN ('cancelled', 'aborted')
           AND e.occurred_at >= s.began AND (s.ended IS NULL OR e.occurred_at < s.ended)
         ORDER BY e.occurred_at, e.id LIMIT 1) st ON true
  ), devices AS (
    SELECT f.*,
           CASE
             WHEN f.result = 'pending' THEN 'starting'
             WHEN f.result <> 'started' THEN 'not-started'
             WHEN f.collected_at IS NOT NULL THEN 'collected'
             WHEN f.stopped IS NOT NULL THEN f.stopped
             ELSE 'outstanding'
           END AS state
      FROM facts f
  )`;

const OVERDUE = `(d.state = 'outstanding' AND d.planned_date < ($2::timestamptz AT TIME ZONE 'UTC')::date)`;

interface DeviceRow {
  position: number;
  asset_number: string;
  result: BulkResult;
  workflow_id: string | null;
  run_id: string | null;
  error: CampaignDevice['error'];
  planned_date: string | null;
  department: string | null;
  location: string | null;
  state: DeviceState;
  overdue: boolean;
  collected_at: Date | null;
  collected_by: string | null;
  reported_by: string | null;
  storage_location: string | null;
  stopped_at: Date | null;
}

function toDevice(r: DeviceRow): CampaignDevice {
  return {
    position: r.position,
    assetNumber: r.asset_number,
    result: r.result,
    workflowId: r.workflow_id,
    runId: r.run_id,
    error: r.error,
    plannedDate: r.planned_date,
    department: r.department,
    location: r.location,
    state: r.state,
    overdue: r.overdue,
    collectedAt: r.collected_at?.toISOString() ?? null,
    collectedBy: r.collected_by,
    reportedBy: r.reported_by,
    storageLocation: r.storage_location,
    stoppedAt: r.stopped_at?.toISOString() ?? null,
  };
}

/**
 * Every listed asset number with what its process did: in the campaign's order, or (`list`) in the
 * lists' order (department, location, asset number at the start; Japanese collation; numbers that are no
 * asset, having no department, last).
 */
export async function devices(
  db: Queryable,
  id: string,
  now: Date,
  order: 'campaign' | 'list' = 'campaign',
): Promise<CampaignDevice[]> {
  // NULLs sort last in ascending order: the rows of unknown assets (no department) come at the end.
  const orderBy =
    order === 'campaign'
      ? 'ORDER BY d.position'
      : `${japaneseOrderBy('d.department', 'd.location', 'd.asset_number')}, d.position`;
  const { rows } = await db.query<DeviceRow>(
    `${DEVICES}
     SELECT d.position, d.asset_number, d.result, d.workflow_id, d.run_id, d.error, d.planned_date::text AS planned_date,
            d.department, d.location, d.state, ${OVERDUE} AS overdue, d.collected_at, d.collected_by, d.reported_by,
            d.storage_location, d.stopped_at
       FROM devices d ${orderBy}`,
    [id, now.toISOString()],
  );
  return rows.map(toDevice);
}

/** Started devices counted by the department and location they had at the start, in Japanese order. */
export async function groups(db: Queryable, id: string, now: Date): Promise<CampaignGroup[]> {
  const { rows } = await db.query<{
    department: string;
    location: string;
    devices: string;
    collected: string;
    outstanding: string;
    overdue: string;
    stopped: string;
  }>(
    `${DEVICES}
     SELECT d.department, d.location, count(*) AS devices,
            count(*) FILTER (WHERE d.state = 'collected') AS collected,
            count(*) FILTER (WHERE d.state = 'outstanding') AS outstanding,
            count(*) FILTER (WHERE ${OVERDUE}) AS overdue,
            count(*) FILTER (WHERE d.state IN ('cancelled', 'aborted')) AS stopped
       FROM devices d
      WHERE d.result IN ('started', 'pending')
      GROUP BY d.department, d.location
      ${japaneseOrderBy('d.department', 'd.location')}`,
    [id, now.toISOString()],
  );
  return rows.map((r) => ({
    department: r.department,
    location: r.location,
    devices: Number(r.devices),
    collected: Number(r.collected),
    outstanding: Number(r.outstanding),
    overdue: Number(r.overdue),
    stopped: Number(r.stopped),
  }));
}

export interface ListRow {
  assetNumber: string;
  department: string;
  location: string;
  userName: string | null;
  userEmail: string | null;
  userPhone: string | null;
}

/**
 * The campaign's collection list: its devices still to collect (outstanding), as the asset database holds
 * them now, sorted as the collection list is (department, location, asset number; Japanese collation).
 */
export async function collectionList(db: Queryable, id: string): Promise<ListRow[]> {
  const { rows } = await db.query<{
    asset_number: string;
    department: string;
    location: string;
    user_name: string | null;
    user_email: string | null;
    user_phone: string | null;
  }>(
    `${DEVICES}
     SELECT a.asset_number, a.department, a.location, a.user_name, a.user_email, a.user_phone
       FROM devices d JOIN assets a ON a.asset_number = d.asset_number
      WHERE d.state = 'outstanding'
      ${japaneseOrderBy('a.department', 'a.location', 'a.asset_number')}`,
    [id],
  );
  return rows.map((r) => ({
    assetNumber: r.asset_number,
    department: r.department,
    location: r.location,
    userName: r.user_name,
    userEmail: r.user_email,
    userPhone: r.user_phone,
  }));
}

/** Records who cancelled the campaign and when (the latest request; each device has its own result). */
export async function markCancelled(db: Queryable, id: string, by: string): Promise<void> {
  await db.query('UPDATE bulk_requests SET cancelled_at = now(), cancelled_by = $2 WHERE id = $1', [id, by]);
}
