/**
 * The shape of a run, read from its history: what the raw baseline must repeat to be "the same
 * workflow without the product". `scriptFromHistory` turns one completed change-user history into the
 * raw workflow's script; `shapeOf` counts what any history did, so the bench can print the reference
 * run, a raw run and an API run side by side and show that they agree.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { RawAttribute, RawOp } from './rawScript';

type History = temporal.api.history.v1.IHistory;
type Payload = temporal.api.common.v1.IPayload;
type Duration = temporal.api.history.v1.ITimerStartedEventAttributes['startToFireTimeout'];

export interface RunShape {
  activities: number;
  activitiesByType: Record<string, number>;
  upserts: number;
  updates: string[];
  timersStarted: number;
  timersFired: number;
  timersCancelled: number;
  markers: number;
  workflowTasks: number;
  events: number;
  /** Where the run's time went, from its events' times (see timingOf). */
  timing: RunTiming;
}

/**
 * Milliseconds of one run, from its events' times: start to close, and the sums of its activities'
 * queue time (scheduled → started: waiting for a worker slot and a poll) and run time (started →
 * completed: the activity's body and the worker's round trip), and the same for its workflow tasks. What
 * is left of the total is waiting: for people (the driver's poll and report), timers, and gaps between.
 */
export interface RunTiming {
  totalMs: number;
  activityQueueMs: number;
  activityRunMs: number;
  workflowTaskQueueMs: number;
  workflowTaskRunMs: number;
}

/** Search attributes whose value names the device or process: the raw runs get their own values. */
const RAW_VALUES: Record<string, unknown> = {
  AssetNumber: 'A-RAW000',
  LifecycleProcess: 'bench-raw',
  Department: 'Bench raw',
  Location: 'Bench raw',
};

/** Protobuf seconds, a Long or a number. */
function secondsOf(raw: unknown): number {
  return typeof raw === 'object' && raw !== null && 'toNumber' in raw
    ? (raw as { toNumber(): number }).toNumber()
    : Number(raw ?? 0);
}

function durationMs(d: Duration): number {
  if (!d) return 0;
  return secondsOf(d.seconds) * 1000 + Math.round((d.nanos ?? 0) / 1e6);
}

function attributeOf(name: string, payload: Payload): RawAttribute {
  const typeBytes = payload.metadata?.type;
  const type = (typeBytes ? new TextDecoder().decode(typeBytes) : 'Keyword') as RawAttribute['type'];
  let value: unknown;
  try {
    value = defaultPayloadConverter.fromPayload(payload);
  } catch {
    value = null;
  }
  if (value !== null && name in RAW_VALUES) value = RAW_VALUES[name];
  return { name, type, value };
}

type Timestamp = temporal.api.history.v1.IHistoryEvent['eventTime'];

function timeMs(t: Timestamp): number {
  if (!t) return Number.NaN;
  return secondsOf(t.seconds) * 1000 + (t.nanos ?? 0) / 1e6;
}

export function timingOf(history: History): RunTiming {
  const events = history.events ?? [];
  const at = new Map<number, number>();
  const timing: RunTiming = {
    totalMs: 0,
    activityQueueMs: 0,
    activityRunMs: 0,
    workflowTaskQueueMs: 0,
    workflowTaskRunMs: 0,
  };
  if (events.length === 0) return timing;
  timing.totalMs = timeMs(events[events.length - 1]!.eventTime) - timeMs(events[0]!.eventTime);
  let taskScheduled = Number.NaN;
  let taskStarted = Number.NaN;
  for (const e of events) {
    const t = timeMs(e.eventTime);
    at.set(Number(e.eventId), t);
    if (e.workflowTaskScheduledEventAttributes) taskScheduled = t;
    if (e.workflowTaskStartedEventAttributes) {
      taskStarted = t;
      timing.workflowTaskQueueMs += t - taskScheduled;
    }
    if (e.workflowTaskCompletedEventAttributes) timing.workflowTaskRunMs += t - taskStarted;
    const started = e.activityTaskStartedEventAttributes;
    if (started) timing.activityQueueMs += t - (at.get(Number(started.scheduledEventId)) ?? t);
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes;
    if (done) timing.activityRunMs += t - (at.get(Number(done.startedEventId)) ?? t);
  }
  return timing;
}

