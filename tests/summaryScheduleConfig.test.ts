/**
 * SUMMARY_REPORT_SCHEDULE and SUMMARY_REPORT_TIME_ZONE as config/env.ts reads them at start-up: defaults,
 * spellings made one, off, and bad values refused naming the variable and what is wrong.
 * (That Temporal takes every calendar accepted here is tests/summarySchedule.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../config/env';

const read = (env: Record<string, string>) => {
  const c = loadConfig(env);
  return [c.SUMMARY_REPORT_SCHEDULE, c.SUMMARY_REPORT_TIME_ZONE];
};

describe('the summary report calendar in the configuration', () => {
  it('defaults to Mondays at 08:00 in Asia/Tokyo', () => {
    expect(read({})).toEqual(['0 8 * * MON', 'Asia/Tokyo']);
    expect(CONFIG_VARIABLES).toEqual(expect.arrayContaining(['SUMMARY_REPORT_SCHEDULE', 'SUMMARY_REPORT_TIME_ZONE']));
  });

  it('takes cron calendars and shorthands in one spelling, and off', () => {
    expect(read({ SUMMARY_REPORT_SCHEDULE: ' 30  7 1-5 * mon-fri ', SUMMARY_REPORT_TIME_ZONE: 'asia/tokyo' })).toEqual([
      '30 7 1-5 * MON-FRI',
      'Asia/Tokyo',
    ]);
    expect(read({ SUMMARY_REPORT_SCHEDULE: '*/15 8-18/2 1,15 JAN-MAR 0', SUMMARY_REPORT_TIME_ZONE: 'UTC' })).toEqual([
      '*/15 8-18/2 1,15 JAN-MAR 0',
      'UTC',
    ]);
    expect(read({ SUMMARY_REPORT_SCHEDULE: '@Daily' })[0]).toBe('@daily');
    expect(read({ SUMMARY_REPORT_SCHEDULE: 'off' })[0]).toBeNull();
    expect(read({ SUMMARY_REPORT_SCHEDULE: 'OFF' })[0]).toBeNull();
  });

  it.each([
    ['0 25 * * MON', /SUMMARY_REPORT_SCHEDULE="0 25 \* \* MON": not a calendar: hour: 25 is not in 0-23/],
    ['0 8 * *', /SUMMARY_REPORT_SCHEDULE="0 8 \* \*": not a calendar: has 4 fields/],
    ['0 8 * * FOO', /day of week: "FOO" is not a number or a name/],
    ['0 8 32 * *', /day of month: 32 is not in 1-31/],
    ['0 8 * 13 *', /month: 13 is not in 1-12/],
    ['5-1 * * * *', /minute: the range "5-1" runs backwards/],
    ['3/5 * * * *', /minute: a step needs \* or a range a-b/],
    ['*/0 * * * *', /minute: the step in "\*\/0" must be 1 or more/],
    ['@often', /unknown shorthand/],
    ['every monday', /has 2 fields/],
  ])('refuses the calendar %j naming the variable and the fault', (value, message) => {
    expect(() => loadConfig({ SUMMARY_REPORT_SCHEDULE: value })).toThrow(message);
  });

  it('refuses an unknown time zone naming the variable', () => {
    for (const zone of ['Mars/Base', '+09:00', 'JST-9']) {
      expect(() => loadConfig({ SUMMARY_REPORT_TIME_ZONE: zone })).toThrow(
        `SUMMARY_REPORT_TIME_ZONE=${JSON.stringify(zone)}: must be an IANA time zone such as Asia/Tokyo or UTC`,
      );
    }
  });
});
