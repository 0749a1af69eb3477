/**
 * The mechanism both lifecycle workflows share: state, human tasks, report handling (Updates with
 * validators and the same reports as Signals), admin commands, needs-attention, search attributes and
 * the details shown in the Temporal Web UI. A workflow describes its steps; this class runs them.
 */
import {
  allHandlersFinished,
  ApplicationFailure,
  ActivityFailure,
  condition,
  isCancellation,
  CancellationScope,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityInterfaceFor,
} from '@temporalio/workflow';
import type { LifecycleActivities, StepContext } from '../activities/contracts';
import {
  AssetNumberKey, AwaitingTaskKey, DepartmentKey, LifecycleProcessKey, LifecycleStepKey, LocationKey, NeedsAttentionKey,
} from '../temporal/searchAttributes';
import {
  adminCommandSchema,
  adminUpdates,
  describeIssues,
  parseReport,
  reportSignals,
  reportUpdates,
  stateQuery,
  HUMAN_EVENTS,
  ReportInvalid,
  type AdminCommand,
  type AdminCommandName,
  type HumanEventName,
  type HumanReport,
  type HumanTask,
  type LifecycleState,
  type ProcessKind,
  type ReportAck,
  type Step,
} from './definitions';

/** Thrown inside the workflow when an admin cancels or aborts; the workflow ends with that status. */
export class LifecycleStopped extends Error {
  constructor(readonly how: 'cancelled' | 'aborted', readonly command?: AdminCommand) {
    super(`lifecycle ${how}`);
  }
}

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
  refusal?: (event: HumanEventName) => string | undefined;
}

type Acts = ActivityInterfaceFor<LifecycleActivities>;

interface Received {
  event: HumanEventName;
  report: HumanReport;
}

export class Lifecycle {
  readonly state: LifecycleState;
  private readonly acks = new Map<string, ReportAck>();
  private inbox: Received[] = [];
  private refusal?: TaskSpec['refusal'];
  private requested: Partial<Record<AdminCommandName, AdminCommand>> = {};
  private stepSeq = 0;

  constructor(
    process: ProcessKind,
    assetNumber: string,
    private readonly record: Pick<Acts, 'recordEvent'>,
    private readonly requester: { id: string; role: string },
  ) {
    const first: Step = process === 'change-user' ? 'scheduled' : 'requesting-inactivation';
    this.state = { process, assetNumber, status: 'running', step: first, steps: [], reports: [], notes: [] };
    this.registerHandlers();
    // Set here as well as at start, so a process started from the Temporal UI or CLI is filterable too.
    upsertSearchAttributes([
      { key: AssetNumberKey, value: assetNumber },
      { key: LifecycleProcessKey, value: process },
    ]);
  }

  // ---- handlers: registered synchronously in the constructor, before the workflow's first await ----

  private registerHandlers(): void {
    setHandler(stateQuery, () => this.state);
    for (const event of HUMAN_EVENTS) {
      setHandler(reportUpdates[event], (report) => this.acceptReport(event, report), {
        validator: (report) => this.validateReport(event, report),
      });
      setHandler(reportSignals[event], (report) => this.onSignal(event, report));
    }
    for (const name of ['cancel', 'retry', 'abort'] as const) {
      setHandler(adminUpdates[name], (cmd) => this.acceptCommand(name, cmd), {
        validator: (cmd) => this.validateCommand(name, cmd),
      });
    }
  }

  /** Throws (so the Update is rejected and nothing is written) when the report does not fit now. */
  private validateReport(event: HumanEventName, raw: HumanReport): void {
    const key = (raw as { idempotencyKey?: unknown })?.idempotencyKey;
    if (typeof key === 'string' && this.acks.has(key)) return; // a repeat is acknowledged, not re-applied
    try {
      parseReport(event, raw);
    } catch (err) {
      if (err instanceof ReportInvalid) {
        throw ApplicationFailure.create({ type: 'InvalidReport', message: err.message, details: [{ problems: err.problems }], nonRetryable: true });
      }
      throw err;
    }
    const reason = this.notExpectedReason(event);
    if (reason) {
      throw ApplicationFailure.create({
        type: 'EventNotExpected',
        message: reason,
        details: [{ step: this.state.step, expects: this.state.pendingTask?.expects ?? [], status: this.state.status }],
        nonRetryable: true,
      });
    }
  }

