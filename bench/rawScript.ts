/**
 * The raw baseline's script: what a change-user run did to its history, as steps the raw workflow replays
 * with no-op activities. Pure types and constants: imported by the raw workflow (sandboxed) and by the
 * bench (which derives a script from a real run's history in shape.ts).
 */

/** A search attribute value as the history recorded it (type as in the payload's `type` metadata). */
export interface RawAttribute {
  name: string;
  type: 'Keyword' | 'Bool' | 'Text' | 'Int' | 'Double' | 'Datetime' | 'KeywordList';
  value: unknown;
}

export type RawOp =
  /** Schedule an activity (not awaited yet: a workflow task may schedule several). */
  | { op: 'activity'; type: string }
  /** Wait for every activity scheduled so far (the real run's next workflow task came from their results). */
  | { op: 'await-activities' }
  | { op: 'upsert'; attributes: RawAttribute[] }
  /** A timer that fired (e.g. the wait between two MDM job polls). */
  | { op: 'sleep'; ms: number }
  /**
   * Wait for an Update named `update` (a person's report); `timerMs` when the real run waited with a
   * timer (a reminder or escalation) that the report cancelled. `step` is the LifecycleStep the run was
   * at: the driver waits for it before sending the Update, as the API driver waits for the open task.
   */
  | { op: 'await-update'; update: string; timerMs?: number; step?: string }
  /** A `patched()` marker. */
  | { op: 'marker' };

export interface RawInput {
  ops: RawOp[];
}

export const RAW_WORKFLOW_TYPE = 'benchRawChangeUser';
