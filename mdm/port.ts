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

/** What a profile on the device is for; the truth checks (DESIGN §3) look for `mdm` and `configuration`. */
export type MdmProfileKind = 'mdm' | 'configuration' | 'removal' | 'other';

export interface MdmProfile {
  /** The profile's identifier as the MDM lists it (PayloadIdentifier for Apple). */
  identifier: string;
  kind: MdmProfileKind;
  name: string;
}

export type SendCommandInput = MdmCommand & { deviceId: string; idempotencyKey: string };

export interface RegisterDeviceInput {
  serialNumber: string;
  assetNumber?: string;
  model: string;
  idempotencyKey: string;
}

/**
 * What an MDM can do, so the workflows adapt their steps to it instead of pretending (issue 14).
 * - `profileRemoval`: `device-user` when the device's user removes the profiles by hand (the seed's
 *   procedure, the emulator); `command` when the MDM removes them by command (Apple MDM RemoveProfile).
 * - `cancelCommands`: whether `cancelCommand` exists.
 */
export interface MdmCapabilities {
  profileRemoval: 'device-user' | 'command';
  cancelCommands: boolean;
}

export const EMULATOR_CAPABILITIES: MdmCapabilities = { profileRemoval: 'device-user', cancelCommands: true };

export interface MdmPort {
  /** What this MDM can do; absent means the emulator's (EMULATOR_CAPABILITIES). */
  readonly capabilities?: MdmCapabilities;
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
  /**
   * The profiles the MDM last saw on the device (its inventory), or null when the MDM has no record of it.
   * The truth checks of DESIGN §3 read this before an irreversible step.
   */
  listProfiles(deviceId: string): Promise<MdmProfile[] | null>;
  /**
   * Cancels an unfinished command (one from an earlier attempt that blocks a new one). Absent when the MDM
   * cannot cancel commands (Intune): the caller then waits the command out. Returns the command's status
   * afterwards (failed with code `cancelled`, or already finished), or null when the MDM has no such command.
   */
  cancelCommand?(input: { deviceId: string; jobId?: string; idempotencyKey: string }): Promise<MdmCommandStatus | null>;
  /** Deletes the device record; `alreadyGone` when there was nothing (left) to delete. */
  deleteDevice(deviceId: string, idempotencyKey: string): Promise<{ deviceId: string; alreadyGone: boolean }>;
}

export function isTerminal(status: MdmJobStatus): boolean {
  return status === 'succeeded' || status === 'failed';
}
