/**
 * Assets: reads, lists, create-or-update, and the step updates workflows make. A step update changes the
 * asset and writes its audit event in one transaction, keyed by an idempotency key, so a retried activity
 * changes nothing twice; concurrent updates of one asset are serialised by a row lock, and a caller that
 * read an older version can insist on it (`expectedVersion`).
 */
import type { PoolClient } from 'pg';
import {
  assertSameEvent,
  getByIdempotencyKey,
  parseEventInput,
  record,
  toAssetEvent,
  type AssetEventRow,
} from './assetEventsRepo';
import { inTransaction } from './pool';
import { japaneseOrderBy } from './japaneseCollation';
import {
  ASSET_NUMBER_PATTERN,
  ASSET_STATUSES,
  assetInputSchema,
  assetNumberSchema,
  assetPatchSchema,
  ConcurrentUpdateError,
  IdempotencyKeyConflictError,
  InvalidCursorError,
  InvalidInputError,
  NotFoundError,
  translateDbError,
  type Asset,
  type AssetEvent,
  type AssetInput,
  type AssetListFilters,
  type AssetPatch,
  type AssetPlatform,
  type AssetStatus,
  type EventInput,
  type Page,
  type Queryable,
} from './types';

interface AssetRow {
  asset_number: string;
  serial_number: string;
  model: string;
  mdm_device_id: string | null;
  status: AssetStatus;
  planned_status: AssetStatus | null;
  planned_date: string | null;
  department: string;
  location: string;
  user_name: string | null;
  user_email: string | null;
  user_phone: string | null;
  platform: AssetPlatform;
  version: number;
  created_at: Date;
  updated_at: Date;
}

// planned_date as text: the driver would turn a `date` into a local-midnight Date and shift the day.
const COLUMNS = `asset_number, serial_number, model, mdm_device_id, status, planned_status,
  planned_date::text AS planned_date, department, location, user_name, user_email, user_phone, platform,
  version, created_at, updated_at`;

const PATCH_COLUMNS: Record<keyof AssetPatch, string> = {
  serialNumber: 'serial_number',
  model: 'model',
  mdmDeviceId: 'mdm_device_id',
  status: 'status',
  plannedStatus: 'planned_status',
  plannedDate: 'planned_date',
  department: 'department',
  location: 'location',
  userName: 'user_name',
  userEmail: 'user_email',
  userPhone: 'user_phone',
  platform: 'platform',
};