  private notExpectedReason(event: HumanEventName): string | undefined {
    const task = this.state.pendingTask;
    if (this.state.status !== 'running' || !task) {
      return `${event} is not expected: the workflow is ${this.state.status} at step ${this.state.step} and waits for no report`;
    }
    const special = this.refusal?.(event);
    if (special) return special;
    if (!task.expects.includes(event)) {
      return `${event} is not expected at step ${task.step}; expected: ${task.expects.join(', ')}`;
    }
    if (this.inbox.length > 0) return `${event} is not expected: a report for step ${task.step} was already accepted`;
    return undefined;
  }

  private async acceptReport(event: HumanEventName, raw: HumanReport): Promise<ReportAck> {
    const previous = this.acks.get(raw.idempotencyKey);
    if (previous) return { ...previous, duplicate: true, step: this.state.step, status: this.state.status };
    // Two reports validated at once both pass the validator; only the first may be applied.
    const late = this.notExpectedReason(event);
    if (late) {
      throw ApplicationFailure.create({ type: 'EventNotExpected', message: late, details: [{ step: this.state.step, expects: this.state.pendingTask?.expects ?? [], status: this.state.status }], nonRetryable: true });
    }
    const report = parseReport(event, raw);
    const stepAtReport = this.state.step;
    // The step's occurrence, not its name: a step can open again (e.g. a re-enrolment the MDM did not confirm).
    const seqAtReport = this.stepSeq;
    this.take(event, report);
    const ack: ReportAck = { accepted: true, duplicate: false, event, step: stepAtReport, status: this.state.status };
    this.acks.set(report.idempotencyKey, ack);
    // Answer with the step the report moved the workflow to.
    await condition(() => this.stepSeq !== seqAtReport || this.state.status !== 'running');
    ack.step = this.state.step;
    ack.status = this.state.status;
    if (ack.step === stepAtReport) ack.message = this.state.notes.at(-1);
    return { ...ack };
  }

  private take(event: HumanEventName, report: HumanReport): void {
    this.inbox.push({ event, report });
    this.state.reports.push({
      event, idempotencyKey: report.idempotencyKey, actor: report.actor, at: nowIso(), outcome: 'accepted', step: this.state.step,
    });
  }

  /** Signals cannot be refused to the sender, so an unfit one is recorded as rejected (state and audit). */
  private async onSignal(event: HumanEventName, raw: HumanReport): Promise<void> {
    const key = (raw as { idempotencyKey?: unknown })?.idempotencyKey;
    if (typeof key === 'string' && this.acks.has(key)) return;
    let reason: string | undefined;
    let report: HumanReport | undefined;
    try {
      report = parseReport(event, raw);
      reason = this.notExpectedReason(event);
    } catch (err) {
      reason = err instanceof ReportInvalid ? err.message : String(err);
    }
    if (report && !reason) {
      this.take(event, report);
      this.acks.set(report.idempotencyKey, { accepted: true, duplicate: false, event, step: this.state.step, status: this.state.status });
      return;
    }
    const actor = report?.actor ?? safeActor(raw);
    const rejectionKey = typeof key === 'string' ? `rejected:${key}` : `rejected:${workflowInfo().runId}:${this.state.reports.length}`;
    this.state.reports.push({ event, idempotencyKey: rejectionKey, actor, at: nowIso(), outcome: 'rejected', step: this.state.step, reason });
    this.refreshDetails();
    await this.record.recordEvent(
      { ...this.context(this.state.step, actor), idempotencyKey: `${workflowInfo().workflowId}:${rejectionKey}` }, // per report, not per step
      'report-rejected',
      { event, reason, via: 'signal' },
    );
  }

  private validateCommand(name: AdminCommandName, raw: AdminCommand): void {
    const parsed = adminCommandSchema.safeParse(raw);
    if (!parsed.success) {
      throw ApplicationFailure.create({ type: 'InvalidReport', message: `invalid ${name} command`, details: [{ problems: describeIssues(parsed.error) }], nonRetryable: true });
    }
    const { status } = this.state;
    const allowed = name === 'cancel' ? status === 'running' || status === 'needs-attention' : status === 'needs-attention';
    if (!allowed && !this.requested[name]) {
      throw ApplicationFailure.create({
        type: 'CommandNotAllowed',
        message: `${name} is not possible while the workflow is ${status} at step ${this.state.step}` +
          (name === 'cancel' ? '' : '; retry and abort apply to a workflow that needs attention'),
        details: [{ step: this.state.step, status, expects: this.state.pendingTask?.expects ?? [] }],
        nonRetryable: true,
      });
    }
  }

  private async acceptCommand(name: AdminCommandName, cmd: AdminCommand): Promise<ReportAck> {
    if (!this.requested[name]) this.requested[name] = cmd;
    const seqAtCommand = this.stepSeq;
    this.state.notes.push(`${nowIso()} ${name} requested by ${cmd.actor.id}${cmd.reason ? `: ${cmd.reason}` : ''}`);
    await condition(() => this.stepSeq !== seqAtCommand || isFinal(this.state.status));
    return { accepted: true, duplicate: false, event: name, step: this.state.step, status: this.state.status };
  }

