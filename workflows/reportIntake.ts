/**
 * Report intake: what people report (Updates, validated; the same reports as Signals) against the open
 * human task. It owns the acknowledgements by idempotency key, the inbox the main loop takes from, the
 * report records, and the open task itself. It decides nothing about steps: it reads where the process
 * stands from the step log and waits for the main loop to move on before answering.
 */
import { CancellationScope, condition, workflowInfo } from '@temporalio/workflow';
import type {
  ActorRef,
  CarriedLifecycle,
  HumanEventName,
  HumanReport,
  HumanTask,
  LifecycleLimits,
  ReportAck,
  ReportRecord,
  Step,
} from './definitions';
import type { RunFeatures } from './patches';
import { reportFingerprint } from './fingerprint';
import {
  contradictedByMdm,
  eventNotExpected,
  notPermitted,
  idempotencyKeyReused,
  invalidReport,
  rateLimited,
  type KeyReuse,
} from './refusals';
import { adminOnlyReason, parseReport, ReportInvalid } from './reportSchemas';
import { nowIso, type StepLog } from './stepLog';

/** Says why a report is refused at a step even though the step expects another event. */
export type StepRefusal = (event: HumanEventName) => string | undefined;

/**
 * A truth check (mdm-weather-1) run by the Update handler before a fitting report is taken: reads the MDM
 * and returns why the report is refused, with the MDM's view; undefined to take it (also when the MDM
 * could not be read: the step checks again once it has the report).
 */
export type ReportCheck = (
  event: HumanEventName,
  report: HumanReport,
) => Promise<{ reason: string; mdm: Record<string, unknown> } | undefined>;

/** Where a fitting report moves the process, and what it still checks first (answered to the reporter). */
export type NextStep = (event: HumanEventName, report: HumanReport) => { step: Step; pending?: string };

export interface Received {
  event: HumanEventName;
  report: HumanReport;
  /** Set when the report came as a Signal (who-reports-1): its actor is as claimed. */
  via?: 'signal';
}

/** What intake needs from the rest of the lifecycle. */
export interface IntakeHost {
  log: StepLog;
  features: RunFeatures;
  limits: LifecycleLimits;
  /** Writes the audit record of a Signal (or, after a truth check, an Update) that was not taken. */
  recordRejection(
    event: string,
    actor: ActorRef,
    rejectionKey: string,
    reason: string,
    via?: 'signal' | 'update',
  ): Promise<void>;
  refreshDetails(): void;
}

export class ReportIntake {
  readonly records: ReportRecord[] = [];
  pendingTask?: HumanTask;
  /** Acknowledged reports by idempotency key, with what the key was used for (one meaning per key). */
  private readonly acks = new Map<string, { ack: ReportAck; fingerprint: string }>();
  private inbox: Received[] = [];
  private refusal?: StepRefusal;
  private next?: NextStep;
  private check?: ReportCheck;
  /** Workflow times of the reports and signals taken in the last hour (bounded-1). */
  private recent: number[] = [];
  /** Signals dropped over the hourly limit (bounded-1). */
  droppedSignals = 0;
  /** Answers for reports taken by a step that checks something before it moves on (see take). */
  private readonly earlyAnswers = new Map<string, { step: Step; pending?: string }>();
  /** Truth checks running in Update handlers (mdm-weather-1): the process does not continue as new meanwhile. */
  private checking = 0;
  /** Set by the step when it opens again after a report it could not use: the report's answer says why. */
  private reopenedBecause?: string;

  constructor(private readonly host: IntakeHost) {}

  // ---- continue-as-new ----

  /** The last `max` acknowledged keys with what each was used for, oldest first. */
  carriedAcks(max: number): CarriedLifecycle['acks'] {
    return [...this.acks.entries()]
      .slice(-max)
      .map(([key, { ack, fingerprint }]) => ({ key, event: ack.event, fingerprint }));
  }

  /** Takes over the previous run's records and acknowledged keys. */
  restore(carried: CarriedLifecycle): void {
    this.records.push(...carried.reports);
    for (const { key, event, fingerprint } of carried.acks) {
      const ack: ReportAck = { accepted: true, duplicate: false, event, step: this.host.log.step, status: 'running' };
      this.acks.set(key, { ack, fingerprint });
    }
  }

  /** No report waiting for the main loop and none being answered early. */
  isIdle(): boolean {
    return this.inbox.length === 0 && this.earlyAnswers.size === 0 && this.checking === 0;
  }

  // ---- the main loop's side ----

  /** Opens `task`: from now on reports are checked against it. */
  open(task: HumanTask, refusal?: StepRefusal, next?: NextStep, keepInbox = false, check?: ReportCheck): void {
    // A continued run opens its task before its handlers see buffered reports, then once more with the
    // step's rules: a report taken in between stays.
    if (!keepInbox) this.inbox = [];
    this.refusal = refusal;
    this.next = next;
    this.check = check;
    this.pendingTask = task;
  }

