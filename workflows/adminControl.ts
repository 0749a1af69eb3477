/**
 * Admin control: the cancel, retry and abort commands, and the needs-attention wait they answer. It owns
 * the commands requested so far; the main loop asks it whether to stop and waits on it for a decision.
 */
import { CancellationScope, condition } from '@temporalio/workflow';
import {
  adminCommandSchema,
  describeIssues,
  type ActorRef,
  type AdminCommand,
  type AdminCommandName,
  type HumanEventName,
  type ReportAck,
  type Step,
} from './definitions';
import type { OpenTask, TaskBookkeeping } from '../activities/contracts';
import { commandNotAllowed, invalidReport } from './refusals';
import type { FailureKind } from './failureKinds';
import type { RunFeatures } from './patches';
import type { StepLog } from './stepLog';

/** Thrown inside the workflow when an admin cancels or aborts; the workflow ends with that status. */
export class LifecycleStopped extends Error {
  constructor(
    readonly how: 'cancelled' | 'aborted',
    readonly command?: AdminCommand,
  ) {
    super(`lifecycle ${how}`);
  }
}

/** What admin control needs from the rest of the lifecycle. */
export interface ControlHost {
  log: StepLog;
  features: RunFeatures;
  /** The events the open task expects (none when no task is open). */
  expects(): HumanEventName[];
  /**
   * Writes an audit record of the needs-attention step (`purpose` tells the writes of one step apart),
   * with the task-index bookkeeping that goes with it.
   */
  audit(type: string, details: Record<string, unknown>, opts: AuditOptions): Promise<void>;
  /** The task-index row of the admins' decision. */
  adminDecisionTask(failedStep: Step, error: string, errorKind?: FailureKind): OpenTask;
}

interface AuditOptions {
  actor?: ActorRef;
  purpose?: string;
  tasks?: TaskBookkeeping;
}

export class AdminControl {
  private requested: Partial<Record<AdminCommandName, AdminCommand>> = {};

  constructor(private readonly host: ControlHost) {}

  /** Update validator: refuses a malformed command, or one that does not apply in the current status. */
  validate(name: AdminCommandName, raw: AdminCommand): void {
    const parsed = adminCommandSchema.safeParse(raw);
    if (!parsed.success) throw invalidReport(`invalid ${name} command`, describeIssues(parsed.error));
    const { status, step } = this.host.log;
    const allowed =
      name === 'cancel' ? status === 'running' || status === 'needs-attention' : status === 'needs-attention';
    if (allowed || this.requested[name]) return;
    const scope = name === 'cancel' ? '' : '; retry and abort apply to a workflow that needs attention';
    throw commandNotAllowed(`${name} is not possible while the workflow is ${status} at step ${step}${scope}`, {
      step,
      status,
      expects: this.host.expects(),
    });
  }

  /** Update handler: records the command and answers once the process has acted on it. */
  async accept(name: AdminCommandName, cmd: AdminCommand): Promise<ReportAck> {
    const { log } = this.host;
    if (!this.requested[name]) this.requested[name] = cmd;
    const occurrenceAtCommand = log.occurrence;
    log.note(`${name} requested by ${cmd.actor.id}${cmd.reason ? `: ${cmd.reason}` : ''}`);
    const acted = () => log.occurrence !== occurrenceAtCommand || log.isClosed();
    // From bounded-1 on, a cancel from the Temporal UI does not cut this wait short: the command is
    // answered with how the process ended.
    if (this.host.features.bounded) await CancellationScope.nonCancellable(() => condition(acted));
    else await condition(acted);
    return { accepted: true, duplicate: false, event: name, step: log.step, status: log.status };
  }

  /**
   * Parks the process in `needs-attention` with the error until an admin retries (returns the retry
   * command) or aborts or cancels (throws LifecycleStopped). `errorKind` (mdm-weather-1) goes to the task
   * index for bulk recovery.
   */
  async waitForAdminDecision(failedStep: Step, error: string, errorKind?: FailureKind): Promise<AdminCommand> {
    const { log } = this.host;
    log.park(failedStep, error, errorKind);
    delete this.requested.retry;
    log.enter('needs-attention', 'admin-decision');
    const decision = this.host.adminDecisionTask(failedStep, error, errorKind);
    await this.host.audit('needs-attention', { failedStep, error }, { tasks: { open: decision } });
    await condition(() => Boolean(this.requested.retry || this.requested.abort || this.requested.cancel));
    this.throwIfStopped();
    const retry = this.consume('retry');
    log.resume();
    const closes = { closeThrough: decision.occurrence };
    await this.host.audit(
      'retry',
      { failedStep, reason: retry.reason ?? null, ...(retry.resolution ? { resolution: retry.resolution } : {}) },
      { actor: retry.actor, purpose: 'retry', tasks: closes },
    );
    return retry;
  }

  stopRequested(): boolean {
    return Boolean(this.requested.cancel || (this.host.log.status === 'needs-attention' && this.requested.abort));
  }

  throwIfStopped(): void {
    if (this.requested.cancel) throw new LifecycleStopped('cancelled', this.requested.cancel);
    if (this.requested.abort && this.host.log.status === 'needs-attention') {
      throw new LifecycleStopped('aborted', this.requested.abort);
    }
  }

  private consume(name: AdminCommandName): AdminCommand {
    const cmd = this.requested[name] as AdminCommand;
    delete this.requested[name];
    return cmd;
  }
}