  // ---- what workflows call ----

  /**
   * The audit context of a step, attributed to `actor` (default: who started the process). `purpose`
   * tells apart several writes within one step occurrence; the key stays the same across retries.
   */
  context(step: Step, actor = this.requester, purpose = 'step'): StepContext {
    const info = workflowInfo();
    return {
      assetNumber: this.state.assetNumber,
      workflowId: info.workflowId,
      runId: info.runId,
      step,
      actor: { id: actor.id, role: actor.role },
      idempotencyKey: `${info.workflowId}:${info.runId}:${this.stepSeq}:${step}:${purpose}`,
    };
  }

  enterStep(step: Step, awaiting?: string): void {
    this.stepSeq += 1;
    const now = nowIso();
    const open = this.state.steps[this.state.steps.length - 1];
    if (open && !open.finishedAt) open.finishedAt = now;
    this.state.step = step;
    this.state.steps.push({ step, startedAt: now, attempts: 1 });
    upsertSearchAttributes([
      { key: LifecycleStepKey, value: step },
      { key: AwaitingTaskKey, value: awaiting ?? null },
      { key: NeedsAttentionKey, value: step === 'needs-attention' },
    ]);
    this.refreshDetails();
  }

  setWhereabouts(department?: string | null, location?: string | null): void {
    upsertSearchAttributes([
      { key: DepartmentKey, value: department ?? null },
      { key: LocationKey, value: location ?? null },
    ]);
  }

  /** Runs an automated step; a failure that retries cannot fix waits for an admin's retry or abort. */
  async runStep<T>(step: Step, fn: (ctx: StepContext) => Promise<T>, actor = this.requester): Promise<T> {
    this.enterStep(step);
    return this.guard(step, () => fn(this.context(step, actor)));
  }