function toAsset(row: AssetRow): Asset {
  return {
    assetNumber: row.asset_number,
    serialNumber: row.serial_number,
    model: row.model,
    mdmDeviceId: row.mdm_device_id,
    status: row.status,
    plannedStatus: row.planned_status,
    plannedDate: row.planned_date,
    department: row.department,
    location: row.location,
    userName: row.user_name,
    userEmail: row.user_email,
    userPhone: row.user_phone,
    platform: row.platform,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

function parseAssetNumber(assetNumber: string): string {
  const parsed = assetNumberSchema.safeParse(assetNumber);
  if (!parsed.success) throw InvalidInputError.fromZod('asset number', parsed.error);
  return parsed.data;
}

// ---------------------------------------------------------------------------------------------- reads

export async function get(db: Queryable, assetNumber: string): Promise<Asset | null> {
  const { rows } = await db.query<AssetRow>(`SELECT ${COLUMNS} FROM assets WHERE asset_number = $1`, [
    parseAssetNumber(assetNumber),
  ]);
  return rows[0] ? toAsset(rows[0]) : null;
}

/**
 * The assets with these numbers, in one query (a campaign of a thousand devices is one round trip, not a
 * thousand). Every number is validated first; numbers the database does not know are absent from the map.
 */
export async function getMany(db: Queryable, assetNumbers: readonly string[]): Promise<Map<string, Asset>> {
  const numbers = [...new Set(assetNumbers.map(parseAssetNumber))];
  if (numbers.length === 0) return new Map();
  const { rows } = await db.query<AssetRow>(`SELECT ${COLUMNS} FROM assets WHERE asset_number = ANY($1::text[])`, [
    numbers,
  ]);
  return new Map(rows.map((row) => [row.asset_number, toAsset(row)]));
}

/**
 * The asset, its row locked until the transaction ends (null when there is none): an edit checks its
 * version and the fields it changes against what it locked, so nothing slips in between check and write.
 */
export async function getForUpdate(client: PoolClient, assetNumber: string): Promise<Asset | null> {
  const { rows } = await client.query<AssetRow>(`SELECT ${COLUMNS} FROM assets WHERE asset_number = $1 FOR UPDATE`, [
    parseAssetNumber(assetNumber),
  ]);
  return rows[0] ? toAsset(rows[0]) : null;
}

/**
 * The audit events that changed the asset after `version`, oldest first: each carries the fields it changed
 * (before and after) and the version it produced, so a stale edit can be told what changed, by whom and when.
 */
export async function changesSince(
  db: Queryable,
  assetNumber: string,
  version: number,
  limit = 50,
): Promise<AssetEvent[]> {
  const { rows } = await db.query<AssetEventRow>(
    `SELECT * FROM asset_events
      WHERE asset_number = $1 AND asset_version > $2 AND changes IS NOT NULL AND changes <> '{}'::jsonb
      ORDER BY asset_version, id LIMIT $3`,
    [parseAssetNumber(assetNumber), version, limit],
  );
  return rows.map(toAssetEvent);
}

export async function getBySerialNumber(db: Queryable, serialNumber: string): Promise<Asset | null> {
  const { rows } = await db.query<AssetRow>(`SELECT ${COLUMNS} FROM assets WHERE serial_number = $1`, [serialNumber]);
  return rows[0] ? toAsset(rows[0]) : null;
}

export async function getByMdmDeviceId(db: Queryable, mdmDeviceId: string): Promise<Asset | null> {
  const { rows } = await db.query<AssetRow>(`SELECT ${COLUMNS} FROM assets WHERE mdm_device_id = $1`, [mdmDeviceId]);
  return rows[0] ? toAsset(rows[0]) : null;
}

export const MAX_PAGE_SIZE = 500;

function encodeCursor(assetNumber: string): string {
  return Buffer.from(JSON.stringify({ after: assetNumber })).toString('base64url');
}

function decodeCursor(cursor: string): string {
  try {
    const { after } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { after?: unknown };
    if (typeof after === 'string' && ASSET_NUMBER_PATTERN.test(after)) return after;
  } catch {
    // fall through: any undecodable cursor is simply invalid
  }
  throw new InvalidCursorError();
}

/** Assets in asset-number order, keyset-paginated (stable while rows are added or changed). */
export async function list(
  db: Queryable,
  options: { cursor?: string | null; limit?: number; filters?: AssetListFilters } = {},
): Promise<Page<Asset>> {
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? 50), 1), MAX_PAGE_SIZE);
  const f = options.filters ?? {};
  const { rows } = await db.query<AssetRow>(
    `SELECT ${COLUMNS} FROM assets
      WHERE ($1::text IS NULL OR asset_number > $1)
        AND ($2::text IS NULL OR status = $2)
        AND ($3::text IS NULL OR planned_status = $3)
        AND ($4::text IS NULL OR department = $4)
        AND ($5::text IS NULL OR location = $5)
        AND ($6::text IS NULL OR lower(user_email) = lower($6))
      ORDER BY asset_number
      LIMIT $7`,
    [
      options.cursor ? decodeCursor(options.cursor) : null,
      f.status ?? null,
      f.plannedStatus ?? null,
      f.department ?? null,
      f.location ?? null,
      f.userEmail ?? null,
      limit + 1,
    ],
  );
  const items = rows.slice(0, limit).map(toAsset);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.assetNumber) : null };
}

// ---------------------------------------------------------------------------------------------- reports

// Asset numbers (A-000123) sort the same in any collation; Japanese department and location names do not.
const REPORT_ORDER = japaneseOrderBy('department', 'location', 'asset_number');

/** Devices due for collection: planned status in stock and not yet back in stock. */
export async function collectionList(db: Queryable): Promise<Asset[]> {
  const { rows } = await db.query<AssetRow>(
    `SELECT ${COLUMNS} FROM assets WHERE planned_status = 'in_stock' AND status <> 'in_stock' ${REPORT_ORDER}`,
  );
  return rows.map(toAsset);
}

/**
 * Devices assigned to a user and not yet delivered, whichever process assigned them: those whose process
 * waits for the delivery (an open `deliver-device` task in the task index). A process opens that task once
 * the user is assigned and closes it in the transaction that records the delivery report, or its cancel or
 * abort. Neither a planned status (assigning clears it) nor an application (claimed before the assignment;
 * none when the user is given directly) says "assigned, not delivered".
 */