export function shapeOf(history: History): RunShape {
  const shape: RunShape = {
    activities: 0,
    activitiesByType: {},
    upserts: 0,
    updates: [],
    timersStarted: 0,
    timersFired: 0,
    timersCancelled: 0,
    markers: 0,
    workflowTasks: 0,
    events: history.events?.length ?? 0,
    timing: timingOf(history),
  };
  for (const e of history.events ?? []) {
    const scheduled = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (scheduled) {
      shape.activities += 1;
      shape.activitiesByType[scheduled] = (shape.activitiesByType[scheduled] ?? 0) + 1;
    }
    if (e.upsertWorkflowSearchAttributesEventAttributes) shape.upserts += 1;
    const update = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name;
    if (update) shape.updates.push(update);
    if (e.timerStartedEventAttributes) shape.timersStarted += 1;
    if (e.timerFiredEventAttributes) shape.timersFired += 1;
    if (e.timerCanceledEventAttributes) shape.timersCancelled += 1;
    if (e.markerRecordedEventAttributes) shape.markers += 1;
    if (e.workflowTaskCompletedEventAttributes) shape.workflowTasks += 1;
  }
  return shape;
}

/** One line per shape, for the report. */
export function describeShape(s: RunShape): string {
  const byType = Object.entries(s.activitiesByType)
    .map(([t, n]) => (n > 1 ? `${t}×${n}` : t))
    .join(', ');
  return (
    `${s.activities} activities, ${s.upserts} search-attribute upserts, ${s.updates.length} updates ` +
    `(${s.updates.join(' → ') || 'none'}), ${s.timersStarted} timers (${s.timersFired} fired, ${s.timersCancelled} cancelled), ` +
    `${s.markers} markers; ${s.workflowTasks} workflow tasks, ${s.events} events` +
    (byType ? `\n      activities: ${byType}` : '')
  );
}

interface Spread {
  mean: number;
  min: number;
  max: number;
}

