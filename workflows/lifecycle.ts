/**
 * The lifecycle both workflows run on: a facade over three collaborators that each own their fields.
 * - `log` (StepLog): status, the step sequence, notes, search attributes;
 * - `intake` (ReportIntake): the open human task, reports received, their acknowledgements;
 * - `control` (AdminControl): cancel, retry, abort and the needs-attention wait.
 * A workflow registers its message handlers on these (in its entry function, where a reader sees them)
 * and describes its steps with the methods below; this class runs them.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  setCurrentDetails,
  TimeoutFailure,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityInterfaceFor,
} from '@temporalio/workflow';
import type {
  LifecycleActivities,
  OpenTask,
  StepContext,
  TaskBookkeeping,
  UndoPlannedResult,
} from '../activities/contracts';
import { call, callMdm, MDM_COMMANDS, MDM_READS, MDM_WEATHER_FAILURES, type MdmActivity } from './activityProxy';
import {
  AssetNumberKey,
  DepartmentKey,
  LifecycleProcessKey,
  LifecycleStatusKey,
  LocationKey,
} from '../temporal/searchAttributes';
import { AdminControl, LifecycleStopped } from './adminControl';
import { renderDetails } from './currentDetails';
import {
  DEFAULT_CONTINUE_AFTER_EVENTS,
  DEFAULT_LIMITS,
  DEFAULT_MDM_OUTAGE_TOLERANCE_MS,
  type AdminCommand,
  type MdmWeather,
  type ActorRef,
  type CarriedLifecycle,
  type CarriedTask,
  type ResumeState,
  type HumanEventName,
  type HumanTask,
  type LifecycleLimits,
  type LifecycleState,
  type ProcessKind,
  type Step,
} from './definitions';
import type { FailureKind } from './failureKinds';
import { runFeatures, type RunFeatures } from './patches';
import { ReportIntake, type NextStep, type Received, type ReportCheck, type StepRefusal } from './reportIntake';
import { writeSearchAttributes } from './searchAttributeWrites';
import { nowIso, StepLog } from './stepLog';

export { LifecycleStopped } from './adminControl';

/**
 * Thrown from awaitTask when the step learns, while it waits, that the task cannot be done any more (the
 * MDM reports the job it belongs to failed: mdm-weather-1). The task is closed; `reason` says why.
 */
export class TaskInterrupted extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'TaskInterrupted';
  }
}

/** Closes every task-index row of a run (the largest occurrence a row can have). */
const LAST_OCCURRENCE = 2_147_483_647;

/** The task type of an admin's retry-or-abort decision while a process needs attention. */
export const ADMIN_DECISION_TASK = 'admin-decision';
export type { Received } from './reportIntake';

export interface TaskSpec {
  /** Its task-index row was opened by the step before it (lean-1: see Lifecycle.rowAhead). */
  openedAhead?: { createdAt: string };
  type: string;
  step: Step;
  expects: HumanEventName[];
  dueAt: Date;
  contact?: HumanTask['contact'];
  /** Absolute times at which reminders (before escalation) and escalations are due. */
  remindAt?: Date[];
  escalateAt?: Date;
  /** After escalation, repeat it this often while nobody reports. */
  repeatEveryMs?: number;
  /** Says why a report is refused at this step even though the step expects another event. */
  refusal?: StepRefusal;
  /** When the task opens again after a report the step could not use: why (the report's answer says it). */
  reopenedBecause?: string;
  /** Where a fitting report moves the process (answered at once to the reporter from fleet-scale-1 on). */
  next?: NextStep;
  /** A truth check against the MDM before a fitting Update is taken (mdm-weather-1). */
  check?: ReportCheck;
  /** Runs once the task has opened (and is in the task index), e.g. mails the instructions (mdm-weather-1). */
  onOpen?: () => Promise<void>;
  /**
   * What the steps after this task need, if the process may continue as new while waiting here
   * (continue-as-new-1). Without it the process does not continue as new at this task.
   */
  carry?: Record<string, unknown>;
}

/** Sends a reminder (to the person the task concerns) or an escalation (to the admins) for an open task. */
export type TaskNotice = (kind: 'reminder' | 'escalation', task: HumanTask) => Promise<void>;

type Recorder = Pick<ActivityInterfaceFor<LifecycleActivities>, 'recordEvent' | 'openTask'>;

