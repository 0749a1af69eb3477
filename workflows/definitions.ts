/**
 * The one place where signal, update and query names live. Workflows, the API and the worker import
 * these, so an event has the same name everywhere: the event names of DESIGN §3.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { HUMAN_EVENTS, type AdminCommand, type HumanEventName, type HumanReport, type NewUser } from './reportSchemas';

export * from './reportSchemas';

export const CHANGE_USER_WORKFLOW = 'changeDeviceUser';
export const INACTIVATION_WORKFLOW = 'inactivateDevice';
export const DISTRIBUTION_WORKFLOW = 'distributeDevice';
export type ProcessKind = 'change-user' | 'inactivation' | 'distribution';

/** The reports each process takes; a process registers handlers for its own events only. */
export const CHANGE_USER_EVENTS = [
  'device-collected',
  'wipe-confirmed',
  'device-reenrolled',
  'user-assigned',
  'device-delivered',
] as const satisfies readonly HumanEventName[];
export const INACTIVATION_EVENTS = [
  'removal-profile-installed',
  'profile-removal-failed',
  'profiles-removed',
  'app-removed',
  'device-reenrolled',
] as const satisfies readonly HumanEventName[];
/** Distribution from stock (DESIGN §3.3) waits for one report only: the delivery. */
export const DISTRIBUTION_EVENTS = ['device-delivered'] as const satisfies readonly HumanEventName[];

export const CHANGE_USER_STEPS = [
  'scheduled',
  'awaiting-collection',
  'returning-to-stock',
  'wiping',
  'removing-from-mdm',
  'awaiting-reenrollment',
  'awaiting-assignment',
  'assigning',
  'awaiting-delivery',
  'completed',
] as const;
export const INACTIVATION_STEPS = [
  'requesting-inactivation',
  'awaiting-removal-profile',
  'awaiting-profile-removal',
  'awaiting-reenrollment',
  'awaiting-app-removal',
  'verifying',
  'deleting-from-mdm',
  'updating-asset',
  'completed',
] as const;
export const DISTRIBUTION_STEPS = ['reserving', 'assigning', 'awaiting-delivery', 'completed'] as const;
/** Steps outside the happy path, shared by all processes. */
export const SPECIAL_STEPS = ['needs-attention', 'cancelled', 'aborted'] as const;
export type Step =
  | (typeof CHANGE_USER_STEPS)[number]
  | (typeof INACTIVATION_STEPS)[number]
  | (typeof DISTRIBUTION_STEPS)[number]
  | (typeof SPECIAL_STEPS)[number];

export type LifecycleStatus = 'running' | 'needs-attention' | 'completed' | 'cancelled' | 'aborted';

/** Per-deployment durations (ms) handed to each workflow at start, so the code stays deterministic. */
export interface LifecycleTimings {
  reminderBeforeMs: number;
  escalateAfterMs: number;
  taskReminderEveryMs: number;
  wipeAckTimeoutMs: number;
  verifyDeadlineMs: number;
  pollInitialMs: number;
  pollMaxMs: number;
}

export const DEFAULT_TIMINGS: LifecycleTimings = {
  reminderBeforeMs: 1 * 86_400_000,
  escalateAfterMs: 2 * 86_400_000,
  taskReminderEveryMs: 3 * 86_400_000,
  wipeAckTimeoutMs: 1 * 86_400_000,
  verifyDeadlineMs: 2 * 86_400_000,
  pollInitialMs: 5_000,
  pollMaxMs: 15 * 60_000,
};

/** Per-deployment bounds on how long a process may loop or be flooded (bounded-1); defaults when absent. */
export interface LifecycleLimits {
  /** Reopenings of one task (reports the step could not use) before an admin must decide. */
  reopenLimit: number;
  /** History events after which a process waiting for a person continues as new (default 10,000). */
  continueAfterEvents?: number;
  /** Reports and signals a process takes per hour; more are refused (Updates) or dropped (Signals). */
  reportsPerHour: number;
  /** How long MDM commands are retried through an outage before the process needs attention (mdm-weather-1). */
  mdmOutageToleranceMs?: number;
}