function spread(values: number[]): Spread {
  if (values.length === 0) return { mean: Number.NaN, min: Number.NaN, max: Number.NaN };
  return {
    mean: values.reduce((a, b) => a + b, 0) / values.length,
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

const showSpread = (s: Spread, what: string) =>
  `${Number.isInteger(s.mean) ? s.mean : s.mean.toFixed(1)} ${what}${s.min !== s.max ? ` (${s.min}–${s.max})` : ''}`;

/**
 * Several runs' shapes in one line: mean counts with their range. Runs of one kind differ a little:
 * the MDM job may be done at the first poll (one poll, no timer), and a report that arrives in the same
 * workflow task that would start its reminder timer leaves no timer in the history.
 */
export function describeShapes(shapes: RunShape[]): string {
  if (shapes.length === 0) return 'no completed run';
  const sequences = [...new Set(shapes.map((s) => s.updates.join(' → ')))];
  return (
    `${shapes.length} runs: ${showSpread(spread(shapes.map((s) => s.activities)), 'activities')}, ` +
    `${showSpread(spread(shapes.map((s) => s.upserts)), 'upserts')}, ` +
    `updates ${sequences.join(' | ')}, ` +
    `${showSpread(spread(shapes.map((s) => s.timersStarted)), 'timers')} ` +
    `(${showSpread(spread(shapes.map((s) => s.timersFired)), 'fired')}), ` +
    `${showSpread(spread(shapes.map((s) => s.markers)), 'markers')}; ` +
    `${showSpread(spread(shapes.map((s) => s.workflowTasks)), 'workflow tasks')}, ` +
    `${showSpread(spread(shapes.map((s) => s.events)), 'events')}`
  );
}

/**
 * Raw and API runs did the same work for Temporal: the same Updates in the same order in every run, the
 * same markers, and on average the same number of activities and upserts (within one).
 */
export function shapesAgree(raw: RunShape[], api: RunShape[]): boolean {
  if (raw.length === 0 || api.length === 0) return false;
  const updates = new Set([...raw, ...api].map((s) => s.updates.join()));
  const mean = (xs: RunShape[], f: (s: RunShape) => number) => spread(xs.map(f)).mean;
  return (
    updates.size === 1 &&
    mean(raw, (s) => s.markers) === mean(api, (s) => s.markers) &&
    Math.abs(mean(raw, (s) => s.activities) - mean(api, (s) => s.activities)) <= 1 &&
    Math.abs(mean(raw, (s) => s.upserts) - mean(api, (s) => s.upserts)) <= 1
  );
}

/**
 * Walks a completed run's history and writes down, in order, what its workflow code did: activities
 * scheduled (and when it waited for them), upserts (values as recorded, device names replaced),
 * timers that fired (sleeps), Updates it waited for (with the reminder timer the report cancelled),
 * markers. Activities that complete between two workflow tasks are awaited at the second one's start,
 * as the real code awaited them.
 */
export function scriptFromHistory(history: History): RawOp[] {
  const events = history.events ?? [];
  const timerFate = new Map<string, 'fired' | 'cancelled'>();
  for (const e of events) {
    const fired = e.timerFiredEventAttributes?.timerId;
    if (fired) timerFate.set(fired, 'fired');
    const cancelled = e.timerCanceledEventAttributes?.timerId;
    if (cancelled) timerFate.set(cancelled, 'cancelled');
  }
  const ops: RawOp[] = [];
  let outstanding = 0;
  let completedSinceLastTask = 0;
  let waitTimerMs: number | undefined;
  let step: string | undefined;
  for (const e of events) {
    if (e.workflowTaskCompletedEventAttributes) {
      if (completedSinceLastTask > 0) {
        ops.push({ op: 'await-activities' });
        outstanding = 0;
        completedSinceLastTask = 0;
      }
      continue;
    }
    if (e.activityTaskCompletedEventAttributes || e.activityTaskFailedEventAttributes) {
      if (outstanding > 0) completedSinceLastTask += 1;
      continue;
    }
    const activity = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (activity) {
      ops.push({ op: 'activity', type: activity });
      outstanding += 1;
      continue;
    }
    const upsert = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
    if (upsert) {
      // TemporalChangeVersion is written by patched() itself (the raw run's marker writes its own).
      const attributes = Object.entries(upsert)
        .filter(([name]) => name !== 'TemporalChangeVersion')
        .map(([name, payload]) => attributeOf(name, payload));
      if (attributes.length === 0) continue;
      const stepValue = attributes.find((a) => a.name === 'LifecycleStep')?.value;
      if (typeof stepValue === 'string') step = stepValue;
      ops.push({ op: 'upsert', attributes });
      continue;
    }
    const timer = e.timerStartedEventAttributes;
    if (timer) {
      const timerMs = durationMs(timer.startToFireTimeout);
      if (timerFate.get(timer.timerId ?? '') === 'fired') ops.push({ op: 'sleep', ms: timerMs });
      else waitTimerMs = timerMs;
      continue;
    }
    const update = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name;
    if (update) {
      ops.push({
        op: 'await-update',
        update,
        ...(waitTimerMs !== undefined ? { timerMs: waitTimerMs } : {}),
        ...(step ? { step } : {}),
      });
      waitTimerMs = undefined;
      continue;
    }
    if (e.markerRecordedEventAttributes) ops.push({ op: 'marker' });
  }
  if (outstanding > 0) ops.push({ op: 'await-activities' });
  return ops;
}

/** Activity type names a script schedules (the raw worker registers a no-op for each). */
export function activityTypesOf(ops: RawOp[]): string[] {
  return [...new Set(ops.flatMap((op) => (op.op === 'activity' ? [op.type] : [])))];
}
