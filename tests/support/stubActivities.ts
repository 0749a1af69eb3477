/**
 * In-memory activities for the fast workflow tests: plain functions implementing `LifecycleActivities`
 * that record every call, with defaults that let both processes run to the end (the asset exists, the MDM
 * accepts and finishes every command, the device shows up enrolled, no application is waiting). A test
 * overrides single activities to make them fail (`stubFailure`) or to hold the workflow inside a step
 * until it releases a `Gate`.
 */
import { ApplicationFailure } from '@temporalio/common';
import type {
  AssetSnapshot,
  LifecycleActivities,
  MdmJobRef,
  OpenTask,
  StepContext,
  TaskBookkeeping,
  TaskNoticeCount,
} from '../../activities/contracts';

export type ActivityName = keyof LifecycleActivities;

/** One invocation as the worker made it (every Temporal retry is a call of its own). */
export interface StubCall<K extends ActivityName = ActivityName> {
  name: K;
  args: Parameters<LifecycleActivities[K]>;
}

/** One audit event as the stub `recordEvent` kept it: once per idempotency key, like the real one. */
export interface AuditRecord {
  eventType: string;
  ctx: StepContext;
  details: Record<string, unknown>;
}

export type StubOverrides = Partial<LifecycleActivities>;
/** Overrides, or a function of the defaults returning them (to fail a few times, then do the default). */
export type StubSetup = StubOverrides | ((defaults: LifecycleActivities) => StubOverrides);

export interface StubActivities {
  /** Hand these to the worker. */
  activities: LifecycleActivities;
  /** Every call in the order the activities were entered. */
  calls: StubCall[];
  /** Audit events, deduplicated by `ctx.idempotencyKey`. */
  events: AuditRecord[];
  /**
   * The task index as the real activities would leave it (db/tasksRepo.ts rules: one row per workflow id,
   * a newer occurrence or another run replaces, a close names the occurrence it ends, counts only grow).
   */
  openTasks: Map<string, OpenTask>;
  /** Calls of one activity (optionally only those matching `where`). */
  callsOf<K extends ActivityName>(name: K, where?: (call: StubCall<K>) => boolean): StubCall<K>[];
  /** How many times one activity was entered. */
  count(name: ActivityName): number;
  /** Audit events of one type. */
  eventsOf(eventType: string): AuditRecord[];
}

/** The non-retryable failure a real activity throws when retrying cannot help (e.g. the MDM refuses). */
export function stubFailure(type = 'StubRefused', message = `stub activity refused (${type})`): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, type);
}

/**
 * Holds an activity until the test releases it. `pass()` is awaited inside the activity; `entered`
 * resolves once an activity is waiting, so the test knows the workflow is inside that step.
 */
export interface Gate {
  /** Resolves when the first activity reaches `pass()`. */
  entered: Promise<void>;
  /** Lets every waiting (and every later) `pass()` through. */
  release(): void;
  /** Awaited by the activity being held. */
  pass(): Promise<void>;
}

const openGates = new Set<Gate>();

export function createGate(): Gate {
  let markEntered!: () => void;
  let open!: () => void;
  const entered = new Promise<void>((r) => (markEntered = r));
  const released = new Promise<void>((r) => (open = r));
  const gate: Gate = {
    entered,
    release() {
      openGates.delete(gate);
      open();
    },
    pass() {
      markEntered();
      return released;
    },
  };
  openGates.add(gate);
  return gate;
}

/** Releases every gate still closed, so a worker can shut down (it waits for running activities). */
export function releaseAllGates(): void {
  for (const gate of [...openGates]) gate.release();
}

export function defaultAsset(assetNumber: string): AssetSnapshot {
  return {
    assetNumber,
    serialNumber: `SN-${assetNumber}`,
    model: 'iPhone 15',
    mdmDeviceId: `mdm-${assetNumber}`,
    status: 'in_use',
    department: 'Sales',
    location: 'Tokyo HQ',
    userName: 'Xavier Old',
    userEmail: 'x.old@example.com',
    userPhone: '+81 3 1234 5678',
  };
}

/**
 * `overrides` replace single activities; a function receives the defaults, so an override can fail a
 * few times or wait at a gate and then do what the default does. Calls to overridden activities are
 * recorded too.
 */
