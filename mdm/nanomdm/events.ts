/**
 * What NanoMDM's webhook tells us (its service/webhook/event.json, MicroMDM-compatible): check-ins
 * (mdm.Authenticate, mdm.TokenUpdate, mdm.CheckOut) and command answers (mdm.Connect), each with the
 * device's raw plist. Every event is applied in one transaction and idempotently; commands it gives rise
 * to are enqueued afterwards by the caller.
 */
import * as plist from 'plist';
import type pg from 'pg';
import { withTransaction } from '../../db/pool';
import { derivedUuid, deviceInformation, profileList } from './appleCommands';
import { progressJob } from './jobs';
import { profilesFromProfileList } from './profiles';
import { addCommand } from './store';

export interface WebhookEvent {
  topic: string;
  checkin_event?: { ids?: { id?: string }; udid?: string; raw_payload?: string; token_update_tally?: number };
  acknowledge_event?: {
    ids?: { id?: string };
    udid?: string;
    status?: string;
    command_uuid?: string;
    raw_payload?: string;
  };
}

type Payload = Record<string, unknown>;

function decode(raw: string | undefined): Payload {
  if (!raw) return {};
  const parsed = plist.parse(Buffer.from(raw, 'base64').toString('utf8'));
  return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Payload) : {};
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

/** Applies one webhook event; returns the enrolment it concerned (to enqueue what it gave rise to). */
export async function applyEvent(db: pg.Pool, event: WebhookEvent): Promise<string | undefined> {
  const checkin = event.checkin_event;
  const ack = event.acknowledge_event;
  const id = checkin?.ids?.id ?? checkin?.udid ?? ack?.ids?.id ?? ack?.udid;
  if (!id) return undefined;
  await withTransaction(db, async (tx) => {
    // Every writer takes the device row first (sendCommand too), then its jobs: one lock order, no deadlock.
    await tx.query('SELECT 1 FROM nanomdm_devices WHERE enrollment_id = $1 FOR UPDATE', [id]);
    switch (event.topic) {
      case 'mdm.Authenticate':
        return authenticated(tx, id, decode(checkin?.raw_payload));
      case 'mdm.TokenUpdate':
        return tokenUpdated(tx, id, checkin?.token_update_tally);
      case 'mdm.CheckOut':
        return checkedOut(tx, id);
      case 'mdm.Connect':
        if (ack?.command_uuid && ack.status && ack.status !== 'Idle') {
          return answered(tx, id, ack.command_uuid, ack.status, decode(ack.raw_payload));
        }
    }
  });
  return id;
}

// NanoMDM posts each webhook event from its own goroutine, so a TokenUpdate may arrive before its
// Authenticate. Either one of a new enrolment (no row yet, or the last enrolment ended: checked out,
// erased, inactivated or forgotten) starts it afresh; the other then only adds what it knows. Only the
// enrolment's own TokenUpdate (NanoMDM's token_update_tally 1) may do so: devices repeat TokenUpdate
// later, and those must not bring a forgotten or inactivated enrolment back.
const ENDED =
  'checked_out_at IS NOT NULL OR wiped_at IS NOT NULL OR inactive_at IS NOT NULL OR forgotten_at IS NOT NULL';
const FRESH = `enrolled_at = now(), token_updated_at = NULL, checked_out_at = NULL, wiped_at = NULL,
  inactive_at = NULL, inactivation_forced = false, forgotten_at = NULL, profiles = NULL, profiles_seen_at = NULL`;

async function startEnrolmentIfNew(tx: pg.PoolClient, id: string): Promise<void> {
  await tx.query(
    `INSERT INTO nanomdm_devices (enrollment_id, serial_number) VALUES ($1, '') ON CONFLICT (enrollment_id) DO NOTHING`,
    [id],
  );
  await tx.query(`UPDATE nanomdm_devices SET ${FRESH}, updated_at = now() WHERE enrollment_id = $1 AND (${ENDED})`, [
    id,
  ]);
}

async function authenticated(tx: pg.PoolClient, id: string, p: Payload): Promise<void> {
  await startEnrolmentIfNew(tx, id);
  await tx.query(
    `UPDATE nanomdm_devices SET serial_number = coalesce($2, serial_number), model = coalesce($3, model),
            updated_at = now() WHERE enrollment_id = $1`,
    [id, str(p.SerialNumber) ?? null, str(p.ProductName) ?? str(p.Model) ?? null],
  );
}