export class Lifecycle {
  readonly log: StepLog;
  readonly intake: ReportIntake;
  readonly control: AdminControl;
  /** Inactivation only: how many times the inactivation has been requested. */
  inactivationAttempts?: number;
  /** Behaviour this run has, by the patches it started with (see patches.ts). */
  readonly features: RunFeatures;
  private whereabouts: { department: string | null; location: string | null } = { department: null, location: null };
  /** A report's audit write still running while the process enters its next step (fleet-scale-1). */
  private bookkeepingInFlight?: Promise<void>;

  /** While an MDM outage or throttling is waited out (mdm-weather-1). */
  private weather?: MdmWeather;
  /** Why the open task can no longer be done, once something watching it found out (mdm-weather-1). */
  private interruption?: string;
  /** Reopenings per step since an admin last decided (bounded-1). */
  private readonly reopenings = new Map<Step, number>();
  /** Undoes what the process only planned when it is cancelled or aborted (records-1; set by the workflow). */
  undoOnStop?: (ctx: StepContext) => Promise<UndoPlannedResult>;
  /** The LifecycleStatus search attribute last set (records-1). */
  private statusShown?: string;
  /** Continues the workflow as new with the given resume state (set by the workflow's entry function). */
  continueWith?: (resume: ResumeState) => Promise<never>;
  /** The open task of the previous run, until this run opens it again (continue-as-new). */
  private resumedTask?: { at: string; task: CarriedTask };
  private readonly previousRuns: number;

  constructor(
    private readonly process: ProcessKind,
    private readonly assetNumber: string,
    private readonly record: Recorder,
    private readonly requester: ActorRef,
    readonly limits: LifecycleLimits = DEFAULT_LIMITS,
    resume?: ResumeState,
  ) {
    const first: Step =
      process === 'change-user' ? 'scheduled' : process === 'distribution' ? 'reserving' : 'requesting-inactivation';
    this.features = runFeatures();
    this.log = new StepLog(first, () => this.refreshDetails(), this.features.lean);
    this.intake = new ReportIntake({
      log: this.log,
      features: this.features,
      limits,
      refreshDetails: () => this.refreshDetails(),
      recordRejection: (event, actor, rejectionKey, reason, via = 'signal') =>
        this.record.recordEvent(
          // per report, not per step
          { ...this.context(this.log.step, actor), idempotencyKey: `${workflowInfo().workflowId}:${rejectionKey}` },
          'report-rejected',
          { event, reason, via },
        ),
    });
    this.control = new AdminControl({
      log: this.log,
      features: this.features,
      expects: () => this.intake.pendingTask?.expects ?? [],
      audit: (type, details, { actor, purpose, tasks }) => {
        const ctx = this.context('needs-attention', actor, purpose);
        return this.afterBookkeeping(() => this.record.recordEvent(ctx, type, details, tasks));
      },
      adminDecisionTask: (failedStep, error, kind) => this.adminDecisionTask(failedStep, error, kind),
    });
    // Set here as well as at start, so a process started from the Temporal UI or CLI is filterable too;
    // from lean-1 on only when the start did not carry them (the API's starts do).
    writeSearchAttributes(
      [
        { key: AssetNumberKey, value: assetNumber },
        { key: LifecycleProcessKey, value: process },
      ],
      this.features.lean,
    );
    if (this.features.lean) this.statusShown = workflowInfo().typedSearchAttributes.get(LifecycleStatusKey);
    this.previousRuns = resume?.lifecycle.runs ?? 0;
    if (resume) this.restore(resume);
  }

  /** A continued run takes over what its previous run carried (continue-as-new-1). */
  private restore(resume: ResumeState): void {
    const carried = resume.lifecycle;
    this.log.restore(carried.steps, carried.notes);
    this.intake.restore(carried);
    for (const [step, count] of carried.reopenings) this.reopenings.set(step, count);
    this.inactivationAttempts = carried.inactivationAttempts;
    this.setWhereabouts(carried.whereabouts.department, carried.whereabouts.location);
    this.resumedTask = { at: resume.at, task: resume.task };
    // Open the task now, before the handlers are registered: reports buffered while the process continued
    // as new are validated against it (the workflow opens it again with the step's own rules).
    const t = resume.task;
    this.log.enter(t.step, resume.at);
    this.intake.open({
      type: resume.at,
      step: t.step,
      expects: t.expects,
      assetNumber: this.assetNumber,
      contact: t.contact,
      dueAt: t.dueAt,
      createdAt: t.createdAt,
      remindersSent: t.remindersSent,
      escalated: t.escalated,
      occurrence: this.log.occurrence,
    });
  }