export async function distributionList(db: Queryable): Promise<Asset[]> {
  const { rows } = await db.query<AssetRow>(
    `SELECT ${COLUMNS} FROM assets a
      WHERE EXISTS (SELECT 1 FROM open_tasks t WHERE t.asset_number = a.asset_number AND t.task_type = 'deliver-device')
      ${REPORT_ORDER}`,
  );
  return rows.map(toAsset);
}

/** One row per planned status (null = none planned), zero counts included, in ASSET_STATUSES order. */
export async function countByPlannedStatus(
  db: Queryable,
): Promise<{ plannedStatus: AssetStatus | null; count: number }[]> {
  const { rows } = await db.query<{ planned_status: AssetStatus | null; count: string }>(
    'SELECT planned_status, count(*) AS count FROM assets GROUP BY planned_status',
  );
  const counts = new Map(rows.map((r) => [r.planned_status, Number(r.count)]));
  return [...ASSET_STATUSES, null].map((s) => ({ plannedStatus: s, count: counts.get(s) ?? 0 }));
}

// ---------------------------------------------------------------------------------------------- writes

export interface ChangeResult {
  asset: Asset;
  /** The event of this change; on a replay, the one stored by the first call. */
  event: AssetEvent | null;
  /** False when the idempotency key had already been used: nothing was written this time. */
  applied: boolean;
}

/**
 * One step's change to an asset and its audit event, atomically and exactly once per idempotency key.
 * With `expectedVersion`, a caller that read an older version gets ConcurrentUpdateError instead of
 * overwriting someone else's change. A replay with the same key returns the stored event and the current
 * asset, even when the asset has moved on since (so a retried activity never fails on its own success).
 */
export async function applyChange(
  db: Queryable,
  assetNumber: string,
  patch: AssetPatch,
  options: { event: EventInput; expectedVersion?: number },
): Promise<ChangeResult> {
  const parsed = assetPatchSchema.safeParse(patch);
  if (!parsed.success) throw InvalidInputError.fromZod('asset change', parsed.error);
  const event = parseEventInput(options.event);
  const number = parseAssetNumber(assetNumber);
  try {
    return await inTransaction(db, (client) =>
      changeLocked(client, number, parsed.data, event, options.expectedVersion),
    );
  } catch (err) {
    throw translateDbError(err);
  }
}

async function lockAsset(client: PoolClient, assetNumber: string): Promise<Asset> {
  const { rows } = await client.query<AssetRow>(`SELECT ${COLUMNS} FROM assets WHERE asset_number = $1 FOR UPDATE`, [
    assetNumber,
  ]);
  if (!rows[0]) throw new NotFoundError('asset', assetNumber);
  return toAsset(rows[0]);
}

async function changeLocked(
  client: PoolClient,
  assetNumber: string,
  patch: AssetPatch,
  event: EventInput | undefined,
  expectedVersion: number | undefined,
): Promise<ChangeResult> {
  // The row lock comes first: a concurrent call with the same key waits here, then sees the stored event.
  const current = await lockAsset(client, assetNumber);
  if (event) {
    const existing = await getByIdempotencyKey(client, event.idempotencyKey);
    if (existing) {
      assertSameEvent(existing, assetNumber, event.eventType);
      return { asset: current, event: existing, applied: false };
    }
  }
  if (expectedVersion !== undefined && expectedVersion !== current.version) {
    throw new ConcurrentUpdateError(assetNumber, expectedVersion, current.version);
  }
  const changes = diff(current, patch);
  const asset = Object.keys(changes).length > 0 ? await update(client, assetNumber, patch, changes) : current;
  if (!event) return { asset, event: null, applied: Object.keys(changes).length > 0 };
  const recorded = await record(client, assetNumber, event, {
    changes,
    assetVersion: asset.version,
  });
  return { asset, event: recorded.event, applied: true };
}

/** The fields whose value actually changes, with before and after (unchanged fields do not bump the version). */
function diff(current: Asset, patch: AssetPatch): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const [key, to] of Object.entries(patch)) {
    if (to === undefined) continue;
    const from = current[key as keyof AssetPatch] ?? null;
    if (from !== to) changes[key] = { from, to };
  }
  return changes;
}

