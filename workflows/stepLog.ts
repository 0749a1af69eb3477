/**
 * Where a process stands: its status, the step sequence with times, the notes a person should read, and
 * the search attributes the Temporal Web UI filters on. Every step change goes through `enter`, so the
 * step, its occurrence number and the `LifecycleStep` / `AwaitingTask` / `NeedsAttention` attributes
 * never disagree.
 */
import { AwaitingTaskKey, LifecycleStepKey, NeedsAttentionKey } from '../temporal/searchAttributes';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { LifecycleStatus, Step, StepRecord } from './definitions';
import { writeSearchAttributes } from './searchAttributeWrites';

export type FinalStatus = 'completed' | 'cancelled' | 'aborted';

export class StepLog {
  status: LifecycleStatus = 'running';
  step: Step;
  failedStep?: Step;
  lastError?: string;
  /** What kind of failure the admin decides on (mdm-weather-1; see failureKinds.ts). */
  errorKind?: string;
  readonly steps: StepRecord[] = [];
  readonly notes: string[] = [];
  /** Counts step occurrences: a step that opens again (same name) is a new occurrence. */
  private occurrences = 0;
  /** The attributes of the step entered last, while `enter` holds them back (lean-2). */
  private heldBack?: SearchAttributeUpdatePair[];
  /** A task was taken and the process stays at its step for now: AwaitingTask is to be cleared (lean-2). */
  private takenNotShown = false;

  constructor(
    first: Step,
    private readonly changed: () => void,
    /** lean-1: only the attributes that change are written. */
    private readonly writeOnlyChanges = false,
  ) {
    this.step = first;
  }

  /** Takes over the previous run's steps and notes (continue-as-new); this run's occurrences start anew. */
  restore(steps: StepRecord[], notes: string[]): void {
    this.steps.push(...steps);
    this.notes.push(...notes);
  }

  /** The number of the current step occurrence; part of every idempotency key of that occurrence. */
  get occurrence(): number {
    return this.occurrences;
  }

  /**
   * `holdAttributes` (lean-2): the step's search attributes wait for `showStep`, for a human task whose
   * row in the task index is being written; a later `enter` drops them for its own.
   */
  enter(step: Step, awaiting?: string, holdAttributes = false): void {
    this.occurrences += 1;
    const now = nowIso();
    const open = this.steps[this.steps.length - 1];
    if (open && !open.finishedAt) open.finishedAt = now;
    this.step = step;
    this.steps.push({ step, startedAt: now, attempts: 1 });
    const attributes: SearchAttributeUpdatePair[] = [
      { key: LifecycleStepKey, value: step },
      { key: AwaitingTaskKey, value: awaiting ?? null },
      { key: NeedsAttentionKey, value: step === 'needs-attention' },
    ];
    this.takenNotShown = false; // the step's own attributes say what it awaits
    this.heldBack = holdAttributes ? attributes : undefined;
    if (!holdAttributes) writeSearchAttributes(attributes, this.writeOnlyChanges);
    this.changed();
  }

  /**
   * The current step's task was taken (lean-2). Its AwaitingTask is cleared by the next `enter`, which
   * writes it anyway, or by `showTaskTaken` when the step first does more work of its own (verifying a
   * re-enrolment, storing a receipt): one search attribute write either way.
   */
  taskTaken(): void {
    this.takenNotShown = true;
  }

  showTaskTaken(): void {
    if (!this.takenNotShown) return;
    this.takenNotShown = false;
    writeSearchAttributes([{ key: AwaitingTaskKey, value: null }], this.writeOnlyChanges);
  }

  /** Writes the search attributes `enter` held back, if any. */
  showStep(): void {
    const held = this.heldBack;
    this.heldBack = undefined;
    if (held) writeSearchAttributes(held, this.writeOnlyChanges);
  }

  /** A step's work finally failed: the process waits for an admin's decision. */
  park(failedStep: Step, error: string, errorKind?: string): void {
    this.status = 'needs-attention';
    this.failedStep = failedStep;
    this.lastError = error;
    this.errorKind = errorKind;
  }

  resume(): void {
    this.status = 'running';
  }

  /** The last step: named after how the process ended, finished as soon as it starts. */
  close(status: FinalStatus): void {
    this.status = status;
    this.enter(status);
    const last = this.steps[this.steps.length - 1];
    last.finishedAt = last.startedAt;
  }

  isClosed(): boolean {
    return this.status === 'completed' || this.status === 'cancelled' || this.status === 'aborted';
  }

  note(text: string): void {
    this.notes.push(`${nowIso()} ${text}`);
    this.changed();
  }
}

export function nowIso(): string {
  return new Date().toISOString(); // workflow Date is the deterministic workflow clock
}
