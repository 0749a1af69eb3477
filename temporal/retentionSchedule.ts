/**
 * The Temporal Schedule that runs the retention workflow (workflows/retention.ts) once a day, one per task
 * queue (deployment). Created idempotently when the API starts: an existing schedule is left as it is, so
 * an operator's pause or edit in the Temporal UI (Schedules) survives restarts.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';

export function retentionScheduleId(taskQueue: string): string {
  return `retention-${taskQueue}`;
}

/** Creates the schedule unless it exists; says which. */
export async function ensureRetentionSchedule(
  client: Client,
  opts: { taskQueue: string },
): Promise<'created' | 'exists'> {
  const scheduleId = retentionScheduleId(opts.taskQueue);
  try {
    await client.schedule.create({
      scheduleId,
      // Daily, at a quiet hour (UTC); a missed run (Temporal down) is caught up within a day.
      spec: { calendars: [{ hour: 3, minute: 17 }] },
      action: {
        type: 'startWorkflow',
        workflowType: 'retentionErasure',
        workflowId: scheduleId,
        taskQueue: opts.taskQueue,
        args: [],
        workflowExecutionTimeout: '1 day',
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
      state: { note: 'Erases personal data of processes closed longer ago than RETENTION_DAYS (README: Retention).' },
    });
    return 'created';
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) return 'exists';
    throw err;
  }
}

/**
 * ensureRetentionSchedule until it succeeds (the API starts before Temporal may be up), every `everyMs`;
 * each failure logged. Stops trying when `signal` aborts.
 */
export async function ensureRetentionScheduleInBackground(
  client: Client,
  opts: { taskQueue: string; log: (line: string) => void; signal?: AbortSignal; everyMs?: number },
): Promise<void> {
  while (!opts.signal?.aborted) {
    try {
      const outcome = await ensureRetentionSchedule(client, opts);
      opts.log(`retention schedule ${retentionScheduleId(opts.taskQueue)}: ${outcome}`);
      return;
    } catch (err) {
      opts.log(`retention schedule not created yet (${(err as Error).message.split('\n')[0]}); trying again`);
      await new Promise((resolve) => setTimeout(resolve, opts.everyMs ?? 30_000).unref());
    }
  }
}
