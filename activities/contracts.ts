/**
 * What workflows may ask of the outside world. Workflows import this module as types only and call the
 * activities through `proxyActivities`; `createActivities` (activities/index.ts) implements it.
 */
import type { NewUser } from '../workflows/reportSchemas';

export interface StepContext {
  assetNumber: string;
  workflowId: string;
  runId: string;
  step: string;
  /** Who the step is attributed to in the audit trail: the reporter or the admin who started the process. */
  actor: { id: string; role: string; credential?: string };
  /** Stable across activity retries: the audit event and any MDM command are written once per key. */
  idempotencyKey: string;
}

export interface AssetSnapshot {
  assetNumber: string;
  serialNumber: string;
  model: string;
  mdmDeviceId: string | null;
  status: string;
  department: string | null;
  location: string | null;
  userName: string | null;
  userEmail: string | null;
  userPhone: string | null;
  /** The device's platform (`ios`, `android`, ...); the inactivation's device-side steps are per platform. */
  platform?: string | null;
}

export type MdmJobState = 'queued' | 'acknowledged' | 'succeeded' | 'failed' | 'unknown';

export interface MdmJobRef {
  deviceId: string;
  jobId?: string;
  idempotencyKey: string;
  /**
   * Inactivation only: the MDM removes the profiles itself by command (capabilities.profileRemoval is
   * `command`), so no person has device-side steps to do; the job's status covers the removal.
   */
  profilesRemovedByMdm?: true;
}

export interface Notice {
  to: string[];
  subject: string;
  text: string;
}

/** The admin in charge who takes a device over while it is in stock. */
export interface AdminInCharge {
  name: string;
  email: string;
  department: string;
}

export interface ScheduleCollectionArgs {
  /** ISO date (or date-time; the asset keeps its date part). */
  plannedDate: string;
  reason: string;
  /**
   * lean-1: the collection task's task-index row, opened in the same activity; its contact and
   * whereabouts are the asset's as written (workflows/taskContact.ts), as the workflow shows them.
   */
  collectionTask?: Omit<OpenTask, 'contact' | 'department' | 'location'>;
}

export interface ReturnToStockArgs {
  storageLocation: string;
  admin: AdminInCharge;
  /** The field-staff report, kept in the audit event. */
  report: Record<string, unknown>;
}

export interface RequestWipeArgs {
  /** Wipe with the MDM's keep-enrolment-data option, so the device can re-enrol. */
  keepRecord: boolean;
}

export interface MdmJobStateResult {
  state: MdmJobState;
  /** The MDM's error code and message when the command failed. */
  detail?: string;
}

export interface DeleteFromMdmResult {
  alreadyGone: boolean;
}

export interface VerifyEnrollmentArgs {
  /** The MDM device id the reporter saw; without it the MDM is searched by the asset's serial number. */
  reportedMdmDeviceId?: string;
}

export interface VerifyEnrollmentResult {
  enrolled: boolean;
  mdmDeviceId?: string;
  /** Why the enrolment was not verified (what the MDM shows instead). */
  reason?: string;
}

export interface ClaimApplicationArgs {
  /** A specific application; without it the oldest pending one is taken. */
  applicationId?: string;
}

/** The claimed application and its user, or why none could be claimed. */
export type ClaimApplicationResult =
  { applicationId: string; user: NewUser } | { applicationId?: undefined; reason: string };

export interface AssignUserArgs {
  user: NewUser;
  /** The application the user came from, if any (kept in the audit event). */
  applicationId?: string;
}

export interface RecordDeliveryArgs {
  /** The delivery report (signature and who received it), kept in the audit event. */
  receipt: Record<string, unknown>;
  /** The application to mark delivered, if the user came from one. */
  applicationId?: string;
}

export interface RequestInactivationArgs {
  /** Inactivate even though the management profile then stays on the device. */
  forced: boolean;
}

export interface DeviceStateResult {
  exists: boolean;
  status?: string;
  mdmDeviceId?: string;
}

/** What a stopped process undid of what it had only planned (records-1). */
export interface UndoPlannedResult {
  /** e.g. `plan-restored`, `application-released`. */
  undone: string[];
  /** What could not be undone and why (e.g. the plan was changed by someone else since). */
  kept: string[];
}