async function update(
  client: PoolClient,
  assetNumber: string,
  patch: AssetPatch,
  changes: Record<string, unknown>,
): Promise<Asset> {
  const keys = Object.keys(changes) as (keyof AssetPatch)[];
  const sets = keys.map((k, i) => `${PATCH_COLUMNS[k]} = $${i + 2}`);
  const { rows } = await client.query<AssetRow>(
    `UPDATE assets SET ${sets.join(', ')}, version = version + 1, updated_at = now()
      WHERE asset_number = $1 RETURNING ${COLUMNS}`,
    [assetNumber, ...keys.map((k) => patch[k] ?? null)],
  );
  return toAsset(rows[0]!);
}

export interface UpsertResult {
  asset: Asset;
  created: boolean;
  /** The audit event written (or found, on a replay); null when no audit was asked for. */
  event: AssetEvent | null;
  /** False when nothing changed (same values, or a replayed idempotency key). */
  applied: boolean;
}

/** Who made an upsert, for the audit trail; the event type defaults to asset-created / asset-updated. */
export type UpsertAudit = Omit<EventInput, 'eventType'> & { eventType?: string };

/**
 * Creates the asset, or updates the fields given (absent optional fields stay as they are). With `audit`,
 * writes an `asset-created` / `asset-updated` event in the same transaction, once per idempotency key.
 */
export async function upsert(db: Queryable, input: AssetInput, audit?: UpsertAudit): Promise<UpsertResult> {
  const parsed = assetInputSchema.safeParse(input);
  if (!parsed.success) throw InvalidInputError.fromZod('asset', parsed.error);
  const { assetNumber, ...patch } = parsed.data;
  try {
    return await inTransaction(db, async (client) => {
      const inserted = await insertIfAbsent(client, parsed.data);
      if (inserted) {
        const event = audit ? await recordCreation(client, inserted, audit) : null;
        return { asset: inserted, created: true, event, applied: true };
      }
      const event = audit ? parseEventInput({ eventType: 'asset-updated', ...audit }) : undefined;
      const replay = event ? await findReplay(client, assetNumber, event.idempotencyKey) : null;
      if (replay) return replay;
      const result = await changeLocked(client, assetNumber, patch, event, undefined);
      return { ...result, created: false };
    });
  } catch (err) {
    throw translateDbError(err);
  }
}

/**
 * A repeated audited upsert returns what the first call did, whether that was a creation or an update
 * (so the API can answer a retried request exactly as it answered the first).
 */
async function findReplay(
  client: PoolClient,
  assetNumber: string,
  idempotencyKey: string,
): Promise<UpsertResult | null> {
  const asset = await lockAsset(client, assetNumber);
  const existing = await getByIdempotencyKey(client, idempotencyKey);
  if (!existing) return null;
  if (existing.assetNumber !== assetNumber) throw new IdempotencyKeyConflictError(idempotencyKey, existing);
  return { asset, created: existing.eventType === 'asset-created', event: existing, applied: false };
}

async function insertIfAbsent(client: PoolClient, input: AssetInput): Promise<Asset | null> {
  const { rows } = await client.query<AssetRow>(
    `INSERT INTO assets (asset_number, serial_number, model, mdm_device_id, status, planned_status,
                         planned_date, department, location, user_name, user_email, user_phone, platform)
     VALUES ($1, $2, $3, $4, coalesce($5, 'in_stock'), $6, $7, $8, $9, $10, $11, $12, coalesce($13, 'ios'))
     ON CONFLICT (asset_number) DO NOTHING
     RETURNING ${COLUMNS}`,
    [
      input.assetNumber,
      input.serialNumber,
      input.model,
      input.mdmDeviceId ?? null,
      input.status ?? null,
      input.plannedStatus ?? null,
      input.plannedDate ?? null,
      input.department,
      input.location,
      input.userName ?? null,
      input.userEmail ?? null,
      input.userPhone ?? null,
      input.platform ?? null,
    ],
  );
  return rows[0] ? toAsset(rows[0]) : null;
}

async function recordCreation(client: PoolClient, asset: Asset, audit: UpsertAudit): Promise<AssetEvent> {
  const changes = diff({} as Asset, stripMeta(asset));
  const { event } = await record(
    client,
    asset.assetNumber,
    { eventType: 'asset-created', ...audit },
    { changes, assetVersion: asset.version },
  );
  return event;
}

function stripMeta(asset: Asset): AssetPatch {
  const { assetNumber: _a, version: _v, createdAt: _c, updatedAt: _u, ...fields } = asset;
  return fields;
}
