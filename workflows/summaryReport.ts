/**
 * The summary report run started by the summary report Schedule (temporal/summarySchedule.ts): one activity
 * that mails the admins the devices by planned asset status with the CSV attached (activities/summaryReport.ts),
 * once per run: the run's workflow id (the Schedule appends the scheduled time) is the mail's key.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { SummaryMailResult, SummaryReportActivities, SummaryReportInput } from '../activities/summaryReport';

const { mailPlannedStatusSummary } = proxyActivities<SummaryReportActivities>({
  startToCloseTimeout: '5 minutes',
  // A relay that is down for a while still gets the mail out the same day (the run times out after a day).
  retry: { initialInterval: '1 minute', backoffCoefficient: 2, maximumInterval: '1 hour', maximumAttempts: 20 },
});

export async function plannedStatusSummaryMail(input: SummaryReportInput): Promise<SummaryMailResult> {
  return mailPlannedStatusSummary({ ...input, idempotencyKey: `summary-report:${workflowInfo().workflowId}` });
}