  /**
   * Called before a task opens. When it opens again after a report the step could not use, `because`
   * says why: a report still waiting for its answer gets it, and the report's record keeps it.
   */
  reopen(because: string | undefined): void {
    this.reopenedBecause = because;
    if (!because) return;
    const last = [...this.records].reverse().find((r) => r.outcome === 'accepted');
    if (last) last.followUp = because;
  }

  hasReport(): boolean {
    return this.inbox.length > 0;
  }

  /**
   * Takes the accepted report and closes the task. A report's answer waits for the process to enter its
   * next step; when the step says what it checks first (`next`), the answer goes out now, saying so.
   */
  take(): Received {
    const received = this.inbox.shift() as Received;
    const early = this.next?.(received.event, received.report);
    if (early) this.earlyAnswers.set(received.report.idempotencyKey, early);
    this.close();
    return received;
  }

  close(): void {
    this.pendingTask = undefined;
    this.refusal = undefined;
    this.next = undefined;
    this.check = undefined;
  }

  // ---- the handlers' side ----

  /** Update validator: throws (the Update is rejected, nothing is written) when the report does not fit. */
  validate(event: HumanEventName, raw: HumanReport): void {
    this.refuseIfOverLimit();
    const prior = this.priorUse(raw);
    if (prior) {
      this.refuseIfReused(prior, event, raw);
      return; // a repeat is acknowledged, not re-applied
    }
    try {
      parseReport(event, raw);
    } catch (err) {
      if (err instanceof ReportInvalid) throw invalidReport(err.message, err.problems);
      throw err;
    }
    this.refuseIfNotPermitted(event, raw);
    this.refuseIfNotExpected(event, raw.step);
  }

  /** Update handler: applies the report and answers with the step the process moved to. */
  async accept(event: HumanEventName, raw: HumanReport): Promise<ReportAck> {
    const { log } = this.host;
    const prior = this.acks.get(raw.idempotencyKey);
    if (prior) {
      // Two requests with one key validated at once: the second is held to the first one's meaning.
      if (this.host.features.fleetScale) this.refuseIfReused(prior, event, raw);
      return { ...prior.ack, duplicate: true, step: log.step, status: log.status };
    }
    // Two reports validated at once both pass the validator; only the first may be applied.
    this.refuseIfNotPermitted(event, raw);
    this.refuseIfNotExpected(event, raw.step);
    if (this.check) await this.refuseIfContradicted(this.check, event, parseReport(event, raw), raw.step);
    this.count();
    const report = parseReport(event, raw);
    const stepAtReport = log.step;
    // The step's occurrence, not its name: a step can open again (e.g. a re-enrolment the MDM did not confirm).
    const occurrenceAtReport = log.occurrence;
    this.keep(event, report);
    const ack: ReportAck = { accepted: true, duplicate: false, event, step: stepAtReport, status: log.status };
    this.acks.set(report.idempotencyKey, { ack, fingerprint: reportFingerprint(event, raw) });
    const answerEarly = () => this.host.features.fleetScale && this.earlyAnswers.has(report.idempotencyKey);
    const moved = () => log.occurrence !== occurrenceAtReport || log.status !== 'running' || answerEarly();
    // From bounded-1 on, a cancel from the Temporal UI does not cut this wait short (see AdminControl).
    if (this.host.features.bounded) await CancellationScope.nonCancellable(() => condition(moved));
    else await condition(moved);
    const early = this.earlyAnswers.get(report.idempotencyKey);
    this.earlyAnswers.delete(report.idempotencyKey);
    if (log.occurrence === occurrenceAtReport && log.status === 'running') {
      // Taken, but the process checks something before it moves on: answer now, saying what it checks.
      return { ...ack, ...early };
    }
    ack.step = log.step;
    ack.status = log.status;
    if (ack.step === stepAtReport) ack.message = this.reopenedBecause;
    return { ...ack };
  }