  /** What the next run needs of this one: bounded, so the state a query returns stays small. */
  private carried(): CarriedLifecycle {
    return {
      runs: this.previousRuns + 1,
      steps: this.log.steps.slice(-50),
      notes: this.log.notes.slice(-20),
      reports: this.intake.records.slice(-100),
      acks: this.intake.carriedAcks(1000),
      reopenings: [...this.reopenings.entries()],
      inactivationAttempts: this.inactivationAttempts,
      whereabouts: this.whereabouts,
    };
  }

  /** What the `state` query answers and the workflow returns. */
  get state(): LifecycleState {
    const { log, intake } = this;
    return {
      process: this.process,
      assetNumber: this.assetNumber,
      status: log.status,
      step: log.step,
      steps: log.steps,
      pendingTask: intake.pendingTask,
      failedStep: log.failedStep,
      lastError: log.lastError,
      ...(log.errorKind ? { errorKind: log.errorKind } : {}),
      inactivationAttempts: this.inactivationAttempts,
      occurrence: log.occurrence,
      ...(intake.droppedSignals ? { droppedSignals: intake.droppedSignals } : {}),
      ...(this.previousRuns ? { previousRuns: this.previousRuns } : {}),
      ...(this.weather ? { mdmWeather: this.weather } : {}),
      reports: intake.records,
      notes: log.notes,
    };
  }

  /**
   * The audit context of a step, attributed to `actor` (default: who started the process). `purpose`
   * tells apart several writes within one step occurrence; the key stays the same across retries.
   */
  context(step: Step, actor: ActorRef = this.requester, purpose = 'step'): StepContext {
    const info = workflowInfo();
    return {
      assetNumber: this.assetNumber,
      workflowId: info.workflowId,
      runId: info.runId,
      step,
      actor: { id: actor.id, role: actor.role, ...(actor.credential ? { credential: actor.credential } : {}) },
      idempotencyKey: `${info.workflowId}:${info.runId}:${this.log.occurrence}:${step}:${purpose}`,
    };
  }

  enterStep(step: Step): void {
    this.log.enter(step);
  }

  setWhereabouts(department?: string | null, location?: string | null): void {
    this.whereabouts = { department: department ?? null, location: location ?? null };
    writeSearchAttributes(
      [
        { key: DepartmentKey, value: department ?? null },
        { key: LocationKey, value: location ?? null },
      ],
      this.features.lean,
    );
  }

  /** Runs an automated step; a failure that retries cannot fix waits for an admin's retry or abort. */
  async runStep<T>(step: Step, fn: (ctx: StepContext) => Promise<T>, actor = this.requester): Promise<T> {
    // From fleet-scale-1 on, a stop requested while the last report was taken ends the process before
    // the next step is even entered (its reporter is answered `cancelled`, not with a step never done).
    if (this.features.fleetScale) this.control.throwIfStopped();
    this.log.enter(step);
    return this.parkOnFailure(step, () => fn(this.context(step, actor)));
  }

  /**
   * Runs activity work belonging to `step` (without entering it again): an activity that finally fails
   * parks the workflow in needs-attention instead of failing it; after a retry the work runs again.
   */
  async parkOnFailure<T>(step: Step, fn: () => Promise<T>): Promise<T> {
    // A task taken just now stops showing as awaited before this step's work (lean-2): its row closes with
    // the audit write, and a reader must not find the process waiting for a person with no task.
    this.log.showTaskTaken();
    if (this.bookkeepingInFlight) await this.flushBookkeeping();
    for (;;) {
      this.control.throwIfStopped();
      try {
        const result = await fn();
        if (this.weather) this.clearWeather();
        return result;
      } catch (err) {
        if (!(err instanceof ActivityFailure) || isCancellation(err)) throw err;
        if (this.features.mdmWeather && (await this.rideOutWeather(step, err))) continue;
        const kind = this.features.mdmWeather ? failureKindOf(err) : undefined;
        await this.control.waitForAdminDecision(step, describeFailure(err), kind);
        this.log.enter(step);
      }
    }
  }

