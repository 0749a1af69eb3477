/**
 * The adapter's PostgreSQL memory (migration 0009): devices seen, jobs by idempotency key, the Apple
 * commands of each job and every answer. Writes are idempotent: a check-in or answer delivered twice
 * leaves the same rows.
 */
import type pg from 'pg';
import type { MdmCommandStatus, MdmCommandType, MdmDevice, MdmJobStatus, MdmProfile } from '../port';
import type { AppleCommand } from './appleCommands';

type Db = pg.Pool | pg.PoolClient;

export interface DeviceRow {
  enrollment_id: string;
  serial_number: string;
  model: string;
  asset_number: string | null;
  enrolled_at: Date;
  token_updated_at: Date | null;
  checked_out_at: Date | null;
  wiped_at: Date | null;
  inactive_at: Date | null;
  inactivation_forced: boolean;
  forgotten_at: Date | null;
  profiles: MdmProfile[] | null;
}

export interface JobRow {
  job_id: string;
  enrollment_id: string;
  idempotency_key: string;
  type: MdmCommandType;
  options: Record<string, unknown>;
  status: MdmJobStatus;
  error_code: string | null;
  error_message: string | null;
  requested_at: Date;
  updated_at: Date;
}

export interface CommandRow {
  command_uuid: string;
  enrollment_id: string;
  job_id: string | null;
  step: string;
  request_type: string;
  command: Record<string, unknown>;
  enqueued_at: Date | null;
  status: string | null;
  error_chain: unknown;
  result: unknown;
}

/** A device the port may show: enrolment complete (TokenUpdate seen) and not forgotten. */
export async function liveDevice(db: Db, enrollmentId: string): Promise<DeviceRow | null> {
  const { rows } = await db.query<DeviceRow>(
    `SELECT * FROM nanomdm_devices
      WHERE enrollment_id = $1 AND token_updated_at IS NOT NULL AND forgotten_at IS NULL`,
    [enrollmentId],
  );
  return rows[0] ?? null;
}

export async function liveDevicesBySerial(db: Db, serialNumber?: string, assetNumber?: string): Promise<DeviceRow[]> {
  const { rows } = await db.query<DeviceRow>(
    `SELECT * FROM nanomdm_devices
      WHERE token_updated_at IS NOT NULL AND forgotten_at IS NULL
        AND ($1::text IS NULL OR serial_number = $1) AND ($2::text IS NULL OR asset_number = $2)
      ORDER BY enrolled_at, enrollment_id`,
    [serialNumber ?? null, assetNumber ?? null],
  );
  return rows;
}

export function toDevice(d: DeviceRow): MdmDevice {
  return {
    id: d.enrollment_id,
    serialNumber: d.serial_number,
    ...(d.asset_number ? { assetNumber: d.asset_number } : {}),
    model: d.model,
    status: deviceStatus(d),
    inactivationForced: d.inactivation_forced,
    enrolledAt: d.enrolled_at.toISOString(),
  };
}

/** Apple semantics: EraseDevice acknowledged = wiped; CheckOut, or the enrolment profile gone = inactive. */
function deviceStatus(d: DeviceRow): MdmDevice['status'] {
  if (d.wiped_at) return 'wiped';
  if (d.checked_out_at || d.inactive_at) return 'inactive';
  if (d.profiles && !d.profiles.some((p) => p.kind === 'mdm')) return 'inactive';
  return 'active';
}

export async function jobsOf(db: Db, enrollmentId: string): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    'SELECT * FROM nanomdm_jobs WHERE enrollment_id = $1 ORDER BY requested_at, job_id',
    [enrollmentId],
  );
  return rows;
}

export async function jobByKey(db: Db, enrollmentId: string, key: string): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    'SELECT * FROM nanomdm_jobs WHERE enrollment_id = $1 AND idempotency_key = $2',
    [enrollmentId, key],
  );
  return rows[0] ?? null;
}

export async function jobById(db: Db, jobId: string): Promise<JobRow | null> {
  if (!/^[0-9a-f-]{36}$/i.test(jobId)) return null;
  const { rows } = await db.query<JobRow>('SELECT * FROM nanomdm_jobs WHERE job_id = $1', [jobId]);
  return rows[0] ?? null;
}

export function toCommandStatus(j: JobRow): MdmCommandStatus {
  return {
    jobId: j.job_id,
    deviceId: j.enrollment_id,
    type: j.type,
    status: j.status,
    idempotencyKey: j.idempotency_key,
    requestedAt: j.requested_at.toISOString(),
    updatedAt: j.updated_at.toISOString(),
    ...(j.error_code ? { error: { code: j.error_code, message: j.error_message ?? '' } } : {}),
  };
}

/** Records an Apple command to enqueue (once per UUID); `flushUnsent` hands it to NanoMDM. */
export async function addCommand(db: Db, enrollmentId: string, jobId: string | null, step: string, c: AppleCommand) {
  await db.query(
    `INSERT INTO nanomdm_commands (command_uuid, enrollment_id, job_id, step, request_type, command)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (command_uuid) DO NOTHING`,
    [c.commandUuid, enrollmentId, jobId, step, c.requestType, JSON.stringify(c.command)],
  );
}

export async function commandsOfJob(db: Db, jobId: string): Promise<CommandRow[]> {
  const { rows } = await db.query<CommandRow>(
    'SELECT * FROM nanomdm_commands WHERE job_id = $1 ORDER BY created_at, step',
    [jobId],
  );
  return rows;
}

export async function unsentCommands(db: Db, enrollmentId: string): Promise<CommandRow[]> {
  const { rows } = await db.query<CommandRow>(
    'SELECT * FROM nanomdm_commands WHERE enqueued_at IS NULL AND enrollment_id = $1 ORDER BY created_at, step',
    [enrollmentId],
  );
  return rows;
}

export async function markEnqueued(db: Db, commandUuid: string): Promise<void> {
  await db.query('UPDATE nanomdm_commands SET enqueued_at = now() WHERE command_uuid = $1 AND enqueued_at IS NULL', [
    commandUuid,
  ]);
}

export async function setJobStatus(
  db: Db,
  jobId: string,
  status: MdmJobStatus,
  error?: { code: string; message: string },
): Promise<void> {
  await db.query(
    `UPDATE nanomdm_jobs SET status = $2, error_code = $3, error_message = $4, updated_at = now()
      WHERE job_id = $1 AND (status <> $2 OR error_code IS DISTINCT FROM $3)`,
    [jobId, status, error?.code ?? null, error?.message ?? null],
  );
}