/** The first TokenUpdate completes the enrolment; we then ask for the device's details and profiles. */
async function tokenUpdated(tx: pg.PoolClient, id: string, tally: number | undefined): Promise<void> {
  if (tally === undefined || tally <= 1) await startEnrolmentIfNew(tx, id);
  const { rows } = await tx.query<{ enrolled_at: Date }>(
    `UPDATE nanomdm_devices SET token_updated_at = now(), updated_at = now()
      WHERE enrollment_id = $1 AND token_updated_at IS NULL RETURNING enrolled_at`,
    [id],
  );
  if (!rows[0]) return;
  const enrolment = `${id}@${rows[0].enrolled_at.toISOString()}`;
  await addCommand(tx, id, null, 'enrol:information', deviceInformation(derivedUuid(enrolment, 'information')));
  await addCommand(tx, id, null, 'enrol:profiles', profileList(derivedUuid(enrolment, 'profiles')));
}

/** CheckOut: the enrolment profile is gone (what else the device keeps, it last told us in ProfileList). */
async function checkedOut(tx: pg.PoolClient, id: string): Promise<void> {
  await tx.query(
    `UPDATE nanomdm_devices SET checked_out_at = coalesce(checked_out_at, now()), updated_at = now(),
       profiles = (SELECT coalesce(jsonb_agg(p), '[]'::jsonb) FROM jsonb_array_elements(profiles) p
                    WHERE p->>'kind' <> 'mdm')
      WHERE enrollment_id = $1`,
    [id],
  );
  await progressOpenJobs(tx, id);
}

async function answered(tx: pg.PoolClient, id: string, uuid: string, status: string, p: Payload): Promise<void> {
  const chain = p.ErrorChain ?? null;
  await tx.query(
    'INSERT INTO nanomdm_results (command_uuid, enrollment_id, status, error_chain) VALUES ($1, $2, $3, $4)',
    [uuid, id, status, chain === null ? null : JSON.stringify(chain)],
  );
  const result = {
    ...(p.ProfileList !== undefined ? { ProfileList: p.ProfileList } : {}),
    ...(p.QueryResponses !== undefined ? { QueryResponses: p.QueryResponses } : {}),
  };
  const { rows } = await tx.query<{ request_type: string; job_id: string | null }>(
    `UPDATE nanomdm_commands SET status = $2, error_chain = $3, result = $4, answered_at = now()
      WHERE command_uuid = $1 AND (status IS NULL OR status = 'NotNow') RETURNING request_type, job_id`,
    [uuid, status, chain === null ? null : JSON.stringify(chain), JSON.stringify(result)],
  );
  const command = rows[0];
  if (!command) return;
  if (status === 'Acknowledged') await takeInventory(tx, id, command.request_type, p);
  if (command.job_id) await progressJob(tx, command.job_id);
}

/** ProfileList and DeviceInformation answers update what the port shows of the device. */
async function takeInventory(tx: pg.PoolClient, id: string, requestType: string, p: Payload): Promise<void> {
  if (requestType === 'ProfileList') {
    await tx.query(
      `UPDATE nanomdm_devices SET profiles = $2, profiles_seen_at = now(), updated_at = now() WHERE enrollment_id = $1`,
      [id, JSON.stringify(profilesFromProfileList(p.ProfileList))],
    );
  }
  if (requestType === 'DeviceInformation') {
    const q = (p.QueryResponses ?? {}) as Payload;
    await tx.query(
      `UPDATE nanomdm_devices SET serial_number = coalesce($2, serial_number),
              model = coalesce($3, model), updated_at = now() WHERE enrollment_id = $1`,
      [id, str(q.SerialNumber) ?? null, str(q.ProductName) ?? str(q.Model) ?? null],
    );
  }
}

async function progressOpenJobs(tx: pg.PoolClient, id: string): Promise<void> {
  const { rows } = await tx.query<{ job_id: string }>(
    `SELECT job_id FROM nanomdm_jobs WHERE enrollment_id = $1 AND status IN ('queued', 'acknowledged')`,
    [id],
  );
  for (const r of rows) await progressJob(tx, r.job_id);
}