  /** Calls an MDM activity: from mdm-weather-1 on, its outages come back to parkOnFailure at once. */
  mdm<K extends MdmActivity>(
    name: K,
    summary: string,
    ...args: Parameters<LifecycleActivities[K]>
  ): Promise<Awaited<ReturnType<LifecycleActivities[K]>>> {
    return this.features.mdmWeather ? callMdm(name, summary, ...args) : call(name, summary, ...args);
  }

  /**
   * The MDM is down or throttling (mdm-weather-1): waits (at least as long as the MDM asked) and returns
   * true to try again; false for any other failure. A read always tries again; a command until
   * MDM_OUTAGE_TOLERANCE has passed since the spell began: then the process needs attention (kind
   * `mdm-outage`) and tries again after an admin's retry.
   */
  private async rideOutWeather(step: Step, err: ActivityFailure): Promise<boolean> {
    const kind = weatherOf(err);
    if (!kind) {
      if (this.weather) this.clearWeather();
      return false;
    }
    const now = Date.now();
    const previous = this.weather?.step === step ? this.weather : undefined;
    const sinceMs = previous ? Date.parse(previous.since) : now;
    const tries = (previous?.tries ?? 0) + 1;
    const toleranceMs = this.limits.mdmOutageToleranceMs ?? DEFAULT_MDM_OUTAGE_TOLERANCE_MS;
    const givesUpAt = kind === 'command' ? sinceMs + toleranceMs : undefined;
    if (givesUpAt !== undefined && now >= givesUpAt) {
      this.clearWeather();
      const hours = Math.round((toleranceMs / 3_600_000) * 10) / 10;
      const error = `${describeFailure(err)} (the MDM has not answered since ${new Date(sinceMs).toISOString()}: longer than MDM_OUTAGE_TOLERANCE, ${hours} h)`;
      await this.control.waitForAdminDecision(step, error, 'mdm-outage');
      this.log.enter(step);
      return true;
    }
    const waitMs = Math.max(retryAfterMsOf(err) ?? 0, weatherBackoffMs(tries));
    this.weather = {
      step,
      activity: err.activityType,
      error: describeFailure(err),
      since: new Date(sinceMs).toISOString(),
      tries,
      nextTryAt: new Date(now + waitMs).toISOString(),
      ...(givesUpAt !== undefined ? { givesUpAt: new Date(givesUpAt).toISOString() } : {}),
    };
    // In the memo too, so the API's view (one describe) can say it without asking the workflow.
    upsertMemo({ mdmWeather: this.weather });
    this.refreshDetails();
    await condition(() => this.control.stopRequested(), waitMs, {
      summary: `MDM unavailable (${err.activityType}, try ${tries}): wait before trying again`,
    });
    return true;
  }

  private clearWeather(): void {
    const spell = this.weather;
    this.weather = undefined;
    upsertMemo({ mdmWeather: null });
    if (spell && spell.tries > 0) {
      this.note(`The MDM answered again after ${spell.tries} failed tries since ${spell.since} (${spell.activity}).`);
    }
  }

  /**
   * Notes why a task must open again after a report the step could not use, and returns the reason for
   * the reopened task. From bounded-1 on, after `limits.reopenLimit` reopenings an admin decides first.
   */
  async reopenTask(step: Step, because: string): Promise<string> {
    this.note(because);
    if (!this.features.bounded) return because;
    const count = (this.reopenings.get(step) ?? 0) + 1;
    this.reopenings.set(step, count);
    if (count < this.limits.reopenLimit) return because;
    this.reopenings.delete(step);
    await this.waitForAdminDecision(
      step,
      `the task opened again ${count} times (limit ${this.limits.reopenLimit}); last: ${because}. Retry opens it once more`,
      'attempt-limit',
    );
    return because;
  }

  /**
   * Waits in `needs-attention` until an admin retries (returns the retry command) or aborts or cancels
   * (throws). `kind` is recorded from mdm-weather-1 on.
   */
  waitForAdminDecision(failedStep: Step, error: string, kind?: FailureKind): Promise<AdminCommand> {
    return this.control.waitForAdminDecision(failedStep, error, this.features.mdmWeather ? kind : undefined);
  }

