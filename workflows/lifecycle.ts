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
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityInterfaceFor,
} from '@temporalio/workflow';
import type { LifecycleActivities, StepContext } from '../activities/contracts';
import { AssetNumberKey, DepartmentKey, LifecycleProcessKey, LocationKey } from '../temporal/searchAttributes';
import { AdminControl, LifecycleStopped } from './adminControl';
import { renderDetails } from './currentDetails';
import type { ActorRef, HumanEventName, HumanTask, LifecycleState, ProcessKind, Step } from './definitions';
import { ReportIntake, type Received, type StepRefusal } from './reportIntake';
import { nowIso, StepLog } from './stepLog';

export { LifecycleStopped } from './adminControl';
export type { Received } from './reportIntake';

export interface TaskSpec {
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
}

/** Sends a reminder (to the person the task concerns) or an escalation (to the admins) for an open task. */
export type TaskNotice = (kind: 'reminder' | 'escalation', task: HumanTask) => Promise<void>;

type Recorder = Pick<ActivityInterfaceFor<LifecycleActivities>, 'recordEvent'>;

export class Lifecycle {
  readonly log: StepLog;
  readonly intake: ReportIntake;
  readonly control: AdminControl;
  /** Inactivation only: how many times the inactivation has been requested. */
  inactivationAttempts?: number;

  constructor(
    private readonly process: ProcessKind,
    private readonly assetNumber: string,
    private readonly record: Recorder,
    private readonly requester: ActorRef,
  ) {
    const first: Step = process === 'change-user' ? 'scheduled' : 'requesting-inactivation';
    this.log = new StepLog(first, () => this.refreshDetails());
    this.intake = new ReportIntake({
      log: this.log,
      refreshDetails: () => this.refreshDetails(),
      recordRejection: (event, actor, rejectionKey, reason) =>
        this.record.recordEvent(
          // per report, not per step
          { ...this.context(this.log.step, actor), idempotencyKey: `${workflowInfo().workflowId}:${rejectionKey}` },
          'report-rejected',
          { event, reason, via: 'signal' },
        ),
    });
    this.control = new AdminControl({
      log: this.log,
      expects: () => this.intake.pendingTask?.expects ?? [],
      audit: (type, details, actor, purpose) =>
        this.record.recordEvent(this.context('needs-attention', actor, purpose), type, details),
    });
    // Set here as well as at start, so a process started from the Temporal UI or CLI is filterable too.
    upsertSearchAttributes([
      { key: AssetNumberKey, value: assetNumber },
      { key: LifecycleProcessKey, value: process },
    ]);
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
      inactivationAttempts: this.inactivationAttempts,
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
      actor: { id: actor.id, role: actor.role },
      idempotencyKey: `${info.workflowId}:${info.runId}:${this.log.occurrence}:${step}:${purpose}`,
    };
  }

  enterStep(step: Step): void {
    this.log.enter(step);
  }

  setWhereabouts(department?: string | null, location?: string | null): void {
    upsertSearchAttributes([
      { key: DepartmentKey, value: department ?? null },
      { key: LocationKey, value: location ?? null },
    ]);
  }

  /** Runs an automated step; a failure that retries cannot fix waits for an admin's retry or abort. */
  async runStep<T>(step: Step, fn: (ctx: StepContext) => Promise<T>, actor = this.requester): Promise<T> {
    this.log.enter(step);
    return this.parkOnFailure(step, () => fn(this.context(step, actor)));
  }

  /**
   * Runs activity work belonging to `step` (without entering it again): an activity that finally fails
   * parks the workflow in needs-attention instead of failing it; after a retry the work runs again.
   */
  async parkOnFailure<T>(step: Step, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      this.control.throwIfStopped();
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof ActivityFailure) || isCancellation(err)) throw err;
        await this.control.waitForAdminDecision(step, describeFailure(err));
        this.log.enter(step);
      }
    }
  }

  /** Waits in `needs-attention` until an admin retries (returns) or aborts or cancels (throws). */
  waitForAdminDecision(failedStep: Step, error: string): Promise<void> {
    return this.control.waitForAdminDecision(failedStep, error);
  }

  /** Opens a human task and waits for a fitting report, sending reminders and escalations meanwhile. */
  async awaitTask(spec: TaskSpec, notice: TaskNotice): Promise<Received> {
    this.intake.reopen(spec.reopenedBecause);
    this.log.enter(spec.step, spec.type);
    const task: HumanTask = {
      type: spec.type,
      step: spec.step,
      expects: spec.expects,
      assetNumber: this.assetNumber,
      contact: spec.contact,
      dueAt: spec.dueAt.toISOString(),
      createdAt: nowIso(),
      remindersSent: 0,
      escalated: false,
    };
    this.intake.open(task, spec.refusal);
    this.refreshDetails();
    await this.waitForReport(spec, task, notice);
    const received = this.intake.take();
    const { actor } = received.report;
    await this.record.recordEvent(this.context(spec.step, actor, 'report'), received.event, {
      ...received.report.data,
    });
    return received;
  }

  /** Sleeps until a report arrives, waking for each reminder and escalation that falls due meanwhile. */
  private async waitForReport(spec: TaskSpec, task: HumanTask, notice: TaskNotice): Promise<void> {
    const reminders = (spec.remindAt ?? [])
      .filter((d) => d.getTime() > Date.now())
      .sort((a, b) => a.getTime() - b.getTime());
    let nextEscalation = spec.escalateAt?.getTime();
    const reportedOrStopped = () => this.intake.hasReport() || this.control.stopRequested();
    for (;;) {
      const next = Math.min(reminders[0]?.getTime() ?? Infinity, nextEscalation ?? Infinity);
      const wait = next === Infinity ? undefined : Math.max(1, next - Date.now());
      const woke =
        wait === undefined
          ? (await condition(reportedOrStopped), true)
          : await condition(reportedOrStopped, wait, {
              summary: `${spec.type}: ${reminders.length ? 'next reminder' : 'escalation'} if nobody reports`,
            });
      this.control.throwIfStopped();
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
      this.finish('completed');
    } catch (err) {
      const stopped =
        err instanceof LifecycleStopped ? err : isCancellation(err) ? new LifecycleStopped('cancelled') : undefined;
      if (!stopped) throw err;
      this.finish(stopped.how);
      await CancellationScope.nonCancellable(() => this.recordStop(stopped));
      if (isCancellation(err)) throw err;
    } finally {
      await condition(allHandlersFinished);
    }
    return this.state;
  }

  private recordStop(stopped: LifecycleStopped): Promise<void> {
    const actor = stopped.command?.actor ?? { id: 'temporal-cancel-request', role: 'operator' };
    return this.record.recordEvent(this.context(stopped.how, actor), stopped.how, {
      reason: stopped.command?.reason ?? null,
      doneSteps: this.log.steps.map((s) => s.step),
      failedStep: this.log.failedStep ?? null,
    });
  }

  private finish(status: 'completed' | 'cancelled' | 'aborted'): void {
    this.intake.close();
    this.log.close(status);
  }

  note(text: string): void {
    this.log.note(text);
  }

  refreshDetails(): void {
    setCurrentDetails(renderDetails(this.state));
  }
}

function describeFailure(err: ActivityFailure): string {
  const cause = err.cause as { message?: string; type?: string } | undefined;
  return `${err.activityType}: ${cause?.message ?? err.message}`;
}