/** MDM_OUTAGE_TOLERANCE's default: a day. */
export const DEFAULT_MDM_OUTAGE_TOLERANCE_MS = 86_400_000;

/** The MDM is down or throttling and the process waits it out (mdm-weather-1): shown in state and details. */
export interface MdmWeather {
  step: Step;
  /** The activity that failed, e.g. requestWipe. */
  activity: string;
  /** The last failure, as the activity reported it. */
  error: string;
  /** When this spell of failures began, and how many tries failed since. */
  since: string;
  tries: number;
  nextTryAt: string;
  /** Reads wait for as long as it takes; commands until this time, then the process needs attention. */
  givesUpAt?: string;
}

export const DEFAULT_LIMITS: LifecycleLimits = { reopenLimit: 5, reportsPerHour: 120 };

/** History events after which a process waiting for a person continues as new (continue-as-new-1). */
export const DEFAULT_CONTINUE_AFTER_EVENTS = 10_000;

/**
 * What a run hands to the next one when it continues as new while waiting for a person: where it waits,
 * the open task as it stood (its times and counts carry over, so reminders and escalation stay on
 * schedule), the lifecycle's bounded record, and what the remaining steps need.
 */
export interface ResumeState {
  /** The type of the human task the previous run was waiting on, e.g. `reenroll-device`. */
  at: string;
  task: CarriedTask;
  lifecycle: CarriedLifecycle;
  /** What the remaining steps need (asset, assignment, MDM job...), per process. */
  carry: Record<string, unknown>;
}

export interface CarriedTask {
  step: Step;
  expects: HumanEventName[];
  contact?: HumanTask['contact'];
  dueAt: string;
  createdAt: string;
  remindersSent: number;
  escalated: boolean;
  /** Reminders not sent yet. */
  remindAt: string[];
  /** The next escalation, if one is still due. */
  escalateAt?: string;
  reopenedBecause?: string;
}

export interface CarriedLifecycle {
  /** How many runs came before this one. */
  runs: number;
  steps: StepRecord[];
  notes: string[];
  reports: ReportRecord[];
  /** Idempotency keys already acknowledged, with what each was used for: repeats stay duplicates. */
  acks: { key: string; event: string; fingerprint: string }[];
  reopenings: [Step, number][];
  inactivationAttempts?: number;
  whereabouts: { department: string | null; location: string | null };
}

export interface ChangeUserInput {
  assetNumber: string;
  reason: string;
  plannedCollectionDate: string; // ISO 8601
  storageLocation: string;
  newUser?: NewUser;
  keepRecordAfterWipe: boolean;
  requestedBy: { id: string; role: string };
  adminInCharge: { name: string; email: string; department: string };
  timings: LifecycleTimings;
  limits?: LifecycleLimits;
  /** Set on a continued run only. */
  resume?: ResumeState;
}

export interface InactivationInput {
  assetNumber: string;
  reason: string;
  forced: boolean;
  acknowledgeProfileStays?: boolean;
  finalStatus: 'retired' | 'in_stock';
  maxAttempts: number;
  requestedBy: { id: string; role: string };
  timings: LifecycleTimings;
  limits?: LifecycleLimits;
  /** Set on a continued run only. */
  resume?: ResumeState;
}

/**
 * Distribute a device from stock (DESIGN §3.3). The API reserved the asset (and took the application, if
 * any) before starting, since the workflow id names the device; the `reserving` step confirms it.
 */
export interface DistributionInput {
  assetNumber: string;
  /** The reservation the API made for this process (asset_reservations.reservation_id). */
  reservationId: string;
  /** The application the device goes to; or `newUser` when an admin gave the user's details. */
  applicationId?: string;
  newUser?: NewUser;
  reason: string;
  requestedBy: { id: string; role: string };
  timings: LifecycleTimings;
  limits?: LifecycleLimits;
  /** Set on a continued run only. */
  resume?: ResumeState;
}

