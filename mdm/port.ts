/**
 * The MDM port: everything activities may ask of a device-management system, independent of any vendor.
 *
 * Destructive commands are asynchronous everywhere (queued -> acknowledged -> succeeded | failed) and some
 * MDMs return no job id, so a command is sent with an idempotency key and its status is read back by job
 * id when there is one, otherwise by that key. Activities read state before acting so a retried activity
 * never sends a second wipe. Errors are MdmError subclasses (see errors.ts) with `retryable` and `code`.
 */

export type MdmDeviceStatus = 'active' | 'inactive' | 'wiped' | 'deleted';

export interface MdmDevice {
  /** The MDM's own device id (changes when a device re-enrols). */
  id: string;
  serialNumber: string;
  assetNumber?: string;
  model: string;
  status: MdmDeviceStatus;
  /** True after a forced inactivation: the MDM profile stays on the device for good. */
  inactivationForced: boolean;
  enrolledAt: string;
}

export type MdmCommand =
  | { type: 'wipe'; options: { keepEnrollmentData: boolean } }
  | { type: 'inactivate'; options: { forced: boolean } }
  | { type: 'delete'; options?: Record<string, never> };
export type MdmCommandType = MdmCommand['type'];

export type MdmJobStatus = 'queued' | 'acknowledged' | 'succeeded' | 'failed';

export interface MdmCommandStatus {
  /** Absent for MDMs (or devices) that do not hand out job ids. */
  jobId?: string;
  deviceId: string;
  type: MdmCommandType;
  status: MdmJobStatus;
  idempotencyKey?: string;
  requestedAt: string;
  updatedAt: string;
  /** Present when status is `failed`. */
  error?: { code: string; message: string };
}

export type SendCommandInput = MdmCommand & { deviceId: string; idempotencyKey: string };

export interface RegisterDeviceInput {
  serialNumber: string;
  assetNumber?: string;
  model: string;
  idempotencyKey: string;
}

export interface MdmPort {
  /** The device record, or null when the MDM has no (or no longer a) record of it. */
  getDevice(deviceId: string): Promise<MdmDevice | null>;
  /** Live (not deleted) records matching every given filter. */
  findDevices(filter: { serialNumber?: string; assetNumber?: string }): Promise<MdmDevice[]>;
  /** Enrols a record (seeding, tests). A repeat with the same key returns the same device. */
  registerDevice(input: RegisterDeviceInput): Promise<MdmDevice>;
  /** Sends a command; a repeat with the same idempotency key returns the first result and sends nothing. */
  sendCommand(input: SendCommandInput): Promise<MdmCommandStatus>;
  /** Current status of a command, by job id if known, else by idempotency key; null if the MDM has none. */
  getCommandStatus(input: {
    deviceId: string;
    jobId?: string;
    idempotencyKey: string;
  }): Promise<MdmCommandStatus | null>;
  /** Every command the MDM knows for the device, oldest first (to check before acting). */
  listCommands(deviceId: string): Promise<MdmCommandStatus[]>;
  /** Deletes the device record; `alreadyGone` when there was nothing (left) to delete. */
  deleteDevice(deviceId: string, idempotencyKey: string): Promise<{ deviceId: string; alreadyGone: boolean }>;
}

export function isTerminal(status: MdmJobStatus): boolean {
  return status === 'succeeded' || status === 'failed';
}
