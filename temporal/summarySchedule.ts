/**
 * The Temporal Schedule that mails the admins the summary by planned asset status (workflows/summaryReport.ts)
 * on the calendar SUMMARY_REPORT_SCHEDULE in SUMMARY_REPORT_TIME_ZONE, one per task queue (deployment); in
 * the Temporal UI under Schedules. Made to match the configuration when the API starts: created when
 * missing, updated when the configured calendar or time zone differs from what it was made with (kept in
 * the action's input, which the workflow also mails), deleted when the configuration says `off`, and
 * otherwise left as it is, so an operator's pause, note or trigger in the UI survives restarts.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleSpec,
} from '@temporalio/client';
import type { SummaryReportInput } from '../activities/summaryReport';
import type { plannedStatusSummaryMail } from '../workflows/summaryReport';

export const SUMMARY_WORKFLOW_TYPE = 'plannedStatusSummaryMail';

export function summaryScheduleId(taskQueue: string): string {
  return `summary-report-${taskQueue}`;
}

export interface SummaryScheduleOptions {
  taskQueue: string;
  /** SUMMARY_REPORT_SCHEDULE: a cron calendar, or null for off. */
  calendar: string | null;
  /** SUMMARY_REPORT_TIME_ZONE. */
  timeZone: string;
}

export type SummaryScheduleOutcome = 'created' | 'updated' | 'exists' | 'deleted' | 'off';

function specOf(input: SummaryReportInput): ScheduleSpec {
  return { cronExpressions: [input.calendar], timezone: input.timeZone };
}

function actionOf(
  scheduleId: string,
  taskQueue: string,
  input: SummaryReportInput,
): ScheduleOptionsStartWorkflowAction<typeof plannedStatusSummaryMail> {
  return {
    type: 'startWorkflow',
    workflowType: SUMMARY_WORKFLOW_TYPE,
    // Each run's id is this plus the scheduled time (Temporal appends it): the mail's idempotency key.
    workflowId: scheduleId,
    taskQueue,
    args: [input],
    workflowExecutionTimeout: '1 day',
    staticSummary: `Summary by planned asset status to the admins (${input.calendar}, ${input.timeZone})`,
  };
}

/** Made with this calendar and time zone, for this workflow type? */
function matches(description: ScheduleDescription, input: SummaryReportInput): boolean {
  const action = description.action;
  if (action.type !== 'startWorkflow' || action.workflowType !== SUMMARY_WORKFLOW_TYPE) return false;
  const made = action.args?.[0] as Partial<SummaryReportInput> | undefined;
  return made?.calendar === input.calendar && made?.timeZone === input.timeZone;
}

/** Creates, updates or deletes the schedule to match the configuration; says which it did. */
export async function ensureSummarySchedule(
  client: Client,
  opts: SummaryScheduleOptions,
): Promise<SummaryScheduleOutcome> {
  const scheduleId = summaryScheduleId(opts.taskQueue);
  const handle = client.schedule.getHandle(scheduleId);
  if (opts.calendar === null) {
    try {
      await handle.delete();
      return 'deleted';
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return 'off';
      throw err;
    }
  }
  const input: SummaryReportInput = { calendar: opts.calendar, timeZone: opts.timeZone };
  try {
    await client.schedule.create({
      scheduleId,
      spec: specOf(input),
      action: actionOf(scheduleId, opts.taskQueue, input),
      // A run missed while Temporal was down is caught up within a day; runs never overlap.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
      state: {
        note: 'Mails ADMIN_EMAILS the summary by planned asset status (README: Summary report mail).',
      },
    });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  if (matches(await handle.describe(), input)) return 'exists';
  // The paused flag, the note and the policies stay as they are; only when and what it starts change.
  await handle.update((previous) => ({
    ...previous,
    spec: specOf(input),
    action: actionOf(scheduleId, opts.taskQueue, input),
  }));
  return 'updated';
}

/**
 * ensureSummarySchedule until it succeeds (the API starts before Temporal may be up), every `everyMs`;
 * each failure logged. Stops trying when `signal` aborts.
 */
export async function ensureSummaryScheduleInBackground(
  client: Client,
  opts: SummaryScheduleOptions & { log: (line: string) => void; signal?: AbortSignal; everyMs?: number },
): Promise<void> {
  while (!opts.signal?.aborted) {
    try {
      const outcome = await ensureSummarySchedule(client, opts);
      const when = opts.calendar === null ? 'off' : `${opts.calendar} (${opts.timeZone})`;
      opts.log(`summary report schedule ${summaryScheduleId(opts.taskQueue)}: ${outcome}, ${when}`);
      return;
    } catch (err) {
      opts.log(`summary report schedule not made yet (${(err as Error).message.split('\n')[0]}); trying again`);
      await new Promise((resolve) => setTimeout(resolve, opts.everyMs ?? 30_000).unref());
    }
  }
}