export function createStubActivities(overrides: StubSetup = {}): StubActivities {
  const calls: StubCall[] = [];
  const events: AuditRecord[] = [];
  const openTasks = new Map<string, OpenTask>();
  const assets = new Map<string, AssetSnapshot>();

  const openTask = (task: OpenTask): void => {
    const row = openTasks.get(task.workflowId);
    if (row && row.runId === task.runId && row.occurrence >= task.occurrence) return;
    openTasks.set(task.workflowId, { ...task });
  };
  const bookkeep = (ctx: StepContext, tasks: TaskBookkeeping | undefined): void => {
    const row = openTasks.get(ctx.workflowId);
    if (tasks?.closeThrough !== undefined && row?.runId === ctx.runId && row.occurrence <= tasks.closeThrough) {
      openTasks.delete(ctx.workflowId);
    }
    if (tasks?.open) openTask(tasks.open);
  };
  const noteNotice = (ctx: StepContext, count: TaskNoticeCount | undefined): void => {
    const row = openTasks.get(ctx.workflowId);
    if (!count || !row || row.runId !== ctx.runId || row.occurrence !== count.occurrence) return;
    row.remindersSent = Math.max(row.remindersSent, count.remindersSent);
    row.escalated = row.escalated || count.escalated;
  };

  const asset = (assetNumber: string): AssetSnapshot => {
    let a = assets.get(assetNumber);
    if (!a) {
      a = defaultAsset(assetNumber);
      assets.set(assetNumber, a);
    }
    return a;
  };
  const change = (assetNumber: string, patch: Partial<AssetSnapshot>): AssetSnapshot => {
    const next = { ...asset(assetNumber), ...patch };
    assets.set(assetNumber, next);
    return { ...next };
  };
  const record = (ctx: StepContext, eventType: string, details: Record<string, unknown>): void => {
    if (events.some((e) => e.ctx.idempotencyKey === ctx.idempotencyKey)) return;
    events.push({ eventType, ctx, details });
  };
  const jobRef = (ctx: StepContext): MdmJobRef => ({
    deviceId: asset(ctx.assetNumber).mdmDeviceId ?? `mdm-${ctx.assetNumber}`,
    jobId: `job-${ctx.idempotencyKey}`,
    idempotencyKey: ctx.idempotencyKey,
  });

  const defaults: LifecycleActivities = {
    async loadAsset(assetNumber) {
      return { ...asset(assetNumber) };
    },
    async recordEvent(ctx, eventType, details, tasks) {
      record(ctx, eventType, details);
      bookkeep(ctx, tasks);
    },
    async openTask(task) {
      openTask(task);
    },
    async sendNotice(ctx, kind, notice, count) {
      record(ctx, 'notice-sent', { kind, ...notice });
      noteNotice(ctx, count);
    },
    async scheduleCollection(ctx, { plannedDate, reason }) {
      record(ctx, 'collection-scheduled', { plannedDate, reason });
      return change(ctx.assetNumber, {});
    },
    async returnToStock(ctx, { storageLocation, admin, report }) {
      record(ctx, 'returned-to-stock', { storageLocation, report });
      return change(ctx.assetNumber, {
        status: 'in_stock',
        location: storageLocation,
        department: admin.department,
        userName: admin.name,
        userEmail: admin.email,
        userPhone: null,
      });
    },
    async requestWipe(ctx, { keepRecord }) {
      record(ctx, 'wipe-requested', { keepRecord });
      return jobRef(ctx);
    },
    async getMdmJobState() {
      return { state: 'succeeded' };
    },
    async deleteFromMdm(ctx) {
      record(ctx, 'mdm-record-deleted', {});
      change(ctx.assetNumber, { mdmDeviceId: null });
      return { alreadyGone: false };
    },
    async verifyEnrollment(ctx, { reportedMdmDeviceId }) {
      const mdmDeviceId = reportedMdmDeviceId ?? `mdm-${ctx.assetNumber}-reenrolled`;
      record(ctx, 'reenrollment-verified', { mdmDeviceId });
      change(ctx.assetNumber, { mdmDeviceId });
      return { enrolled: true, mdmDeviceId };
    },
    async claimApplication() {
      return { reason: 'no application is waiting' };
    },
    async assignUser(ctx, { user, applicationId }) {
      record(ctx, 'user-assigned', { user, applicationId: applicationId ?? null });
      return change(ctx.assetNumber, {
        status: 'in_use',
        department: user.department,
        location: user.location,
        userName: user.name,
        userEmail: user.email,
        userPhone: user.phone ?? null,
      });
    },
    async recordDelivery(ctx, { receipt }) {
      record(ctx, 'delivery-receipt', { receipt });
    },
    async requestInactivation(ctx, { forced }) {
      record(ctx, forced ? 'forced-inactivation-requested' : 'inactivation-requested', { forced });
      return jobRef(ctx);
    },
    async getDeviceState() {
      return { exists: true, status: 'inactive' };
    },
    async finishInactivation(ctx, { finalStatus, forced }) {
      record(ctx, 'inactivation-completed', { finalStatus, forced });
      return change(ctx.assetNumber, { status: finalStatus, mdmDeviceId: null });
    },
    async getDeviceProfiles() {
      return { exists: true, status: 'inactive', profiles: [] };
    },
    async sendDeviceInstructions(ctx, { taskType, kind }) {
      record(ctx, 'notice-sent', { kind: `device-${kind}`, taskType });
    },
    async undoPlanned() {
      return { undone: [], kept: [] };
    },
    async retireAsReset(ctx, { detail }) {
      record(ctx, 'retired-as-reset', { detail });
      return change(ctx.assetNumber, { status: 'retired', mdmDeviceId: null });
    },
  };

  const chosen: LifecycleActivities = {
    ...defaults,
    ...(typeof overrides === 'function' ? overrides(defaults) : overrides),
  };
  const activities = Object.fromEntries(
    (Object.keys(chosen) as ActivityName[]).map((name) => [
      name,
      (...args: unknown[]) => {
        calls.push({ name, args } as StubCall);
        return (chosen[name] as (...a: unknown[]) => Promise<unknown>)(...args);
      },
    ]),
  ) as unknown as LifecycleActivities;

  return {
    activities,
    calls,
    events,
    openTasks,
    callsOf: <K extends ActivityName>(name: K, where?: (call: StubCall<K>) => boolean) =>
      (calls.filter((c) => c.name === name) as StubCall<K>[]).filter((c) => !where || where(c)),
    count: (name) => calls.filter((c) => c.name === name).length,
    eventsOf: (eventType) => events.filter((e) => e.eventType === eventType),
  };
}