  /** Opens a human task and waits for a fitting report, sending reminders and escalations meanwhile. */
  async awaitTask(opened: TaskSpec, notice: TaskNotice): Promise<Received> {
    const carried = this.takeResumedTask(opened.type);
    const spec = carried ? resumedSpec(opened, carried) : opened;
    this.intake.reopen(spec.reopenedBecause);
    // Opened by the step before it, in its own activity (lean-1), unless this is a continued run.
    const writesRow = this.features.fleetScale && (!spec.openedAhead || carried !== undefined);
    // A continued run entered it at its start. From lean-2 on the step shows once its row is written.
    if (!carried) this.log.enter(spec.step, spec.type, this.features.lean2 && writesRow);
    const task: HumanTask = {
      type: spec.type,
      step: spec.step,
      expects: spec.expects,
      assetNumber: this.assetNumber,
      contact: spec.contact,
      dueAt: spec.dueAt.toISOString(),
      ...(this.features.records && spec.escalateAt ? { escalateAt: spec.escalateAt.toISOString() } : {}),
      createdAt: carried?.createdAt ?? spec.openedAhead?.createdAt ?? nowIso(),
      remindersSent: carried?.remindersSent ?? 0,
      escalated: carried?.escalated ?? false,
      occurrence: this.log.occurrence,
    };
    this.interruption = undefined;
    this.intake.open(task, spec.refusal, spec.next, carried !== undefined, spec.check);
    this.refreshDetails();
    if (this.features.fleetScale) {
      await this.flushBookkeeping();
      if (writesRow) await this.record.openTask(this.taskRow(task, spec.escalateAt));
      this.log.showStep();
    }
    // Not again when a continued run picks the task up: it was sent when the task first opened.
    if (spec.onOpen && !carried) await this.tryNotice(spec.onOpen);
    await this.waitForReport(spec, task, notice);
    const received = this.intake.take();
    if (this.features.lean2) this.log.taskTaken();
    const closes: TaskBookkeeping = { closeThrough: task.occurrence };
    const ctx = this.context(spec.step, received.report.actor, 'report');
    const details = { ...received.report.data, ...(received.via ? { via: received.via } : {}) };
    const audit = () => this.record.recordEvent(ctx, received.event, details, closes);
    if (!this.features.fleetScale) {
      await audit();
      return received;
    }
    // The process enters its next step now (the reporter's answer names it); that step's own work waits
    // for this write (flushBookkeeping), so the audit trail keeps its order. Not cancellable: a report
    // that was accepted is always recorded.
    this.bookkeepingInFlight = CancellationScope.nonCancellable(audit);
    return received;
  }

  /** Waits for the audit write of the last report, if it is still running. */
  private async flushBookkeeping(): Promise<void> {
    const inFlight = this.bookkeepingInFlight;
    this.bookkeepingInFlight = undefined;
    await inFlight;
  }

  /**
   * Runs `write` once the last report's audit write is done. Without one in flight (always, before
   * fleet-scale-1) it runs at once, with no extra await, so older histories replay command for command.
   */
  private afterBookkeeping(write: () => Promise<void>): Promise<void> {
    const inFlight = this.bookkeepingInFlight;
    this.bookkeepingInFlight = undefined;
    return inFlight ? inFlight.then(write) : write();
  }

  /**
   * The task-index row of the task the process opens next, for the step before it to write in its own
   * activity (lean-1): the occurrence it will have, and no contact or whereabouts (the activity fills them
   * from the asset it has just written). Only for a task opened right after the current step's work.
   */
  rowAhead(spec: TaskSpec, createdAt: string): Omit<OpenTask, 'contact' | 'department' | 'location'> {
    const task: HumanTask = {
      type: spec.type,
      step: spec.step,
      expects: spec.expects,
      assetNumber: this.assetNumber,
      dueAt: spec.dueAt.toISOString(),
      createdAt,
      remindersSent: 0,
      escalated: false,
      occurrence: this.log.occurrence + 1,
    };
    const { contact: _c, department: _d, location: _l, ...row } = this.taskRow(task, spec.escalateAt);
    return row;
  }

