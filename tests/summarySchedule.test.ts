/**
 * The summary report mail (issue 11 item 6) on real parts: the Temporal dev server, PostgreSQL, the lifecycle
 * worker with its real activities, and the SMTP sink. The Schedule is made at start-up as the API makes it
 * (created once, updated when the configured calendar changes, an operator's pause kept, deleted for off);
 * a triggered run mails the admins the summary by planned asset status, and the CSV attached to the mail
 * that arrived is read back and compared with the counts in the database.
 */
import { randomUUID } from 'node:crypto';
import { ScheduleNotFoundError, type ScheduleHandle } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { createSummaryReportActivities, type SummaryMailResult } from '../activities/summaryReport';
import { SUMMARY_CSV_COLUMNS } from '../activities/summaryReportMail';
import { parseCsv } from '../api/csv';
import { createSmtpMailer } from '../mail/mailer';
import { ensureSummarySchedule, summaryScheduleId, SUMMARY_WORKFLOW_TYPE } from '../temporal/summarySchedule';
import { ADMIN_EMAILS } from './support/lifecycleHarness';
import { PATIENCE_MS } from './support/patience';
import type { ReceivedMail } from './support/smtpSink';
import { useHarness } from './support/suite';

const h = useHarness();

/** Assets with these planned statuses (null: none planned); 9 devices in all. */
const PLANNED: (string | null)[] = ['in_stock', 'in_stock', 'in_stock', 'retired', 'in_use', null, null, null, null];

async function seedAssets(): Promise<void> {
  for (const [i, planned] of PLANNED.entries()) {
    const assetNumber = `A-${String(700_001 + i).padStart(6, '0')}`;
    await h.db.pool.query(
      `INSERT INTO assets (asset_number, serial_number, model, department, location, status, planned_status, planned_date)
       VALUES ($1, $2, 'iPhone 15', '人事部', 'Tokyo HQ', 'in_use', $3, $4)`,
      [assetNumber, `SN-SUM-${i}`, planned, planned ? '2026-12-01' : null],
    );
  }
}

/** The counts as the database has them right now, by code as the CSV writes them (`none` for no plan). */
async function countsInDb(): Promise<Record<string, number>> {
  const { rows } = await h.db.pool.query<{ code: string; n: number }>(
    "SELECT coalesce(planned_status, 'none') AS code, count(*)::int AS n FROM assets GROUP BY 1",
  );
  return Object.fromEntries(rows.map((r) => [r.code, r.n]));
}

/** The attachment's rows as code -> devices (zero rows and the total row included). */
function attachedCounts(mail: ReceivedMail): { filename?: string; header: string[]; counts: Record<string, number> } {
  expect(mail.attachments).toHaveLength(1);
  const [file] = mail.attachments;
  expect(file!.contentType).toBe('text/csv');
  const [header, ...rows] = parseCsv(Buffer.from(file!.contentBase64, 'base64').toString('utf8'));
  return {
    filename: file!.filename,
    header: header!.fields,
    counts: Object.fromEntries(rows.map((r) => [r.fields[0]!, Number(r.fields[2])])),
  };
}

async function scheduleCount(scheduleId: string): Promise<number> {
  let n = 0;
  for await (const s of h.client.schedule.list()) if (s.scheduleId === scheduleId) n += 1;
  return n;
}

/** The run the schedule started last (after a trigger), once it is there. */
async function lastRunId(handle: ScheduleHandle, before: number): Promise<string> {
  let workflowId = '';
  await expect
    .poll(
      async () => {
        const actions = (await handle.describe()).info.recentActions;
        workflowId = actions.length > before ? actions.at(-1)!.action.workflow.workflowId : '';
        return workflowId;
      },
      { timeout: PATIENCE_MS },
    )
    .not.toBe('');
  return workflowId;
}

