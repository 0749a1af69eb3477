/**
 * The summary report mail (issue 11 item 6, DESIGN §4): the devices by planned asset status, mailed to the
 * admins (ADMIN_EMAILS) with the same counts as a CSV attachment, when the summary report Schedule starts
 * workflows/summaryReport.ts. The summary is the one GET /reports/planned-asset-status answers.
 *
 * Sent once per key (the scheduled run's workflow id): the sent_mails row (migration 0016) is the record
 * that it went out, so a retry after the row was written sends nothing; a retry between the send and the
 * row re-sends with the same Message-ID, as the asset mails do (activities/index.ts notifyOnce).
 */
import type pg from 'pg';
import { plannedStatusSummary, type PlannedStatusCount } from '../db/plannedStatusSummary';
import * as sentMails from '../db/sentMailsRepo';
import type { Mailer } from '../mail/mailer';
import type { MailLanguage } from './deviceInstructions/procedures';
import { summaryMail } from './summaryReportMail';

export const SUMMARY_MAIL_KIND = 'planned-asset-status-summary';

/** What the Schedule starts the workflow with (temporal/summarySchedule.ts). */
export interface SummaryReportInput {
  /** SUMMARY_REPORT_SCHEDULE, as the Schedule was made with it. */
  calendar: string;
  /** SUMMARY_REPORT_TIME_ZONE. */
  timeZone: string;
}

export interface SummaryMailArgs extends SummaryReportInput {
  /** One mail per key: the scheduled run's workflow id. */
  idempotencyKey: string;
}

/** Counts only (no one's personal data): this lands in the workflow's history. */
export interface SummaryMailResult {
  /** false: a mail had already gone out under this key; nothing was sent now. */
  sent: boolean;
  messageId: string;
  recipients: number;
  filename: string;
  total: number;
  counts: PlannedStatusCount[];
}

export interface SummaryReportActivities {
  mailPlannedStatusSummary(args: SummaryMailArgs): Promise<SummaryMailResult>;
}

export interface SummaryReportDeps {
  db: pg.Pool;
  mail: Mailer;
  adminEmails: string[];
  mailLanguage?: MailLanguage;
  clock?: () => Date;
}

export function createSummaryReportActivities(deps: SummaryReportDeps): SummaryReportActivities {
  return {
    async mailPlannedStatusSummary({ idempotencyKey, calendar, timeZone }) {
      const earlier = await sentMails.get(deps.db, idempotencyKey);
      if (earlier) {
        const { filename, total, counts } = earlier.details as Pick<SummaryMailResult, 'filename' | 'total' | 'counts'>;
        const recipients = earlier.recipients.length;
        return { sent: false, messageId: earlier.messageId, recipients, filename, total, counts };
      }
      const summary = await plannedStatusSummary(deps.db, (deps.clock ?? (() => new Date()))());
      const mail = summaryMail(summary, { language: deps.mailLanguage ?? 'en', timeZone, calendar });
      const { messageId } = await deps.mail.send({
        to: deps.adminEmails,
        subject: mail.subject,
        text: mail.text,
        attachments: [mail.attachment],
        idempotencyKey,
      });
      const details = { filename: mail.attachment.filename, total: summary.total, counts: summary.counts };
      await sentMails.record(deps.db, {
        idempotencyKey,
        kind: SUMMARY_MAIL_KIND,
        recipients: deps.adminEmails,
        subject: mail.subject,
        messageId,
        details: { ...details, generatedAt: summary.generatedAt, calendar, timeZone },
      });
      return { sent: true, messageId, recipients: deps.adminEmails.length, ...details };
    },
  };
}