  /** The task-index row of an open human task. */
  private taskRow(task: HumanTask, escalateAt: Date | undefined): OpenTask {
    const info = workflowInfo();
    return {
      workflowId: info.workflowId,
      runId: info.runId,
      taskQueue: info.taskQueue,
      occurrence: task.occurrence ?? this.log.occurrence,
      process: this.process,
      type: task.type,
      step: task.step,
      expects: task.expects,
      assetNumber: this.assetNumber,
      ...this.whereabouts,
      contact: task.contact ?? null,
      dueAt: task.dueAt,
      escalateAt: escalateAt?.toISOString() ?? null,
      createdAt: task.createdAt,
      remindersSent: task.remindersSent,
      escalated: task.escalated,
    };
  }

  /** The task-index row of the admins' decision while the process needs attention. */
  private adminDecisionTask(failedStep: Step, error: string, errorKind?: FailureKind): OpenTask {
    const now = nowIso();
    const task: HumanTask = {
      type: ADMIN_DECISION_TASK,
      step: 'needs-attention',
      expects: [],
      assetNumber: this.assetNumber,
      dueAt: now,
      createdAt: now,
      remindersSent: 0,
      escalated: false,
      occurrence: this.log.occurrence,
    };
    return { ...this.taskRow(task, undefined), failedStep, lastError: error, ...(errorKind ? { errorKind } : {}) };
  }

  /** Sleeps until a report arrives, waking for each reminder and escalation that falls due meanwhile. */
  private async waitForReport(spec: TaskSpec, task: HumanTask, notice: TaskNotice): Promise<void> {
    const reminders = (spec.remindAt ?? [])
      .filter((d) => d.getTime() > Date.now())
      .sort((a, b) => a.getTime() - b.getTime());
    let nextEscalation = spec.escalateAt?.getTime();
    const continueAsNew = () => this.wantsContinueAsNew(spec);
    const reportedOrStopped = () =>
      this.intake.hasReport() || this.control.stopRequested() || continueAsNew() || this.interruption !== undefined;
    for (;;) {
      if (continueAsNew()) {
        const remindAt = reminders.map((d) => d.toISOString());
        const escalateAt = nextEscalation === undefined ? undefined : new Date(nextEscalation).toISOString();
        await this.continueAsNewAt(spec, { ...carriedTimes(task), remindAt, escalateAt });
      }
      const next = Math.min(reminders[0]?.getTime() ?? Infinity, nextEscalation ?? Infinity);
      const wait = next === Infinity ? undefined : Math.max(1, next - Date.now());
      const woke =
        wait === undefined
          ? (await condition(reportedOrStopped), true)
          : await condition(reportedOrStopped, wait, {
              summary: `${spec.type}: ${reminders.length ? 'next reminder' : 'escalation'} if nobody reports`,
            });
      // From fleet-scale-1 on, a report accepted before a stop is taken (and audited) first.
      if (this.features.fleetScale && this.intake.hasReport()) return;
      this.control.throwIfStopped();
      if (this.interruption !== undefined) this.throwInterrupted(task);
      if (woke && this.intake.hasReport()) return;
      if (!woke && reminders.length && reminders[0].getTime() <= Date.now()) {
        reminders.shift();
        task.remindersSent += 1;
        await this.tryNotice(() => notice('reminder', task));
      } else if (!woke && nextEscalation !== undefined && nextEscalation <= Date.now()) {
        task.escalated = true;
        nextEscalation = spec.repeatEveryMs ? Date.now() + spec.repeatEveryMs : undefined;
        await this.tryNotice(() => notice('escalation', task));
      }
      this.refreshDetails();
    }
  }

  /** Ends the open task because it can no longer be done (see TaskInterrupted); mdm-weather-1 only. */
  interruptTask(reason: string): void {
    if (this.features.mdmWeather && this.intake.pendingTask) this.interruption = reason;
  }

  private throwInterrupted(task: HumanTask): never {
    const reason = this.interruption as string;
    this.interruption = undefined;
    this.intake.close();
    this.note(`Task ${task.type} ended: ${reason}`);
    throw new TaskInterrupted(reason);
  }

  /**
   * Continue-as-new is due: the task allows it (it carries what the next steps need), Temporal suggests it
   * or the history passed the limit, and nothing is in flight (no report to take, no handler running).
   */
  private wantsContinueAsNew(spec: TaskSpec): boolean {
    if (!this.features.continueAsNew || !spec.carry || !this.continueWith) return false;
    if (this.log.status !== 'running' || this.bookkeepingInFlight || !this.intake.isIdle()) return false;
    const info = workflowInfo();
    const limit = this.limits.continueAfterEvents ?? DEFAULT_CONTINUE_AFTER_EVENTS;
    return (info.continueAsNewSuggested || info.historyLength >= limit) && allHandlersFinished();
  }

