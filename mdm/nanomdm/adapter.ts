/**
 * The MDM port over NanoMDM (issue 14). Commands go to NanoMDM's enqueue API as Apple MDM commands;
 * what devices answer and their check-ins come back through NanoMDM's webhook (events.ts) into our
 * PostgreSQL store (migration 0009), from which every read is answered. Job ids are ours (one per
 * idempotency key and device); NanoMDM command UUIDs are derived from them (appleCommands.ts).
 * NanoMDM v0.9.0 has no API to drop a queued command, so there is no cancelCommand.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { withTransaction } from '../../db/pool';
import { MdmNotFoundError, MdmRejectedError, MdmUnavailableError } from '../errors';
import type { MdmCapabilities, MdmPort } from '../port';
import type { NanoMdmApi } from './api';
import { applyEvent, type WebhookEvent } from './events';
import { progressJob } from './jobs';
import * as store from './store';

export const NANOMDM_CAPABILITIES: MdmCapabilities = { profileRemoval: 'command', cancelCommands: false };

export interface NanoMdmPort extends MdmPort {
  /** Applies one webhook event, then enqueues what it gave rise to (an enqueue failure is retried later). */
  receive(event: WebhookEvent): Promise<void>;
}

export function createNanoMdm(deps: { db: pg.Pool; api: NanoMdmApi; log?: (line: string) => void }): NanoMdmPort {
  const { db, api } = deps;
  const log = deps.log ?? ((l: string) => console.error(`[nanomdm] ${l}`));

  /**
   * Hands NanoMDM every command of the device recorded but not yet enqueued. One flush per device at a time
   * (an advisory lock, across replicas): NanoMDM's duplicate check is not atomic, so two enqueues of one
   * UUID at the same instant would queue it twice. A sequential repeat (after a crash between enqueue and
   * commit) is refused there as a duplicate, which api.enqueue takes as done.
   */
  const flush = (enrollmentId: string) =>
    withTransaction(db, async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`nanomdm-enqueue:${enrollmentId}`]);
      for (const c of await store.unsentCommands(tx, enrollmentId)) {
        await api.enqueue(c.enrollment_id, {
          commandUuid: c.command_uuid,
          requestType: c.request_type,
          command: c.command,
        });
        await store.markEnqueued(tx, c.command_uuid);
      }
    });

  const requireDevice = async (deviceId: string) => {
    const device = await store.liveDevice(db, deviceId);
    if (!device) throw new MdmNotFoundError(`device '${deviceId}'`, 'no live NanoMDM enrolment with this id');
    return device;
  };

  const port: NanoMdmPort = {
    capabilities: NANOMDM_CAPABILITIES,

    getDevice: async (deviceId) => {
      const device = await store.liveDevice(db, deviceId);
      return device ? store.toDevice(device) : null;
    },

    findDevices: async (filter) =>
      (await store.liveDevicesBySerial(db, filter.serialNumber, filter.assetNumber)).map(store.toDevice),

    // Apple devices enrol themselves (Authenticate, TokenUpdate); registering binds an enrolled device, found
    // by serial number, to its asset number.
    registerDevice: async ({ serialNumber, assetNumber }) => {
      const [device] = await store.liveDevicesBySerial(db, serialNumber);
      if (!device) {
        throw new MdmNotFoundError(`enrolment of serial ${serialNumber}`, 'the device has not enrolled in NanoMDM');
      }
      if (assetNumber) {
        await db.query('UPDATE nanomdm_devices SET asset_number = $2, updated_at = now() WHERE enrollment_id = $1', [
          device.enrollment_id,
          assetNumber,
        ]);
      }
      return store.toDevice((await store.liveDevice(db, device.enrollment_id)) ?? device);
    },

    sendCommand: async ({ deviceId, idempotencyKey, ...command }) => {
      const device = await requireDevice(deviceId);
      const jobId = await withTransaction(db, async (tx) => {
        await tx.query('SELECT 1 FROM nanomdm_devices WHERE enrollment_id = $1 FOR UPDATE', [deviceId]);
        const known = await store.jobByKey(tx, deviceId, idempotencyKey);
        if (known) return known.job_id;
        refuseUnmanaged(device, command.type);
        const open = (await store.jobsOf(tx, deviceId)).find(
          (j) => j.type === command.type && (j.status === 'queued' || j.status === 'acknowledged'),
        );
        if (open) {
          throw new MdmRejectedError(
            409,
            'command_pending',
            `an earlier ${open.type} (job ${open.job_id}) is still ${open.status}`,
          );
        }
        const id = randomUUID();
        await tx.query(
          `INSERT INTO nanomdm_jobs (job_id, enrollment_id, idempotency_key, type, options, status)
           VALUES ($1, $2, $3, $4, $5, 'queued')`,
          [id, deviceId, idempotencyKey, command.type, JSON.stringify(command.options ?? {})],
        );
        await startJob(tx, id, deviceId, command);
        return id;
      });
      await flush(deviceId);
      return store.toCommandStatus((await store.jobById(db, jobId))!);
    },

    getCommandStatus: async ({ deviceId, jobId, idempotencyKey }) => {
      await flush(deviceId);
      const job = jobId ? await store.jobById(db, jobId) : await store.jobByKey(db, deviceId, idempotencyKey);
      return job ? store.toCommandStatus(job) : null;
    },

    listCommands: async (deviceId) => {
      await requireDevice(deviceId);
      await flush(deviceId);
      return (await store.jobsOf(db, deviceId)).map(store.toCommandStatus);
    },

    listProfiles: async (deviceId) => {
      const device = await store.liveDevice(db, deviceId);
      if (!device) return null;
      if (!device.profiles) {
        // Asked at enrolment; until the device answers we do not know, which is not "none".
        throw new MdmUnavailableError(`device '${deviceId}' has not answered ProfileList yet`, 'unavailable');
      }
      return device.profiles;
    },

    // NanoMDM keeps its enrolment and queue records (v0.9.0 has no API to delete them); we forget ours.
    deleteDevice: async (deviceId) => {
      const { rowCount } = await db.query(
        'UPDATE nanomdm_devices SET forgotten_at = now(), updated_at = now() WHERE enrollment_id = $1 AND forgotten_at IS NULL',
        [deviceId],
      );
      return { deviceId, alreadyGone: rowCount === 0 };
    },

    receive: async (event) => {
      const enrollmentId = await retryTransient(() => applyEvent(db, event));
      if (!enrollmentId) return;
      // Stored already; an enqueue that fails now is retried by the next port call for this device.
      await flush(enrollmentId).catch((err: Error) => log(`enqueue after ${event.topic} failed: ${err.message}`));
    },
  };
  return port;
}