/** What the MDM shows on the device before an irreversible step (DESIGN §3, the truth checks). */
export interface DeviceProfilesResult {
  /** False when the asset has no MDM device id or the MDM has no record of it. */
  exists: boolean;
  status?: string;
  mdmDeviceId?: string;
  /** The profiles the MDM shows on the device, by kind and name. */
  profiles: { identifier: string; kind: string; name: string }[];
}

/** Which device-side step's instructions to mail the device user, and why. */
export interface DeviceInstructionArgs {
  /** The human task's type: install-removal-profile, remove-profiles, remove-client-app, reenroll-device. */
  taskType: string;
  /** `instructions` when the step opens, `reminder` while nobody reports. */
  kind: 'instructions' | 'reminder';
  /** The task-index counts to keep current, as sendNotice does. */
  count?: TaskNoticeCount;
  /** Why the step opened again, if it did (said at the top of the mail). */
  reopenedBecause?: string;
}

export interface FinishInactivationArgs {
  finalStatus: string;
  forced: boolean;
}

/**
 * One open human task as the task index keeps it (DESIGN §7): the inbox and the application hand-off
 * read this table, never the workflows. At most one row per workflow id: a newer step occurrence
 * replaces an older one, and a close names the occurrence it ends, so a late retry never undoes a newer
 * task.
 */
export interface OpenTask {
  workflowId: string;
  runId: string;
  /** The deployment's task queue: each deployment lists only its own tasks. */
  taskQueue: string;
  /** The step occurrence the task belongs to (see StepLog.occurrence). */
  occurrence: number;
  process: 'change-user' | 'inactivation' | 'distribution';
  /** Task type, e.g. `collect-device`, or `admin-decision` while the process needs attention. */
  type: string;
  step: string;
  expects: string[];
  assetNumber: string;
  department: string | null;
  location: string | null;
  contact: { name?: string; email?: string; phone?: string } | null;
  dueAt: string;
  escalateAt: string | null;
  createdAt: string;
  remindersSent: number;
  escalated: boolean;
  /** For an admin decision: the step that failed and why. */
  failedStep?: string;
  lastError?: string;
  /** For an admin decision: what kind of failure (see workflows/failureKinds.ts), for bulk recovery filters. */
  errorKind?: string;
}

/** Task-index bookkeeping done in the same transaction as an audit event (recordEvent). */
export interface TaskBookkeeping {
  /** Closes this run's open task if its occurrence is at most this one. */
  closeThrough?: number;
  /** Then opens (or replaces with a newer occurrence) this task. */
  open?: OpenTask;
}

/** The reminder and escalation count of an open task, kept up to date by sendNotice. */
export interface TaskNoticeCount {
  occurrence: number;
  remindersSent: number;
  escalated: boolean;
}

/**
 * Every activity is safe to retry. Asset changes go through assetsRepo.applyChange, which writes the
 * change and its audit event in one transaction once per idempotency key (a retry gets the stored result
 * back); MDM commands carry ctx.idempotencyKey and are looked up in the MDM before being sent.
 */
export interface LifecycleActivities {
  /** Reads the asset; changes nothing. A missing asset fails non-retryably (AssetNotFound). */
  loadAsset(assetNumber: string): Promise<AssetSnapshot>;
  /**
   * Appends one audit event; idempotent on ctx.idempotencyKey in asset_events. With `tasks`, closes and/or
   * opens task-index rows in the same transaction (each idempotent: see OpenTask).
   */
  recordEvent(
    ctx: StepContext,
    eventType: string,
    details: Record<string, unknown>,
    tasks?: TaskBookkeeping,
  ): Promise<void>;
  /** Opens a task-index row for a task that just opened (or replaces an older occurrence); idempotent. */
  openTask(task: OpenTask): Promise<void>;
  /**
   * Mails the notice (to the admins when `to` is empty) and records a `notice-sent` event; with `task`, updates
   * the open task's reminder and escalation count. Once per
   * ctx.idempotencyKey: no mail once that event exists; a retry before it re-sends with the same Message-ID.
   */
  sendNotice(ctx: StepContext, kind: string, notice: Notice, task?: TaskNoticeCount): Promise<void>;

