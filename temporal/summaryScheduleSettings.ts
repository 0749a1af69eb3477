/**
 * When the summary report by planned asset status is mailed (temporal/summarySchedule.ts), as config/env.ts
 * reads it: SUMMARY_REPORT_SCHEDULE, a cron calendar of five fields or `off`, and SUMMARY_REPORT_TIME_ZONE,
 * the IANA time zone the calendar is read in. Checked here at start-up so a typo stops the process naming
 * the variable and the field, instead of the API logging a Temporal refusal every 30 seconds.
 *
 * The cron grammar is the part of Temporal's that people use (Temporal takes more, e.g. seconds and years):
 * `minute hour day-of-month month day-of-week`, each field a comma list of `*`, `a` or `a-b` (`*` and
 * `a-b` may take a `/step`); months JAN-DEC and weekdays SUN-SAT by name too (0 and 7 are Sunday); or one
 * of @hourly, @daily, @weekly, @monthly, @yearly.
 */
import { z } from 'zod';

interface CronField {
  name: string;
  min: number;
  max: number;
  /** Names for the values from `min` on (months, weekdays). */
  names?: readonly string[];
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;
const CRON_FIELDS: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day of week', min: 0, max: 7, names: WEEKDAYS },
];
const CRON_MACROS = ['@hourly', '@daily', '@weekly', '@monthly', '@yearly'] as const;
const CRON_HELP =
  'five fields "minute hour day-of-month month day-of-week" (e.g. "0 8 * * MON"), one of ' +
  `${CRON_MACROS.join(', ')}, or off`;

/** The value of one field element, or a reason it is none. */
function cronValue(text: string, field: CronField): number | string {
  const named = field.names?.indexOf(text.toUpperCase()) ?? -1;
  if (named >= 0) return field.min + named;
  if (!/^\d+$/.test(text)) return `${field.name}: "${text}" is not a number${field.names ? ' or a name' : ''}`;
  const n = Number(text);
  return n >= field.min && n <= field.max ? n : `${field.name}: ${n} is not in ${field.min}-${field.max}`;
}

/** Why one comma-separated element of a field is not valid, or undefined. */
function cronElementProblem(element: string, field: CronField): string | undefined {
  const match = /^([^/-]+)(?:-([^/-]+))?(?:\/(\d+))?$/.exec(element);
  if (!match) return `${field.name}: "${element}" is not *, a value, a range a-b, or either with /step`;
  const [, from, to, step] = match;
  if (step !== undefined && Number(step) < 1) return `${field.name}: the step in "${element}" must be 1 or more`;
  if (from === '*') return to === undefined ? undefined : `${field.name}: "${element}" is not a range`;
  const start = cronValue(from!, field);
  if (typeof start === 'string') return start;
  if (to === undefined) {
    return step === undefined ? undefined : `${field.name}: a step needs * or a range a-b ("${element}")`;
  }
  const end = cronValue(to, field);
  if (typeof end === 'string') return end;
  return start <= end ? undefined : `${field.name}: the range "${element}" runs backwards`;
}

/** Why `cron` is not a calendar this service accepts, or undefined when it is. */
export function cronProblem(cron: string): string | undefined {
  if (cron.startsWith('@')) {
    return (CRON_MACROS as readonly string[]).includes(cron) ? undefined : `unknown shorthand; use ${CRON_HELP}`;
  }
  const fields = cron.split(' ');
  if (fields.length !== CRON_FIELDS.length) return `has ${fields.length} fields; use ${CRON_HELP}`;
  for (const [i, text] of fields.entries()) {
    for (const element of text.split(',')) {
      const problem = cronElementProblem(element, CRON_FIELDS[i]!);
      if (problem) return `${problem} (${CRON_HELP})`;
    }
  }
  return undefined;
}

/** One space between fields, names in capitals: one calendar, one spelling (compared at start-up). */
function normaliseCron(cron: string): string {
  const spaced = cron.trim().split(/\s+/).join(' ');
  return spaced.startsWith('@') ? spaced.toLowerCase() : spaced.toUpperCase();
}

/** The IANA name as Temporal (Go's time zone database) spells it, or undefined for an unknown zone. */
function canonicalTimeZone(zone: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(zone)) return undefined;
  try {
    return new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

export const summaryScheduleFields = {
  // Default: Mondays at 08:00 (in SUMMARY_REPORT_TIME_ZONE). Parsed to null for off.
  SUMMARY_REPORT_SCHEDULE: z
    .string()
    .default('0 8 * * MON')
    .transform((s, ctx): string | null => {
      const cron = normaliseCron(s);
      if (cron === 'OFF') return null;
      const problem = cronProblem(cron);
      if (problem) ctx.addIssue({ code: 'custom', message: `not a calendar: ${problem}` });
      return cron;
    }),
  SUMMARY_REPORT_TIME_ZONE: z
    .string()
    .trim()
    .default('Asia/Tokyo')
    .transform((s, ctx) => {
      const zone = canonicalTimeZone(s);
      if (!zone) ctx.addIssue({ code: 'custom', message: 'must be an IANA time zone such as Asia/Tokyo or UTC' });
      return zone ?? s;
    }),
};
