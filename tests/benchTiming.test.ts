/**
 * The bench's "where a run's time goes" (bench/shape.ts timingOf): sums of queue and run times of
 * activities and workflow tasks, from the events' times, on a small history with known times, and the
 * invariants on a committed change-user history.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { describe, expect, it } from 'vitest';
import { timingOf } from '../bench/shape';

const at = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

describe('bench timing of a run', () => {
  it('sums activity and workflow task queue and run times from the event times', () => {
    const events = [
      { eventId: 1, eventTime: at(0), workflowExecutionStartedEventAttributes: {} },
      { eventId: 2, eventTime: at(0), workflowTaskScheduledEventAttributes: {} },
      { eventId: 3, eventTime: at(30), workflowTaskStartedEventAttributes: { scheduledEventId: 2 } },
      { eventId: 4, eventTime: at(80), workflowTaskCompletedEventAttributes: { scheduledEventId: 2 } },
      { eventId: 5, eventTime: at(80), activityTaskScheduledEventAttributes: { activityType: { name: 'a' } } },
      { eventId: 6, eventTime: at(100), activityTaskStartedEventAttributes: { scheduledEventId: 5 } },
      {
        eventId: 7,
        eventTime: at(170),
        activityTaskCompletedEventAttributes: { scheduledEventId: 5, startedEventId: 6 },
      },
      { eventId: 8, eventTime: at(170), workflowTaskScheduledEventAttributes: {} },
      { eventId: 9, eventTime: at(175), workflowTaskStartedEventAttributes: { scheduledEventId: 8 } },
      { eventId: 10, eventTime: at(195), workflowTaskCompletedEventAttributes: { scheduledEventId: 8 } },
      { eventId: 11, eventTime: at(1_195), workflowExecutionCompletedEventAttributes: {} },
    ];
    expect(timingOf({ events } as never)).toEqual({
      totalMs: 1_195,
      activityQueueMs: 20,
      activityRunMs: 70,
      workflowTaskQueueMs: 35,
      workflowTaskRunMs: 70,
    });
  });

  it('gives parts that fit in the whole on a recorded change-user', () => {
    const file = path.join(import.meta.dirname, 'histories', 'change-user-completed--lean-2.json');
    const { history } = JSON.parse(readFileSync(file, 'utf8')) as { history: unknown };
    const t = timingOf(historyFromJSON(history));
    expect(t.totalMs).toBeGreaterThan(0);
    for (const part of [t.activityQueueMs, t.activityRunMs, t.workflowTaskQueueMs, t.workflowTaskRunMs]) {
      expect(part).toBeGreaterThan(0);
    }
    const parts = t.activityQueueMs + t.activityRunMs + t.workflowTaskQueueMs + t.workflowTaskRunMs;
    expect(parts).toBeLessThanOrEqual(t.totalMs + 1);
  });
});
