/**
 * Reservations of in-stock assets for distribution (DESIGN §3.3, migration 0015). The API reserves before
 * it starts the process, the process confirms; one row per asset (the primary key), so two processes never
 * hold the same asset. Taking an application happens in the same transaction as the reservation: both or
 * neither.
 */
import * as applications from './applicationsRepo';
import { withTransaction } from './pool';
import { ApplicationUnavailableError, type Application, type Queryable } from './types';
import type pg from 'pg';

export interface Reservation {
  assetNumber: string;
  reservationId: string;
  applicationId: string | null;
  reservedBy: string;
  reservedAt: string;
  confirmedAt: string | null;
}

interface ReservationRow {
  asset_number: string;
  reservation_id: string;
  application_id: string | null;
  reserved_by: string;
  reserved_at: Date;
  confirmed_at: Date | null;
}

function toReservation(r: ReservationRow): Reservation {
  return {
    assetNumber: r.asset_number,
    reservationId: r.reservation_id,
    applicationId: r.application_id,
    reservedBy: r.reserved_by,
    reservedAt: r.reserved_at.toISOString(),
    confirmedAt: r.confirmed_at?.toISOString() ?? null,
  };
}

export interface ReserveRequest {
  reservationId: string;
  reservedBy: string;
  /** The asset an admin chose; without it the best-fitting in-stock asset is picked. */
  assetNumber?: string;
  /** The application the asset goes to: taken (state assigned) in the same transaction. */
  applicationId?: string;
  /** Where the user works, for the pick's preference (the application's own fields win). */
  prefer?: { department?: string; location?: string };
  /** Assets the pick must pass over (found busy with another process after an earlier pick). */
  exclude?: readonly string[];
  /** The workflow id the asset's process runs under (the application records it). */
  workflowIdOf: (assetNumber: string) => string;
}

export type ReserveOutcome =
  | { result: 'reserved'; reservation: Reservation; application?: Application }
  | { result: 'unknown-asset' }
  | { result: 'not-in-stock'; status: string }
  | { result: 'already-reserved'; reservation: Reservation }
  | { result: 'no-stock' }
  | { result: 'unknown-application' }
  | { result: 'application-unavailable'; application: Application };

type Refused = Exclude<ReserveOutcome, { result: 'reserved' }>;

/** Reserves the chosen asset, or picks one, and takes the application: one transaction. */
export async function reserve(pool: pg.Pool, req: ReserveRequest): Promise<ReserveOutcome> {
  try {
    return await withTransaction(pool, async (tx) => {
      const app = req.applicationId ? await applications.get(tx, req.applicationId) : undefined;
      if (app === null) return { result: 'unknown-application' } as const;
      if (app && app.state !== 'pending') return { result: 'application-unavailable', application: app } as const;
      const prefer = app ? { department: app.department, location: app.deliveryLocation } : (req.prefer ?? {});
      const row = req.assetNumber
        ? await reserveChosen(tx, req.assetNumber, req)
        : await reservePicked(tx, req, prefer);
      if ('result' in row) return row;
      const reservation = toReservation(row);
      if (!app) return { result: 'reserved', reservation } as const;
      // Conditional on `pending`: of two requests for one application the second matches nothing here
      // and its reservation rolls back with it.
      const workflowId = req.workflowIdOf(reservation.assetNumber);
      const taken = await applications.assign(tx, app.id, { assetNumber: reservation.assetNumber, workflowId });
      return { result: 'reserved', reservation, application: taken } as const;
    });
  } catch (err) {
    if (err instanceof ApplicationUnavailableError)
      return { result: 'application-unavailable', application: err.application };
    throw err;
  }
}

const INSERT_COLUMNS = 'asset_number, reservation_id, application_id, reserved_by';

async function reserveChosen(
  tx: Queryable,
  assetNumber: string,
  req: ReserveRequest,
): Promise<ReservationRow | Refused> {
  const { rows } = await tx.query<ReservationRow>(
    `INSERT INTO asset_reservations (${INSERT_COLUMNS})
     SELECT asset_number, $2::uuid, $3::uuid, $4::text FROM assets WHERE asset_number = $1 AND status = 'in_stock'
     ON CONFLICT (asset_number) DO NOTHING
     RETURNING *`,
    [assetNumber, req.reservationId, req.applicationId ?? null, req.reservedBy],
  );
  if (rows[0]) return rows[0];
  const asset = await tx.query<{ status: string }>('SELECT status FROM assets WHERE asset_number = $1', [assetNumber]);
  if (!asset.rows[0]) return { result: 'unknown-asset' };
  if (asset.rows[0].status !== 'in_stock') return { result: 'not-in-stock', status: asset.rows[0].status };
  const held = await getForAsset(tx, assetNumber);
  // Released between the insert and this read: say it was reserved, the caller may try again.
  return held ? { result: 'already-reserved', reservation: held } : { result: 'no-stock' };
}