describe('the summary report Schedule made at start-up', () => {
  afterAll(async () => {
    await h.client.schedule
      .getHandle(summaryScheduleId(h.taskQueue))
      .delete()
      .catch(() => undefined);
  });

  it('is created once, keeps an operator pause, follows a changed calendar, and goes for off', async () => {
    const taskQueue = h.taskQueue;
    const scheduleId = summaryScheduleId(taskQueue);
    const weekly = { taskQueue, calendar: '0 8 * * MON', timeZone: 'Asia/Tokyo' };
    expect(await ensureSummarySchedule(h.client, weekly)).toBe('created');
    expect(await ensureSummarySchedule(h.client, weekly)).toBe('exists');
    // One schedule, listed where the Temporal UI lists schedules (visibility may lag a little).
    await expect.poll(() => scheduleCount(scheduleId), { timeout: PATIENCE_MS }).toBe(1);

    const handle = h.client.schedule.getHandle(scheduleId);
    const made = await handle.describe();
    expect(made.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: SUMMARY_WORKFLOW_TYPE,
      taskQueue,
      args: [{ calendar: '0 8 * * MON', timeZone: 'Asia/Tokyo' }],
    });
    expect(made.spec.timezone).toBe('Asia/Tokyo');
    expect(made.spec.calendars).toEqual([
      expect.objectContaining({
        hour: [{ start: 8, end: 8, step: 1 }],
        minute: [{ start: 0, end: 0, step: 1 }],
        dayOfWeek: [{ start: 'MONDAY', end: 'MONDAY', step: 1 }],
      }),
    ]);
    expect(made.state.note).toMatch(/Summary report mail/);

    // An operator pauses it in the UI: a restart with the same configuration leaves it paused.
    await handle.pause('paused by an operator');
    expect(await ensureSummarySchedule(h.client, weekly)).toBe('exists');
    expect((await handle.describe()).state.paused).toBe(true);

    // The configured calendar changes: the schedule follows, and is still the operator's paused one.
    const weekdays = { taskQueue, calendar: '30 7 * * MON-FRI', timeZone: 'UTC' };
    expect(await ensureSummarySchedule(h.client, weekdays)).toBe('updated');
    const updated = await handle.describe();
    expect(updated.spec.timezone).toBe('UTC');
    expect(updated.spec.calendars).toEqual([
      expect.objectContaining({
        hour: [{ start: 7, end: 7, step: 1 }],
        minute: [{ start: 30, end: 30, step: 1 }],
        dayOfWeek: [{ start: 'MONDAY', end: 'FRIDAY', step: 1 }],
      }),
    ]);
    expect(updated.action).toMatchObject({ args: [{ calendar: '30 7 * * MON-FRI', timeZone: 'UTC' }] });
    expect(updated.state).toMatchObject({ paused: true, note: 'paused by an operator' });
    expect(await ensureSummarySchedule(h.client, weekdays)).toBe('exists');
    // Only the time zone changes: that is a different calendar too.
    expect(await ensureSummarySchedule(h.client, { ...weekdays, timeZone: 'Asia/Tokyo' })).toBe('updated');
    expect((await handle.describe()).spec.timezone).toBe('Asia/Tokyo');
    await expect.poll(() => scheduleCount(scheduleId), { timeout: PATIENCE_MS }).toBe(1);

    // off: the schedule goes, and a second start-up with off finds nothing to do.
    expect(await ensureSummarySchedule(h.client, { ...weekly, calendar: null })).toBe('deleted');
    expect(await ensureSummarySchedule(h.client, { ...weekly, calendar: null })).toBe('off');
    await expect(handle.describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });

  it('accepts every shorthand the configuration accepts', async () => {
    const taskQueue = `shorthands-${randomUUID()}`;
    const handle = h.client.schedule.getHandle(summaryScheduleId(taskQueue));
    try {
      for (const calendar of ['@hourly', '@daily', '@weekly', '@monthly', '@yearly', '*/15 8-18/2 1,15 JAN-MAR 0']) {
        expect(await ensureSummarySchedule(h.client, { taskQueue, calendar, timeZone: 'UTC' })).toMatch(
          /^(created|updated)$/,
        );
        expect((await handle.describe()).action).toMatchObject({ args: [{ calendar }] });
      }
    } finally {
      await handle.delete().catch(() => undefined);
    }
  });
});

