/**
 * Small helpers both processes use to open human tasks: the task's times, the notices sent while it
 * waits, and the re-enrolment a person reports and the MDM must confirm.
 */
import { call } from './activityProxy';
import type { ActorRef, HumanEventName, HumanTask, LifecycleTimings, Step } from './definitions';
import type { Lifecycle, TaskNotice, TaskSpec } from './lifecycle';
import type { NextStep, StepRefusal } from './reportIntake';

interface TaskShape {
  type: string;
  step: Step;
  expects: HumanEventName[];
  contact?: HumanTask['contact'];
  refusal?: StepRefusal;
  next?: NextStep;
  carry?: Record<string, unknown>;
}

/**
 * A task opened at `from`: due after the deployment's escalation delay (overdue only after that, issue 11),
 * when the admins hear about it, then repeatedly. The collection task has its own due date (the plan).
 */
export function taskSpec(timings: LifecycleTimings, from: number, shape: TaskShape): TaskSpec {
  const escalateAt = from + timings.escalateAfterMs;
  return {
    ...shape,
    dueAt: new Date(escalateAt),
    escalateAt: new Date(escalateAt),
    repeatEveryMs: timings.taskReminderEveryMs,
  };
}

export interface NoticeText {
  subject: string;
  text: string;
}

/**
 * Reminders go to the person the task concerns; escalations go to the admins (the activity knows them).
 * `wording` gives each process its own subject and text.
 */
export function noticeSender(
  lc: Lifecycle,
  wording: (kind: 'reminder' | 'escalation', task: HumanTask) => NoticeText,
): TaskNotice {
  return async (kind, task) => {
    const ctx = lc.context(task.step, undefined, `${kind}-${task.remindersSent}-${Date.now()}`);
    const to = kind === 'reminder' && task.contact?.email ? [task.contact.email] : [];
    const count = { occurrence: task.occurrence ?? 0, remindersSent: task.remindersSent, escalated: task.escalated };
    await call('sendNotice', `${kind} for ${task.type}`, ctx, kind, { to, ...wording(kind, task) }, count);
  };
}

export interface ReenrolmentSpec {
  timings: LifecycleTimings;
  contact: HumanTask['contact'];
  /** The verify activity's summary in the Temporal UI. */
  verifySummary: string;
  /** The step after a confirmed re-enrolment (what the reporter is told). */
  then: Step;
  /** What the steps after it need, if the process may continue as new while waiting here. */
  carry?: Record<string, unknown>;
  notice: TaskNotice;
  /** Why some reports are refused while it waits (e.g. late reports of a failed attempt). */
  refusal?: StepRefusal;
  /** Runs when the task opens, e.g. mails the device user how to re-enrol (records-1). */
  onOpen?: () => Promise<void>;
}

/**
 * A person re-registers the device and reports it; the MDM must then show it enrolled (the activity
 * stores its new MDM id). Until it does, the task opens again and the report's answer says why.
 */
export async function reenrolAndVerify(lc: Lifecycle, spec: ReenrolmentSpec): Promise<void> {
  const step: Step = 'awaiting-reenrollment';
  let reopenedBecause: string | undefined;
  for (;;) {
    const next: NextStep = () => ({ step: spec.then, pending: 'the MDM must show the device enrolled' });
    const shape: TaskShape = {
      type: 'reenroll-device',
      step,
      expects: ['device-reenrolled'],
      contact: spec.contact,
      next,
      carry: spec.carry,
      ...(spec.refusal ? { refusal: spec.refusal } : {}),
    };
    const opened = { ...taskSpec(spec.timings, Date.now(), shape), reopenedBecause };
    const got = await lc.awaitTask(spec.onOpen ? { ...opened, onOpen: spec.onOpen } : opened, spec.notice);
    const { mdmDeviceId } = got.report.data as { mdmDeviceId?: string };
    const reporter: ActorRef = got.report.actor;
    const check = await lc.parkOnFailure(step, () =>
      lc.mdm('verifyEnrollment', spec.verifySummary, lc.context(step, reporter, 'verify'), {
        reportedMdmDeviceId: mdmDeviceId,
      }),
    );
    if (check.enrolled) return;
    const because = `Re-enrolment reported by ${reporter.id} but not confirmed by the MDM: ${check.reason ?? 'not enrolled'}`;
    reopenedBecause = await lc.reopenTask(step, because);
  }
}

/**
 * Where a continued run (continue-as-new) picks up: the index of its resume point in the process's list of
 * human tasks, or -1 for a first run.
 */
export function resumeIndex(at: string | undefined, points: string[]): number {
  if (at === undefined) return -1;
  const index = points.indexOf(at);
  // A resume point this code does not know would redo finished steps: fail the task visibly instead.
  if (index < 0) throw new Error(`cannot resume at unknown task ${at}`);
  return index;
}
