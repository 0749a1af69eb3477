import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../config/env';
import { timingsFrom } from '../api/lifecycleStarts';

const DAY_MS = 86_400_000;

describe('workflow timings set in days', () => {
  it('are read from the *_DAYS variables and held in milliseconds under *_MS names', () => {
    const c = loadConfig({
      REMINDER_BEFORE_DAYS: '0.5',
      ESCALATE_AFTER_DAYS: '3',
      TASK_REMINDER_EVERY_DAYS: '1',
      WIPE_ACK_TIMEOUT_DAYS: '0.25',
      VERIFY_DEADLINE_DAYS: '7',
    });
    expect(c).toMatchObject({
      REMINDER_BEFORE_MS: DAY_MS / 2,
      ESCALATE_AFTER_MS: 3 * DAY_MS,
      TASK_REMINDER_EVERY_MS: DAY_MS,
      WIPE_ACK_TIMEOUT_MS: DAY_MS / 4,
      VERIFY_DEADLINE_MS: 7 * DAY_MS,
    });
    expect(Object.keys(c).filter((k) => k.endsWith('_DAYS'))).toEqual([]);
  });

  it('default to 1, 2, 3, 1 and 2 days (MDM polls from 1 s) and reach the workflows unchanged', () => {
    expect(timingsFrom(loadConfig({}))).toEqual({
      reminderBeforeMs: DAY_MS,
      escalateAfterMs: 2 * DAY_MS,
      taskReminderEveryMs: 3 * DAY_MS,
      wipeAckTimeoutMs: DAY_MS,
      verifyDeadlineMs: 2 * DAY_MS,
      pollInitialMs: 1_000,
      pollMaxMs: 15 * 60_000,
    });
  });

  it('name the variable users set when a value is bad', () => {
    expect(() => loadConfig({ ESCALATE_AFTER_DAYS: '-1' })).toThrow(/ESCALATE_AFTER_DAYS="-1"/);
    expect(CONFIG_VARIABLES).toEqual(expect.arrayContaining(['REMINDER_BEFORE_DAYS', 'MDM_POLL_INITIAL_MS']));
    expect(CONFIG_VARIABLES).not.toContain('REMINDER_BEFORE_MS');
  });
});

describe('worker sizing', () => {
  it('defaults to a cache of 300 workflows, 50 activities, 40 workflow tasks and 1 workflow thread', () => {
    expect(loadConfig({})).toMatchObject({
      WORKER_MAX_CACHED_WORKFLOWS: 300,
      WORKER_MAX_CONCURRENT_ACTIVITIES: 50,
      WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: 40,
      WORKER_WORKFLOW_THREADS: 1,
    });
    expect(loadConfig({ WORKER_WORKFLOW_THREADS: '2' }).WORKER_WORKFLOW_THREADS).toBe(2);
  });

  it('refuses a workflow thread count that is not a whole number from 1 to 16, naming the variable', () => {
    for (const bad of ['0', '17', '1.5', 'two']) {
      expect(() => loadConfig({ WORKER_WORKFLOW_THREADS: bad })).toThrow(/WORKER_WORKFLOW_THREADS/);
    }
  });
});