  private async continueAsNewAt(spec: TaskSpec, task: CarriedTask): Promise<never> {
    const events = workflowInfo().historyLength;
    this.note(`Continued as new after ${events} history events, waiting at ${spec.step} (${spec.type}).`);
    const resume: ResumeState = {
      at: spec.type,
      task: { ...task, reopenedBecause: spec.reopenedBecause },
      lifecycle: this.carried(),
      carry: spec.carry ?? {},
    };
    return (this.continueWith as (r: ResumeState) => Promise<never>)(resume);
  }

  /** The previous run's open task, if this is the first task opened since it continued as new. */
  private takeResumedTask(type: string): CarriedTask | undefined {
    const resumed = this.resumedTask;
    this.resumedTask = undefined;
    return resumed && resumed.at === type ? resumed.task : undefined;
  }

  /** A reminder that cannot be sent (mail relay refusing) is noted, not fatal: the task still waits. */
  private async tryNotice(send: () => Promise<void>): Promise<void> {
    try {
      await send();
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      this.note(`A notice could not be sent: ${describeFailure(err)}`);
    }
  }

  stopRequested(): boolean {
    return this.control.stopRequested();
  }

  throwIfStopped(): void {
    this.control.throwIfStopped();
  }

  /**
   * Runs the workflow body and closes it: completed, or cancelled/aborted by an admin (recorded, nothing
   * undone), or cancelled from the Temporal UI. Always waits for handlers so no Update is left unanswered.
   */
  async run(body: () => Promise<void>): Promise<LifecycleState> {
    try {
      await body();
      if (this.bookkeepingInFlight) await this.flushBookkeeping();
      this.finish('completed');
    } catch (err) {
      const stopped =
        err instanceof LifecycleStopped ? err : isCancellation(err) ? new LifecycleStopped('cancelled') : undefined;
      if (!stopped) throw err;
      this.finish(stopped.how);
      if (this.features.records) {
        await CancellationScope.nonCancellable(async () => this.recordStop(stopped, await this.undoPlanned(stopped)));
      } else {
        await CancellationScope.nonCancellable(() => this.recordStop(stopped));
      }
      if (isCancellation(err)) throw err;
    } finally {
      // A cancel from the Temporal UI cancels the root scope, where this wait would end at once and
      // leave Updates unanswered; from bounded-1 on it waits outside it.
      if (this.features.bounded) await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
      else await condition(allHandlersFinished);
    }
    return this.state;
  }

  /**
   * records-1: undoes what the process had only planned (the workflow's `undoOnStop`), attributed to who
   * stopped it. A failure to undo is noted and said in the stop's audit event, never fatal.
   */
  private async undoPlanned(stopped: LifecycleStopped): Promise<UndoPlannedResult | undefined> {
    if (!this.undoOnStop) return undefined;
    if (this.bookkeepingInFlight) await this.flushBookkeeping();
    const actor = stopperOf(stopped);
    try {
      return await this.undoOnStop(this.context(stopped.how, actor, 'undo'));
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      this.note(`What was planned could not be undone: ${describeFailure(err)}`);
      return { undone: [], kept: [`undo failed: ${describeFailure(err)}`] };
    }
  }

  private recordStop(stopped: LifecycleStopped, undo?: UndoPlannedResult): Promise<void> {
    const actor = stopperOf(stopped);
    const doneSteps = this.log.steps.map((s) => s.step);
    const details = {
      reason: stopped.command?.reason ?? null,
      doneSteps,
      failedStep: this.log.failedStep ?? null,
      // records-1: what was undone in the records, and what was done to the device and stays done.
      ...(undo
        ? { undone: undo.undone, kept: undo.kept, doneToDevice: doneSteps.filter((s) => DEVICE_STEPS.has(s)) }
        : {}),
    };
    // lean-1: every row of the run, also one its first step opened ahead of the task (scheduleCollection).
    const closes: TaskBookkeeping = { closeThrough: this.features.lean ? LAST_OCCURRENCE : this.log.occurrence };
    const ctx = this.context(stopped.how, actor);
    return this.afterBookkeeping(() => this.record.recordEvent(ctx, stopped.how, details, closes));
  }

