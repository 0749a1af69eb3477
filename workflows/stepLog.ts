/**
 * Where a process stands: its status, the step sequence with times, the notes a person should read, and
 * the search attributes the Temporal Web UI filters on. Every step change goes through `enter`, so the
 * step, its occurrence number and the `LifecycleStep` / `AwaitingTask` / `NeedsAttention` attributes
 * never disagree.
 */
import { AwaitingTaskKey, LifecycleStepKey, NeedsAttentionKey } from '../temporal/searchAttributes';
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

  enter(step: Step, awaiting?: string): void {
    this.occurrences += 1;
    const now = nowIso();
    const open = this.steps[this.steps.length - 1];
    if (open && !open.finishedAt) open.finishedAt = now;
    this.step = step;
    this.steps.push({ step, startedAt: now, attempts: 1 });
    writeSearchAttributes(
      [
        { key: LifecycleStepKey, value: step },
        { key: AwaitingTaskKey, value: awaiting ?? null },
        { key: NeedsAttentionKey, value: step === 'needs-attention' },
      ],
      this.writeOnlyChanges,
    );
    this.changed();
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