/** A waiting step's human task: what is expected, from whom, and since when. */
export interface HumanTask {
  type: string;
  step: Step;
  expects: HumanEventName[];
  assetNumber: string;
  department?: string;
  location?: string;
  contact?: { name?: string; email?: string; phone?: string };
  dueAt: string;
  /** When the admins hear it is overdue (absent in states from before records-1: the rebuild derives it). */
  escalateAt?: string;
  createdAt: string;
  remindersSent: number;
  escalated: boolean;
  /** The step occurrence the task belongs to; the task index keys its row by it. */
  occurrence?: number;
}

/** Who did something, as kept in state and audit: an id and a role (claimed, for Signals). */
export interface ActorRef {
  id: string;
  role: string;
  /** The credential the API authenticated (never from a Signal, which proves nothing). */
  credential?: string;
}

export interface ReportRecord {
  event: string;
  idempotencyKey: string;
  actor: ActorRef;
  at: string;
  outcome: 'accepted' | 'rejected';
  step: Step;
  reason?: string;
  /** An accepted report the process could not use (the step opened again): why. */
  followUp?: string;
}

export interface StepRecord {
  step: Step;
  startedAt: string;
  finishedAt?: string;
  attempts: number;
}

export interface LifecycleState {
  process: ProcessKind;
  assetNumber: string;
  status: LifecycleStatus;
  step: Step;
  steps: StepRecord[];
  pendingTask?: HumanTask;
  failedStep?: Step;
  lastError?: string;
  /** The kind of the failure an admin decides on (mdm-weather-1), as the task index has it. */
  errorKind?: string;
  inactivationAttempts?: number;
  /** The current step occurrence (a step that opens again is a new occurrence). */
  occurrence?: number;
  /** Signals dropped because the process took its hourly limit of reports (bounded-1). */
  droppedSignals?: number;
  /** Runs before this one (continue-as-new); absent for a first run. */
  previousRuns?: number;
  /** While the process waits out an MDM outage or throttling: what failed and the next try. */
  mdmWeather?: MdmWeather;
  reports: ReportRecord[];
  notes: string[];
}

export interface ReportAck {
  accepted: true;
  duplicate: boolean;
  event: string;
  step: Step;
  status: LifecycleStatus;
  /** Why the workflow is back at the same step (e.g. the MDM did not confirm a reported re-enrolment). */
  message?: string;
  /**
   * What the process still checks before it moves on (e.g. the MDM must confirm a re-enrolment). The
   * answer comes before that check: if it fails, the task opens again, the report's record in the
   * workflow's state gets a `followUp` saying why, and the task is back in the inbox.
   */
  pending?: string;
}

/** Human reports: one Update (validated, what the API uses) and one Signal (UI/CLI) per event name. */
export const reportUpdates = Object.fromEntries(
  HUMAN_EVENTS.map((e) => [e, defineUpdate<ReportAck, [HumanReport]>(e)]),
) as Record<HumanEventName, ReturnType<typeof defineUpdate<ReportAck, [HumanReport]>>>;
export const reportSignals = Object.fromEntries(HUMAN_EVENTS.map((e) => [e, defineSignal<[HumanReport]>(e)])) as Record<
  HumanEventName,
  ReturnType<typeof defineSignal<[HumanReport]>>
>;

export const ADMIN_COMMANDS = ['cancel', 'retry', 'abort'] as const;
export type AdminCommandName = (typeof ADMIN_COMMANDS)[number];
export const adminUpdates = {
  cancel: defineUpdate<ReportAck, [AdminCommand]>('cancel'),
  retry: defineUpdate<ReportAck, [AdminCommand]>('retry'),
  abort: defineUpdate<ReportAck, [AdminCommand]>('abort'),
};

export const stateQuery = defineQuery<LifecycleState>('state');

export function workflowIdFor(assetNumber: string): string {
  return `device-${assetNumber}`;
}