  private finish(status: 'completed' | 'cancelled' | 'aborted'): void {
    this.intake.close();
    this.log.close(status);
  }

  note(text: string): void {
    this.log.note(text);
  }

  refreshDetails(): void {
    if (this.features.records && this.log.status !== this.statusShown) {
      this.statusShown = this.log.status;
      upsertSearchAttributes([{ key: LifecycleStatusKey, value: this.log.status }]);
    }
    setCurrentDetails(renderDetails(this.state));
  }
}

/** The task as the workflow opened it, with the times and counts the previous run carried. */
function resumedSpec(opened: TaskSpec, carried: CarriedTask): TaskSpec {
  return {
    ...opened,
    dueAt: new Date(carried.dueAt),
    remindAt: carried.remindAt.map((d) => new Date(d)),
    escalateAt: carried.escalateAt ? new Date(carried.escalateAt) : undefined,
    reopenedBecause: carried.reopenedBecause ?? opened.reopenedBecause,
  };
}

function carriedTimes(task: HumanTask): Omit<CarriedTask, 'remindAt' | 'escalateAt'> {
  const { step, expects, contact, dueAt, createdAt, remindersSent, escalated } = task;
  return { step, expects, contact, dueAt, createdAt, remindersSent, escalated };
}

/** Whether a failed MDM activity failed for want of the MDM (weather), and whether it read or commanded. */
function weatherOf(err: ActivityFailure): 'read' | 'command' | undefined {
  const activity = err.activityType as MdmActivity;
  const kind = (MDM_READS as readonly string[]).includes(activity)
    ? 'read'
    : (MDM_COMMANDS as readonly string[]).includes(activity)
      ? 'command'
      : undefined;
  if (!kind) return undefined;
  const cause = err.cause;
  if (cause instanceof TimeoutFailure) return kind; // the MDM (or the worker calling it) hung
  if (cause instanceof ApplicationFailure && !cause.nonRetryable && MDM_WEATHER_FAILURES.includes(cause.type ?? '')) {
    return kind;
  }
  return undefined;
}

/** The wait the MDM asked for (Retry-After), as the activity failure carries it. */
function retryAfterMsOf(err: ActivityFailure): number | undefined {
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure)) return undefined;
  const detail = (cause.details?.[0] ?? undefined) as { retryAfterMs?: unknown } | undefined;
  if (typeof detail?.retryAfterMs === 'number') return detail.retryAfterMs;
  const next = cause.nextRetryDelay;
  return typeof next === 'number' ? next : undefined;
}

/** 10 s, 20 s, 40 s ... up to 5 minutes between tries while the MDM is away. */
function weatherBackoffMs(tries: number): number {
  return Math.min(10_000 * 2 ** Math.min(tries - 1, 10), 5 * 60_000);
}

/** The kind of failure an admin decides on (mdm-weather-1), from the activity's failure. */
function failureKindOf(err: ActivityFailure): FailureKind {
  const cause = err.cause;
  const type = cause instanceof ApplicationFailure ? (cause.type ?? '') : '';
  if (type.startsWith('Mdm.')) return 'mdm-refused';
  if (type === 'MailRejected') return 'mail';
  const activity = err.activityType;
  if ((MDM_COMMANDS as readonly string[]).includes(activity) || (MDM_READS as readonly string[]).includes(activity)) {
    return type === 'NoMdmDevice' || type === 'AssetNotFound' ? 'database' : 'other';
  }
  return ['sendNotice', 'sendDeviceInstructions'].includes(activity) ? 'mail' : 'database';
}

/** Who stopped the process: the admin's command, or a cancel from the Temporal UI or CLI (no actor). */
function stopperOf(stopped: LifecycleStopped): ActorRef {
  return stopped.command?.actor ?? { id: 'temporal-cancel-request', role: 'operator' };
}

/** Steps that change the device or its MDM record: a stop keeps what they did (records-1). */
const DEVICE_STEPS = new Set<string>([
  'returning-to-stock',
  'wiping',
  'removing-from-mdm',
  'requesting-inactivation',
  'deleting-from-mdm',
  'assigning',
]);

function describeFailure(err: ActivityFailure): string {
  const cause = err.cause as { message?: string; type?: string } | undefined;
  return `${err.activityType}: ${cause?.message ?? err.message}`;
}
