/**
 * The emulator's data model. Everything here is persisted as-is in the state file, so keep it plain JSON.
 */

export const deviceStatuses = ['active', 'inactive', 'wiped', 'deleted'] as const;
export type DeviceStatus = (typeof deviceStatuses)[number];

export const commandTypes = ['wipe', 'inactivate', 'delete'] as const;
export type CommandType = (typeof commandTypes)[number];

export const jobStatuses = ['queued', 'acknowledged', 'succeeded', 'failed'] as const;
export type JobStatus = (typeof jobStatuses)[number];

/** Profiles a freshly enrolled device carries; `removal` is added when the user installs the removal profile. */
export const enrolmentProfiles = ['mdm', 'configuration'] as const;

export interface Device {
  id: string;
  serialNumber: string;
  assetNumber?: string;
  model: string;
  status: DeviceStatus;
  /** Device-side state the MDM would learn from check-ins; field tests drive it through /actions. */
  profiles: string[];
  clientAppInstalled: boolean;
  removalProfileInstalled: boolean;
  inactivationForced: boolean;
  /** Set when the device did something that forces a factory reset (app removed before its profiles). */
  factoryResetForced: boolean;
  /** Like some real MDMs, command responses and history for this device carry no job id. */
  omitJobIds: boolean;
  enrolledAt: string;
  updatedAt: string;
  deletedAt?: string;
  /** Set on the old record when the device re-enrolled under a new MDM device id. */
  replacedBy?: string;
  previousId?: string;
}

export type CommandOptions = { keepEnrollmentData: boolean } | { forced: boolean } | Record<string, never>;

export interface JobError {
  code: string;
  message: string;
}

export interface Job {
  jobId: string;
  deviceId: string;
  type: CommandType;
  options: CommandOptions;
  status: JobStatus;
  idempotencyKey: string;
  /** Mirrors the device's omitJobIds (or the global setting) at the time the command was sent. */
  jobIdHidden: boolean;
  requestedAt: string;
  acknowledgedAt?: string;
  finishedAt?: string;
  updatedAt: string;
  error?: JobError;
  /** Internal: when the clock next moves this job on. Absent for jobs waiting on the device or stalled. */
  nextStepAt?: number;
  /** Internal: fault injection made this job stop at this status forever. */
  stalledAt?: 'queued' | 'acknowledged';
}

/** A stored response for an Idempotency-Key, replayed verbatim (status 200) on a repeat. */
export interface IdempotencyRecord {
  key: string;
  fingerprint: string;
  status: number;
  body: unknown;
  createdAt: string;
}

export interface Settings {
  /** Global switch: every command response and history entry omits the job id. */
  omitJobIds: boolean;
}

export interface EmulatorState {
  version: 1;
  devices: Record<string, Device>;
  jobs: Record<string, Job>;
  idempotency: Record<string, IdempotencyRecord>;
  settings: Settings;
  /** Manual clock advances (ms) added to the wall clock, so tests can move jobs on without waiting. */
  clockOffsetMs: number;
}

export function emptyState(): EmulatorState {
  return { version: 1, devices: {}, jobs: {}, idempotency: {}, settings: { omitJobIds: false }, clockOffsetMs: 0 };
}