  /**
   * Runs activity work belonging to `step` (without entering it again): an activity that finally fails
   * parks the workflow in needs-attention instead of failing it; after a retry the work runs again.
   */
  async guard<T>(step: Step, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      this.throwIfStopped();
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof ActivityFailure) || isCancellation(err)) throw err;
        await this.needsAttention(step, describeFailure(err));
        this.enterStep(step);
      }
    }
  }

  /**
   * Parks the workflow in `needs-attention` with the error until an admin retries (returns) or aborts
   * or cancels (throws LifecycleStopped).
   */
  async needsAttention(failedStep: Step, error: string): Promise<void> {
    this.state.status = 'needs-attention';
    this.state.failedStep = failedStep;
    this.state.lastError = error;
    delete this.requested.retry;
    this.enterStep('needs-attention', 'admin-decision');
    await this.record.recordEvent(this.context('needs-attention'), 'needs-attention', { failedStep, error });
    await condition(() => Boolean(this.requested.retry || this.requested.abort || this.requested.cancel));
    this.throwIfStopped();
    const retry = this.consume('retry');
    this.state.status = 'running';
    await this.record.recordEvent(this.context('needs-attention', retry.actor, 'retry'), 'retry', { failedStep, reason: retry.reason ?? null });
  }

  /** Opens a human task and waits for a fitting report, sending reminders and escalations meanwhile. */
  async awaitTask(spec: TaskSpec, onNotice: (kind: 'reminder' | 'escalation', task: HumanTask) => Promise<void>): Promise<Received> {
    this.enterStep(spec.step, spec.type);
    this.inbox = [];
    this.refusal = spec.refusal;
    const task: HumanTask = {
      type: spec.type, step: spec.step, expects: spec.expects, assetNumber: this.state.assetNumber,
      contact: spec.contact, dueAt: spec.dueAt.toISOString(), createdAt: nowIso(), remindersSent: 0, escalated: false,
    };
    this.state.pendingTask = task;
    this.refreshDetails();
    const reminders = (spec.remindAt ?? []).filter((d) => d.getTime() > Date.now()).sort((a, b) => a.getTime() - b.getTime());
    let nextEscalation = spec.escalateAt?.getTime();
    for (;;) {
      const next = Math.min(reminders[0]?.getTime() ?? Infinity, nextEscalation ?? Infinity);
      const wait = next === Infinity ? undefined : Math.max(1, next - Date.now());
      const woke = wait === undefined
        ? (await condition(() => this.inbox.length > 0 || this.stopRequested()), true)
        : await condition(() => this.inbox.length > 0 || this.stopRequested(), wait, {
          summary: `${spec.type}: ${reminders.length ? 'next reminder' : 'escalation'} if nobody reports`,
        });
      this.throwIfStopped();
      if (woke && this.inbox.length > 0) break;
      if (!woke && reminders.length && reminders[0].getTime() <= Date.now()) {
        reminders.shift();
        task.remindersSent += 1;
        await this.tryNotice(() => onNotice('reminder', task));
      } else if (!woke && nextEscalation !== undefined && nextEscalation <= Date.now()) {
        task.escalated = true;
        nextEscalation = spec.repeatEveryMs ? Date.now() + spec.repeatEveryMs : undefined;
        await this.tryNotice(() => onNotice('escalation', task));
      }
      this.refreshDetails();
    }
    const received = this.inbox.shift() as Received;
    this.state.pendingTask = undefined;
    this.refusal = undefined;
    await this.record.recordEvent(this.context(spec.step, received.report.actor, 'report'), received.event, { ...received.report.data });
    return received;
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

  private consume(name: AdminCommandName): AdminCommand {
    const cmd = this.requested[name] as AdminCommand;
    delete this.requested[name];
    return cmd;
  }

  stopRequested(): boolean {
    return Boolean(this.requested.cancel || (this.state.status === 'needs-attention' && this.requested.abort));
  }

  throwIfStopped(): void {
    if (this.requested.cancel) throw new LifecycleStopped('cancelled', this.requested.cancel);
    if (this.requested.abort && this.state.status === 'needs-attention') throw new LifecycleStopped('aborted', this.requested.abort);
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
      const stopped = err instanceof LifecycleStopped ? err : isCancellation(err) ? new LifecycleStopped('cancelled') : undefined;
      if (!stopped) throw err;
      this.finish(stopped.how);
      const actor = stopped.command?.actor ?? { id: 'temporal-cancel-request', role: 'operator' };
      await CancellationScope.nonCancellable(() =>
        this.record.recordEvent(this.context(stopped.how, actor), stopped.how, {
          reason: stopped.command?.reason ?? null,
          doneSteps: this.state.steps.map((s) => s.step),
          failedStep: this.state.failedStep ?? null,
        }),
      );
      if (isCancellation(err)) throw err;
    } finally {
      await condition(allHandlersFinished);
    }
    return this.state;
  }

  private finish(status: 'completed' | 'cancelled' | 'aborted'): void {
    this.state.status = status;
    this.state.pendingTask = undefined;
    this.enterStep(status);
    const last = this.state.steps[this.state.steps.length - 1];
    last.finishedAt = last.startedAt;
  }

  note(text: string): void {
    this.state.notes.push(`${nowIso()} ${text}`);
    this.refreshDetails();
  }

  refreshDetails(): void {
    const s = this.state;
    const lines = [`**${s.process}** of **${s.assetNumber}** — status **${s.status}**, step **${s.step}**`];
    if (s.pendingTask) {
      const t = s.pendingTask;
      lines.push(`Waiting for ${t.expects.map((e) => `\`${e}\``).join(' or ')} (task \`${t.type}\`), due ${t.dueAt}` +
        (t.contact?.name ? `; contact ${t.contact.name}${t.contact.email ? ` <${t.contact.email}>` : ''}` : '') +
        `; reminders sent ${t.remindersSent}${t.escalated ? '; escalated to admins' : ''}`);
    }
    if (s.status === 'needs-attention') lines.push(`Step **${s.failedStep}** failed: ${s.lastError}. An admin can \`retry\` or \`abort\`.`);
    const rejected = s.reports.filter((r) => r.outcome === 'rejected').slice(-3);
    for (const r of rejected) lines.push(`Rejected \`${r.event}\` from ${r.actor.id}: ${r.reason}`);
    for (const n of s.notes.slice(-3)) lines.push(n);
    setCurrentDetails(lines.join('\n\n'));
  }
}

function isFinal(status: LifecycleState['status']): boolean {
  return status === 'completed' || status === 'cancelled' || status === 'aborted';
}

export function nowIso(): string {
  return new Date().toISOString(); // workflow Date is the deterministic workflow clock
}

function safeActor(raw: unknown): { id: string; role: string } {
  const a = (raw as { actor?: { id?: unknown; role?: unknown } } | undefined)?.actor;
  return { id: typeof a?.id === 'string' ? a.id.slice(0, 200) : 'unknown', role: typeof a?.role === 'string' ? a.role.slice(0, 50) : 'unknown' };
}

function describeFailure(err: ActivityFailure): string {
  const cause = err.cause as { message?: string; type?: string } | undefined;
  return `${err.activityType}: ${cause?.message ?? err.message}`;
}