/**
 * NanoMDM never posts an event twice, so one lost to a transient conflict (deadlock, serialization) is
 * applied again here rather than dropped.
 */
async function retryTransient<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt >= attempts || (code !== '40P01' && code !== '40001')) throw err;
    }
  }
}

/** A device that checked out or was erased no longer talks to this MDM: only forgetting it makes sense. */
function refuseUnmanaged(device: store.DeviceRow, type: string): void {
  if (type === 'delete') return;
  const why = device.wiped_at ? 'was erased' : device.checked_out_at ? 'checked out' : undefined;
  if (why)
    throw new MdmRejectedError(
      409,
      'not_managed',
      `device '${device.enrollment_id}' ${why}; it no longer takes commands`,
    );
}

async function startJob(
  tx: pg.PoolClient,
  jobId: string,
  deviceId: string,
  command: { type: string; options?: Record<string, unknown> },
): Promise<void> {
  if (command.type === 'delete') {
    await tx.query('UPDATE nanomdm_devices SET forgotten_at = coalesce(forgotten_at, now()) WHERE enrollment_id = $1', [
      deviceId,
    ]);
    await store.setJobStatus(tx, jobId, 'succeeded');
  } else if (command.type === 'inactivate' && command.options?.forced === true) {
    // Forced: the profiles cannot be removed (the device is gone or refuses); the MDM stops managing it.
    await tx.query(
      `UPDATE nanomdm_devices SET inactive_at = coalesce(inactive_at, now()), inactivation_forced = true,
              updated_at = now() WHERE enrollment_id = $1`,
      [deviceId],
    );
    await store.setJobStatus(tx, jobId, 'succeeded');
  } else {
    await progressJob(tx, jobId);
  }
}