/**
 * The pick, in one statement: the best in-stock asset (the application's department and location first)
 * that no reservation, no open task and no earlier try holds, locked with SKIP LOCKED so concurrent picks
 * each lock a different row, and its reservation inserted. A pick that read before a concurrent one
 * committed can still meet its row (the primary key refuses it): then it picks again with a fresh view.
 */
async function reservePicked(
  tx: Queryable,
  req: ReserveRequest,
  prefer: { department?: string; location?: string },
): Promise<ReservationRow | Refused> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const { rows } = await tx.query<ReservationRow & { picked: string | null }>(
      `WITH pick AS (
         SELECT a.asset_number FROM assets a
          WHERE a.status = 'in_stock'
            AND (a.planned_status IS NULL OR a.planned_status IN ('in_stock', 'in_use'))
            AND NOT EXISTS (SELECT 1 FROM asset_reservations r WHERE r.asset_number = a.asset_number)
            AND NOT EXISTS (SELECT 1 FROM open_tasks t WHERE t.asset_number = a.asset_number)
            AND NOT (a.asset_number = ANY ($4::text[]))
          ORDER BY ($5::text IS NOT NULL AND a.department = $5 AND $6::text IS NOT NULL AND a.location = $6) DESC,
                   ($5::text IS NOT NULL AND a.department = $5) DESC,
                   ($6::text IS NOT NULL AND a.location = $6) DESC,
                   a.asset_number
          LIMIT 1
          FOR UPDATE OF a SKIP LOCKED),
       taken AS (
         INSERT INTO asset_reservations (${INSERT_COLUMNS})
         SELECT asset_number, $1::uuid, $2::uuid, $3::text FROM pick
         ON CONFLICT (asset_number) DO NOTHING
         RETURNING *)
       SELECT (SELECT asset_number FROM pick) AS picked, taken.* FROM (SELECT 1) AS one LEFT JOIN taken ON true`,
      [
        req.reservationId,
        req.applicationId ?? null,
        req.reservedBy,
        [...(req.exclude ?? [])],
        prefer.department ?? null,
        prefer.location ?? null,
      ],
    );
    const row = rows[0]!;
    if (!row.picked) return { result: 'no-stock' };
    if (row.reservation_id) return row;
  }
  return { result: 'no-stock' };
}

export async function getForAsset(db: Queryable, assetNumber: string): Promise<Reservation | null> {
  const { rows } = await db.query<ReservationRow>('SELECT * FROM asset_reservations WHERE asset_number = $1', [
    assetNumber,
  ]);
  return rows[0] ? toReservation(rows[0]) : null;
}

export async function get(db: Queryable, reservationId: string): Promise<Reservation | null> {
  const { rows } = await db.query<ReservationRow>('SELECT * FROM asset_reservations WHERE reservation_id = $1', [
    reservationId,
  ]);
  return rows[0] ? toReservation(rows[0]) : null;
}

/** The process takes the reservation over (the first time only); null when it holds none by that id. */
export async function confirm(db: Queryable, reservationId: string): Promise<Reservation | null> {
  const { rows } = await db.query<ReservationRow>(
    `UPDATE asset_reservations SET confirmed_at = coalesce(confirmed_at, now())
      WHERE reservation_id = $1
      RETURNING *`,
    [reservationId],
  );
  return rows[0] ? toReservation(rows[0]) : null;
}

/** Removes the reservation; returns it, or null when it is already gone (a repeat changes nothing). */
export async function remove(db: Queryable, reservationId: string): Promise<Reservation | null> {
  const { rows } = await db.query<ReservationRow>(
    'DELETE FROM asset_reservations WHERE reservation_id = $1 RETURNING *',
    [reservationId],
  );
  return rows[0] ? toReservation(rows[0]) : null;
}

/**
 * Undoes a reservation whose process never started (the start failed or found the device busy, or the API
 * stopped between the two): the reservation goes and the application it took is pending again, in one
 * transaction. Only while no process has confirmed it: a confirmed one belongs to its process.
 */
export async function releaseUnstarted(pool: pg.Pool, reservationId: string, workflowId: string): Promise<boolean> {
  return withTransaction(pool, async (tx) => {
    const { rows } = await tx.query<ReservationRow>(
      'DELETE FROM asset_reservations WHERE reservation_id = $1 AND confirmed_at IS NULL RETURNING *',
      [reservationId],
    );
    const gone = rows[0];
    if (gone?.application_id) await applications.releaseReservation(tx, gone.application_id, workflowId);
    return gone !== undefined;
  });
}

/** Reservations no process has confirmed for longer than `olderThanMs`, oldest first. */
export async function listUnconfirmed(db: Queryable, olderThanMs: number, limit: number): Promise<Reservation[]> {
  const { rows } = await db.query<ReservationRow>(
    `SELECT * FROM asset_reservations
      WHERE confirmed_at IS NULL AND reserved_at < now() - $1::double precision * interval '1 millisecond'
      ORDER BY reserved_at
      LIMIT $2`,
    [olderThanMs, limit],
  );
  return rows.map(toReservation);
}