describe('a run of the summary report Schedule', () => {
  const mailer = () =>
    createSmtpMailer({ smtpUrl: `smtp://127.0.0.1:${h.mail.port}`, from: 'device-lifecycle@example.com' });

  it('mails the admins the counts by planned asset status with the CSV attached, once', async () => {
    await seedAssets();
    const expected = await countsInDb();
    expect(expected).toEqual({ in_stock: 3, retired: 1, in_use: 1, none: 4 });

    const scheduleId = summaryScheduleId(h.taskQueue);
    expect(
      await ensureSummarySchedule(h.client, {
        taskQueue: h.taskQueue,
        calendar: '0 8 * * MON',
        timeZone: 'Asia/Tokyo',
      }),
    ).toBe('created');
    const handle = h.client.schedule.getHandle(scheduleId);
    try {
      await handle.trigger();
      const workflowId = await lastRunId(handle, 0);
      expect(workflowId.startsWith(`${scheduleId}-`)).toBe(true);
      const result = (await h.client.workflow.getHandle(workflowId).result()) as SummaryMailResult;
      expect(result).toMatchObject({ sent: true, recipients: ADMIN_EMAILS.length, total: 9 });

      const mail = await h.mail.waitFor((m) => m.messageId === result.messageId);
      expect(mail.to).toEqual(ADMIN_EMAILS);
      const day = /^planned-asset-status-(\d{4}-\d{2}-\d{2})\.csv$/.exec(result.filename)?.[1];
      expect(mail.subject).toBe(`Summary by planned asset status, ${day}`);
      expect(mail.text).toContain('9 devices in all');
      for (const line of [
        'In stock: 3',
        'Retired: 1',
        'In use: 1',
        'Lost: 0',
        'In repair: 0',
        'No change planned: 4',
      ]) {
        expect(mail.text).toContain(line);
      }
      expect(mail.text).toContain('0 8 * * MON');

      // The attachment, as it arrived at the sink, against the database.
      const attached = attachedCounts(mail);
      expect(attached.filename).toBe(result.filename);
      expect(attached.header).toEqual([...SUMMARY_CSV_COLUMNS]);
      const zeroes = { in_use: 0, in_stock: 0, retired: 0, lost: 0, in_repair: 0, none: 0 };
      expect(attached.counts).toEqual({ ...zeroes, ...expected, total: 9 });
      // The same counts as GET /reports/planned-asset-status answers (its function).
      expect(result.counts.map((c) => [c.plannedStatus ?? 'none', c.count])).toEqual(
        Object.entries(zeroes).map(([code]) => [code, attached.counts[code]]),
      );

      // A retried activity (same run, so same key) finds the record and sends nothing.
      const sender = mailer();
      try {
        const again = await createSummaryReportActivities({
          db: h.db.pool,
          mail: sender,
          adminEmails: ADMIN_EMAILS,
        }).mailPlannedStatusSummary({
          idempotencyKey: `summary-report:${workflowId}`,
          calendar: '0 8 * * MON',
          timeZone: 'Asia/Tokyo',
        });
        expect(again).toEqual({ ...result, sent: false });
      } finally {
        sender.close();
      }
      expect(h.mail.messages().filter((m) => m.messageId === result.messageId)).toHaveLength(1);
      const { rows } = await h.db.pool.query(
        'SELECT kind, recipients, message_id FROM sent_mails WHERE idempotency_key = $1',
        [`summary-report:${workflowId}`],
      );
      expect(rows).toEqual([
        { kind: 'planned-asset-status-summary', recipients: ADMIN_EMAILS, message_id: result.messageId },
      ]);
    } finally {
      await handle.delete().catch(() => undefined);
    }
  });

  it('writes in Japanese for MAIL_LANGUAGE=ja, the day taken in the configured time zone', async () => {
    const sender = mailer();
    const key = `summary-report:ja-${randomUUID()}`;
    const inDb = await countsInDb();
    const total = Object.values(inDb).reduce((a, b) => a + b, 0);
    try {
      // 2026-11-29T20:00Z is already Monday 30 November in Tokyo.
      const result = await createSummaryReportActivities({
        db: h.db.pool,
        mail: sender,
        adminEmails: ADMIN_EMAILS,
        mailLanguage: 'ja',
        clock: () => new Date('2026-11-29T20:00:00Z'),
      }).mailPlannedStatusSummary({ idempotencyKey: key, calendar: '0 8 * * MON', timeZone: 'Asia/Tokyo' });
      expect(result.filename).toBe('planned-asset-status-2026-11-30.csv');
      const mail = await h.mail.waitFor((m) => m.messageId === result.messageId);
      expect(mail.subject).toBe('【集計】計画資産状況別の台数（2026-11-30）');
      expect(mail.text).toContain(`全 ${total} 台`);
      expect(mail.text).toContain(`在庫: ${inDb.in_stock ?? 0}`);
      expect(mail.text).toContain(`予定なし: ${inDb.none ?? 0}`);
      const csv = parseCsv(Buffer.from(mail.attachments[0]!.contentBase64, 'base64').toString('utf8'));
      expect(csv.map((r) => r.fields)).toContainEqual(['in_stock', '在庫', String(inDb.in_stock ?? 0)]);
      expect(csv.at(-1)!.fields).toEqual(['total', '合計', String(total)]);
    } finally {
      sender.close();
    }
  });
});
