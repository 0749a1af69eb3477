/**
 * The words of the summary report mail (subject, body) and its CSV attachment, in the admins' language
 * (MAIL_LANGUAGE). Kept apart from the activity so wording changes stay local. The CSV's first column is
 * the planned status's code (`none` when no change is planned, `total` for the last row), so a spreadsheet
 * or a script reads it whatever the language; the label column is for people.
 */
import { formatCsv } from '../api/csv';
import type { PlannedStatusSummary } from '../db/plannedStatusSummary';
import type { AssetStatus } from '../db/types';
import type { MailAttachment } from '../mail/mailer';
import type { MailLanguage } from './deviceInstructions/procedures';

export const SUMMARY_CSV_COLUMNS = ['Planned Asset Status', 'Label', 'Devices'] as const;

type Row = AssetStatus | 'none' | 'total';

const LABELS: Record<MailLanguage, Record<Row, string>> = {
  en: {
    in_use: 'In use',
    in_stock: 'In stock',
    retired: 'Retired',
    lost: 'Lost',
    in_repair: 'In repair',
    none: 'No change planned',
    total: 'Total',
  },
  ja: {
    in_use: '使用中',
    in_stock: '在庫',
    retired: '廃棄',
    lost: '紛失',
    in_repair: '修理中',
    none: '予定なし',
    total: '合計',
  },
};

export interface SummaryMailContext {
  language: MailLanguage;
  /** The report's day is the day in this zone (SUMMARY_REPORT_TIME_ZONE). */
  timeZone: string;
  /** The calendar it is sent on (SUMMARY_REPORT_SCHEDULE), named in the body so admins know where to change it. */
  calendar: string;
}

export interface SummaryMail {
  subject: string;
  text: string;
  attachment: MailAttachment;
}

/** YYYY-MM-DD of `iso` in `timeZone`. */
export function dayIn(iso: string, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(new Date(iso))
    .reduce<Record<string, string>>((acc, p) => ({ ...acc, [p.type]: p.value }), {});
  return `${parts.year}-${parts.month}-${parts.day}`;
}

function rowsOf(summary: PlannedStatusSummary): { code: Row; count: number }[] {
  return [
    ...summary.counts.map((c) => ({ code: c.plannedStatus ?? ('none' as const), count: c.count })),
    { code: 'total' as const, count: summary.total },
  ];
}

export function summaryCsv(summary: PlannedStatusSummary, language: MailLanguage): string {
  const labels = LABELS[language];
  return formatCsv([
    [...SUMMARY_CSV_COLUMNS],
    ...rowsOf(summary).map((r) => [r.code, labels[r.code], String(r.count)]),
  ]);
}

export function summaryMail(summary: PlannedStatusSummary, ctx: SummaryMailContext): SummaryMail {
  const day = dayIn(summary.generatedAt, ctx.timeZone);
  const filename = `planned-asset-status-${day}.csv`;
  const labels = LABELS[ctx.language];
  const lines = rowsOf(summary)
    .filter((r) => r.code !== 'total')
    .map((r) => `  ${labels[r.code]}: ${r.count}`);
  const text =
    ctx.language === 'ja'
      ? [
          `${day} 時点の計画資産状況別の台数です（全 ${summary.total} 台、${ctx.timeZone}）。`,
          '',
          ...lines,
          '',
          `同じ集計を ${filename} として添付しています。`,
          `このメールはスケジュール「${ctx.calendar}」（${ctx.timeZone}）で送信されています（SUMMARY_REPORT_SCHEDULE）。`,
        ]
      : [
          `Devices by planned asset status on ${day} (${ctx.timeZone}), ${summary.total} devices in all:`,
          '',
          ...lines,
          '',
          `The same counts are attached as ${filename}.`,
          `This mail is sent on the calendar "${ctx.calendar}" (${ctx.timeZone}); see SUMMARY_REPORT_SCHEDULE.`,
        ];
  return {
    subject:
      ctx.language === 'ja' ? `【集計】計画資産状況別の台数（${day}）` : `Summary by planned asset status, ${day}`,
    text: text.join('\n'),
    attachment: {
      filename,
      content: summaryCsv(summary, ctx.language),
      contentType: 'text/csv; charset=utf-8; header=present',
    },
  };
}
