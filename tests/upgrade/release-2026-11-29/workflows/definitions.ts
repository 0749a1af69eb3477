/**
 * The one place where signal, update and query names live. Workflows, the API and the worker import
 * these, so an event has the same name everywhere: the event names of DESIGN §3.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { HUMAN_EVENTS, type AdminCommand, type HumanEventName, type HumanReport, type NewUser } from './reportSchemas';

export * from './reportSchemas';

export const CHANGE_USER_WORKFLOW = 'changeDeviceUser';
export const INACTIVATION_WORKFLOW = 'inactivateDevice';
export type ProcessKind = 'change-user' | 'inactivation';

export const CHANGE_USER_STEPS = [
  'scheduled', 'awaiting-collection', 'returning-to-stock', 'wiping', 'removing-from-mdm',
  'awaiting-reenrollment', 'awaiting-assignment', 'assigning', 'awaiting-delivery', 'completed',
] as const;
export const INACTIVATION_STEPS = [
  'requesting-inactivation', 'awaiting-removal-profile', 'awaiting-profile-removal', 'awaiting-reenrollment',
  'awaiting-app-removal', 'verifying', 'deleting-from-mdm', 'updating-asset', 'completed',
] as const;
/** Steps outside the happy path, shared by both processes. */
export const SPECIAL_STEPS = ['needs-attention', 'cancelled', 'aborted'] as const;
export type Step = (typeof CHANGE_USER_STEPS)[number] | (typeof INACTIVATION_STEPS)[number] | (typeof SPECIAL_STEPS)[number];

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
  createdAt: string;
  remindersSent: number;
  escalated: boolean;
}

export interface ReportRecord {
  event: string;
  idempotencyKey: string;
  actor: { id: string; role: string };
  at: string;
  outcome: 'accepted' | 'rejected';
  step: Step;
  reason?: string;
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
  inactivationAttempts?: number;
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
}

/** Human reports: one Update (validated, what the API uses) and one Signal (UI/CLI) per event name. */
export const reportUpdates = Object.fromEntries(
  HUMAN_EVENTS.map((e) => [e, defineUpdate<ReportAck, [HumanReport]>(e)]),
) as Record<HumanEventName, ReturnType<typeof defineUpdate<ReportAck, [HumanReport]>>>;
export const reportSignals = Object.fromEntries(
  HUMAN_EVENTS.map((e) => [e, defineSignal<[HumanReport]>(e)]),
) as Record<HumanEventName, ReturnType<typeof defineSignal<[HumanReport]>>>;

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