  /**
   * Signal handler. Signals cannot be refused to the sender, so an unfit one is recorded as rejected
   * (state and audit) instead.
   */
  async onSignal(event: HumanEventName, raw: HumanReport): Promise<void> {
    if (this.retryAfterSeconds() !== undefined) {
      // Over the hourly limit: counted and dropped, with no audit write a flood could multiply.
      this.droppedSignals += 1;
      this.host.refreshDetails();
      return;
    }
    if (this.host.features.bounded) this.count();
    const prior = this.priorUse(raw);
    const reused = prior && this.host.features.fleetScale ? this.reuseOf(prior, event, raw) : undefined;
    if (prior && !reused) return;
    let reason: string | undefined;
    let report: HumanReport | undefined;
    try {
      report = parseReport(event, raw);
      // A Signal proves nothing about who sent it: no credential is taken from one (who-reports-1).
      if (this.host.features.whoReports && report.actor.credential) {
        const { credential: _claimed, ...actor } = report.actor;
        report = { ...report, actor };
      }
      reason = reused
        ? idempotencyKeyReused(reused).message
        : (this.signalNotPermitted(event, report) ?? this.notExpectedReason(event, report.step));
    } catch (err) {
      reason = err instanceof ReportInvalid ? err.message : String(err);
    }
    const { log } = this.host;
    if (report && !reason) {
      this.keep(event, report, this.host.features.whoReports ? 'signal' : undefined);
      const ack: ReportAck = { accepted: true, duplicate: false, event, step: log.step, status: log.status };
      this.acks.set(report.idempotencyKey, { ack, fingerprint: reportFingerprint(event, raw) });
      return;
    }
    const key = idempotencyKeyOf(raw);
    const actor = report?.actor ?? claimedActor(raw);
    // A reused key's rejection is keyed per record: the key itself already stands for the first report.
    const rejectionKey = key && !reused ? `rejected:${key}` : `rejected:${workflowInfo().runId}:${this.records.length}`;
    await this.reject(event, actor, rejectionKey, reason as string, 'signal');
  }

  /** Keeps a report that was not taken in the state (shown in the details) and writes its audit record. */
  private async reject(
    event: HumanEventName,
    actor: ActorRef,
    rejectionKey: string,
    reason: string,
    via: 'signal' | 'update',
  ): Promise<void> {
    const step = this.host.log.step;
    this.records.push({ event, idempotencyKey: rejectionKey, actor, at: nowIso(), outcome: 'rejected', step, reason });
    this.host.refreshDetails();
    await this.host.recordRejection(event, actor, rejectionKey, reason, via);
  }

  /**
   * Runs the step's truth check; a report the MDM contradicts is recorded as rejected and refused with the
   * MDM's view. The task may have moved on while the MDM was read: the report is then checked again.
   */
  private async refuseIfContradicted(
    check: ReportCheck,
    event: HumanEventName,
    report: HumanReport,
    reportedStep: unknown,
  ): Promise<void> {
    const { log } = this.host;
    const { occurrence, step } = log;
    if (this.checking > 0) {
      // One report per task is checked at a time: a second one waits for no verdict, it is refused now.
      const position = { step, expects: this.pendingTask?.expects ?? [], status: log.status };
      throw eventNotExpected(
        `${event} is not expected: a report for step ${step} is being checked against the MDM`,
        position,
      );
    }
    this.checking += 1;
    let verdict: Awaited<ReturnType<ReportCheck>>;
    try {
      verdict = await check(event, report);
    } finally {
      this.checking -= 1;
    }
    if (!verdict && log.occurrence !== occurrence) {
      // Another report moved the process on meanwhile: this one was meant for the task it ended.
      const position = { step: log.step, expects: this.pendingTask?.expects ?? [], status: log.status };
      throw eventNotExpected(
        `${event} was reported for step ${step}, but the workflow has moved on to step ${log.step}`,
        position,
      );
    }
    if (!verdict) {
      this.refuseIfNotExpected(event, reportedStep);
      return;
    }
    const rejectionKey = `rejected:${report.idempotencyKey}:${workflowInfo().runId}:${this.records.length}`;
    await this.reject(event, report.actor, rejectionKey, verdict.reason, 'update');
    const position = { step: log.step, expects: this.pendingTask?.expects ?? [], status: log.status };
    throw contradictedByMdm(verdict.reason, position, verdict.mdm);
  }

  // ---- rules ----

  /** Admin-only reports from anyone else are refused (who-reports-1); 403 in the API. */
  private refuseIfNotPermitted(event: HumanEventName, raw: HumanReport): void {
    if (!this.host.features.whoReports) return;
    const reason = adminOnlyReason(event, raw.data);
    if (reason && raw.actor?.role !== 'admin') throw notPermitted(reason, { event, role: String(raw.actor?.role) });
  }

  /**
   * A Signal cannot prove who sent it, so an admin-only report never comes in that way (who-reports-1); and
   * it bypasses the API, so a delivery Signal must carry a stored signature's receipt, not the signature
   * itself, which would sit in history (records-1).
   */
  private signalNotPermitted(event: HumanEventName, report: HumanReport): string | undefined {
    if (!this.host.features.whoReports) return undefined;
    const signature = (report.data as { signature?: unknown }).signature;
    if (this.host.features.records && event === 'device-delivered' && !isReceipt(signature)) {
      return 'a delivery signature is stored through the API, which sends its receipt: a Signal may carry only that receipt';
    }
    const reason = adminOnlyReason(event, report.data);
    return reason && `${reason}; a Signal cannot prove who sent it: send it through the API`;
  }