  /**
   * Plans the asset back into stock on the date (`collection-scheduled` event), then mails the current user
   * a collection notice if it has an email; each once per ctx.idempotencyKey (the notice under key + `:notice`).
   */
  scheduleCollection(ctx: StepContext, args: ScheduleCollectionArgs): Promise<AssetSnapshot>;
  /**
   * Puts the asset in stock at the storage location, held by the admin in charge (`returned-to-stock`
   * event); once per ctx.idempotencyKey.
   */
  returnToStock(ctx: StepContext, args: ReturnToStockArgs): Promise<AssetSnapshot>;
  /**
   * Sends the MDM a wipe command and records `wipe-requested`. The command carries ctx.idempotencyKey and
   * is not sent again when the MDM already lists one with that key; the event is keyed by it too.
   */
  requestWipe(ctx: StepContext, args: RequestWipeArgs): Promise<MdmJobRef>;
  /** Reads a command's state from the MDM (`unknown` when the MDM has none); changes nothing. */
  getMdmJobState(ref: MdmJobRef): Promise<MdmJobStateResult>;
  /**
   * Deletes the device from the MDM (keyed by ctx.idempotencyKey) and clears the asset's MDM device id
   * (`mdm-record-deleted` event, once per key); a retry finds the id cleared and deletes nothing.
   */
  deleteFromMdm(ctx: StepContext): Promise<DeleteFromMdmResult>;
  /**
   * Looks in the MDM for an active enrolment of the asset's serial number. When found, stores its device id
   * on the asset (`reenrollment-verified` event, once per ctx.idempotencyKey); when not, changes nothing.
   */
  verifyEnrollment(ctx: StepContext, args: VerifyEnrollmentArgs): Promise<VerifyEnrollmentResult>;
  /**
   * Takes the given (or oldest pending) application for this workflow and device and records
   * `application-claimed`. A retry gets back the application the workflow already holds (conditional
   * updates in applicationsRepo) and the event is keyed by ctx.idempotencyKey. An unavailable or unknown
   * application is answered with a reason, not thrown.
   */
  claimApplication(ctx: StepContext, args: ClaimApplicationArgs): Promise<ClaimApplicationResult>;
  /**
   * Puts the asset in use by the new user and clears the plan (`user-assigned` event), then mails a delivery
   * notice; each once per ctx.idempotencyKey (the notice under key + `:notice`).
   */
  assignUser(ctx: StepContext, args: AssignUserArgs): Promise<AssetSnapshot>;
  /**
   * Records the `delivery-receipt` event (keyed by ctx.idempotencyKey) and marks the application delivered,
   * if any (idempotent for the workflow that holds it).
   */
  recordDelivery(ctx: StepContext, args: RecordDeliveryArgs): Promise<void>;

  /**
   * Sends the MDM an inactivate command and records `inactivation-requested` (or
   * `forced-inactivation-requested`); sent and recorded once per ctx.idempotencyKey, as requestWipe.
   */
  requestInactivation(ctx: StepContext, args: RequestInactivationArgs): Promise<MdmJobRef>;
  /**
   * Reads the asset's device in the MDM (`exists: false` when the asset has no MDM device id or the MDM has
   * no record of it); changes nothing.
   */
  getDeviceState(ctx: StepContext): Promise<DeviceStateResult>;
  /**
   * Sets the asset's final status and clears its MDM device id and plan (`inactivation-completed` event);
   * once per ctx.idempotencyKey.
   */
  finishInactivation(ctx: StepContext, args: FinishInactivationArgs): Promise<AssetSnapshot>;
  /** Reads the profiles the MDM shows on the asset's device; changes nothing. */
  getDeviceProfiles(ctx: StepContext): Promise<DeviceProfilesResult>;
  /**
   * Mails the device user (the asset's user e-mail) the instructions of a device-side step in the
   * deployment's language, in the seed procedure's words for the asset's platform; without a user e-mail
   * the admins get them. Records `notice-sent`; once per ctx.idempotencyKey, as sendNotice.
   */
  sendDeviceInstructions(ctx: StepContext, args: DeviceInstructionArgs): Promise<void>;
  /**
   * After a factory reset: the asset is retired as reset (status retired, MDM id cleared, plan cleared,
   * `retired-as-reset` event); once per ctx.idempotencyKey.
   */
  retireAsReset(ctx: StepContext, args: { detail: string }): Promise<AssetSnapshot>;
  /**
   * After a cancel or abort (records-1): restores the planned status and date this process set (from its
   * `collection-scheduled` event, unless someone changed the plan since or the user was already assigned)
   * and releases an application the process reserved; each audited (`plan-restored`,
   * `application-released`) with ctx.actor, once per ctx.idempotencyKey.
   */
  undoPlanned(ctx: StepContext, args: { firstRunId: string }): Promise<UndoPlannedResult>;
}