  /** Seconds until the hourly limit has room again; undefined while it has (always, before bounded-1). */
  private retryAfterSeconds(): number | undefined {
    if (!this.host.features.bounded) return undefined;
    // No pruning here: validators do not run on replay, so they must not change state.
    const hourAgo = Date.now() - HOUR_MS;
    const inWindow = this.recent.filter((t) => t > hourAgo);
    if (inWindow.length < this.host.limits.reportsPerHour) return undefined;
    return Math.max(1, Math.ceil((inWindow[0] + HOUR_MS - Date.now()) / 1000));
  }

  private refuseIfOverLimit(): void {
    const retryAfterSeconds = this.retryAfterSeconds();
    if (retryAfterSeconds === undefined) return;
    throw rateLimited({ limit: this.host.limits.reportsPerHour, windowSeconds: HOUR_MS / 1000, retryAfterSeconds });
  }

  private count(): void {
    if (!this.host.features.bounded) return;
    const hourAgo = Date.now() - HOUR_MS;
    this.recent = [...this.recent.filter((t) => t > hourAgo), Date.now()];
  }

  private priorUse(raw: unknown): { ack: ReportAck; fingerprint: string } | undefined {
    const key = idempotencyKeyOf(raw);
    return key === undefined ? undefined : this.acks.get(key);
  }

  /** What differs when a used key comes back with another event or body; undefined for a true repeat. */
  private reuseOf(
    prior: { ack: ReportAck; fingerprint: string },
    event: HumanEventName,
    raw: unknown,
  ): KeyReuse | undefined {
    const differs: KeyReuse['differs'] = [];
    if (prior.ack.event !== event) differs.push('event');
    else if (prior.fingerprint !== reportFingerprint(event, raw)) differs.push('body');
    if (!differs.length) return undefined;
    return { idempotencyKey: idempotencyKeyOf(raw) ?? '', differs, firstEvent: prior.ack.event };
  }

  private refuseIfReused(prior: { ack: ReportAck; fingerprint: string }, event: HumanEventName, raw: unknown): void {
    const reuse = this.reuseOf(prior, event, raw);
    if (reuse) throw idempotencyKeyReused(reuse);
  }

  private refuseIfNotExpected(event: HumanEventName, reportedStep: unknown): void {
    const reason = this.notExpectedReason(event, typeof reportedStep === 'string' ? reportedStep : undefined);
    if (!reason) return;
    const { log } = this.host;
    throw eventNotExpected(reason, { step: log.step, expects: this.pendingTask?.expects ?? [], status: log.status });
  }

  private notExpectedReason(event: HumanEventName, reportedStep?: string): string | undefined {
    const { log } = this.host;
    const task = this.pendingTask;
    if (log.status !== 'running' || !task) {
      const why = log.status === 'needs-attention' && log.lastError ? ` (needs attention: ${log.lastError})` : '';
      return `${event} is not expected: the workflow is ${log.status} at step ${log.step} and waits for no report${why}`;
    }
    if (reportedStep !== undefined && reportedStep !== task.step) {
      return `${event} was reported for step ${reportedStep}, but the workflow has moved on to step ${task.step}`;
    }
    const special = this.refusal?.(event);
    if (special) return special;
    if (!task.expects.includes(event)) {
      return `${event} is not expected at step ${task.step}; expected: ${task.expects.join(', ')}`;
    }
    if (this.inbox.length > 0) return `${event} is not expected: a report for step ${task.step} was already accepted`;
    return undefined;
  }

  private keep(event: HumanEventName, report: HumanReport, via?: 'signal'): void {
    this.inbox.push(via ? { event, report, via } : { event, report });
    const { actor, idempotencyKey } = report;
    this.records.push({ event, idempotencyKey, actor, at: nowIso(), outcome: 'accepted', step: this.host.log.step });
  }
}

const HOUR_MS = 3_600_000;

/** A stored signature's receipt as the API sends it: `receipt:<id>:sha256:<hex>`. */
function isReceipt(signature: unknown): boolean {
  return typeof signature === 'string' && /^receipt:[^:\s]+:sha256:[0-9a-f]{64}$/.test(signature);
}

function idempotencyKeyOf(raw: unknown): string | undefined {
  const key = (raw as { idempotencyKey?: unknown } | undefined)?.idempotencyKey;
  return typeof key === 'string' ? key : undefined;
}

/** The actor a malformed Signal claims, cut to size: recorded as claimed, never trusted. */
function claimedActor(raw: unknown): ActorRef {
  const a = (raw as { actor?: { id?: unknown; role?: unknown } } | undefined)?.actor;
  return {
    id: typeof a?.id === 'string' ? a.id.slice(0, 200) : 'unknown',
    role: typeof a?.role === 'string' ? a.role.slice(0, 50) : 'unknown',
  };
}
