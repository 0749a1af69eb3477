/**
 * Every behaviour change of workflow code made while processes run, as a `patched()` id. A process that
 * started before a change replays its history without the marker and keeps the old behaviour; a process
 * that starts after it records the marker once, at its first workflow task, and takes the new one. When
 * no process without the marker can still be running, the old branch goes and the call becomes
 * `deprecatePatch(id)`; later the id itself goes. The versioning policy is in README.md.
 */
import { patched } from '@temporalio/workflow';

/**
 * fleet-scale-1 (task index, answers on acceptance, first step loads the asset):
 * - each human task opens its row in the task index (openTask) when it opens;
 * - a report's Update answers as soon as it is accepted, with the step the process is moving to,
 *   instead of after the next step has begun;
 * - a report accepted before a cancel is taken and audited before the process stops;
 * - change-user loads the asset in its first step's activity (scheduleCollection) instead of a separate
 *   loadAsset;
 * - an idempotency key keeps one meaning: a key used again for another event or body is refused
 *   (IdempotencyKeyReused) also when two such Updates race past the validator, and as a Signal it is
 *   recorded as rejected instead of ignored.
 */
export const FLEET_SCALE_1 = 'fleet-scale-1';

/**
 * bounded-1 (long waits stay bounded):
 * - a task that opens again after reports the step could not use (re-enrolment not confirmed, unusable
 *   application) goes to needs-attention after `limits.reopenLimit` reopenings, with the reason;
 * - reports and signals per hour are limited (`limits.reportsPerHour`): an Update over the limit is refused
 *   (RateLimited, the API's 429), a Signal over it is counted and dropped without an audit write;
 * - a cancel from the Temporal UI or client waits for the handlers in flight (outside the cancelled
 *   scope), so no Update is left unanswered.
 */
export const BOUNDED_1 = 'bounded-1';

/**
 * continue-as-new-1: a process waiting for a person continues as new when Temporal suggests it or its
 * history passes `limits.continueAfterEvents`, carrying its state, acknowledged keys and open task.
 */
export const CONTINUE_AS_NEW_1 = 'continue-as-new-1';

/**
 * mdm-weather-1 (the MDM in bad weather, and as the truth about the device; DESIGN §3):
 * - an MDM read or poll that fails for want of the MDM (down, throttling, timeout) never parks the
 *   process: it waits (honouring Retry-After) and reads again; an MDM command does the same for as long as
 *   `timings.mdmOutageToleranceMs` allows; the state and current details say what failed and the next try;
 * - an admin decision records what kind of failure it is (errorKind, for bulk recovery);
 * - truth checks: `profiles-removed` is checked against the MDM's profile list (refused with the MDM's
 *   view while a profile remains), a human `wipe-confirmed` is checked against the wipe job, and the
 *   inactivation job is watched during the device-side steps: once it failed, device-side reports are
 *   refused and the failure path starts at once;
 * - a factory reset is recorded and offered to the admin: re-enrol and try again, or retire as reset;
 * - each device-side step of the inactivation mails the device user its instructions, and reminders
 *   repeat them.
 */
export const MDM_WEATHER_1 = 'mdm-weather-1';

/**
 * mdm-capabilities-1 (real MDMs, issue 14): when the MDM removes the profiles by command (Apple MDM's
 * RemoveProfile, Intune's retire: the inactivation request says so), the inactivation skips the
 * device-side human steps and verifies what the MDM did, instead of asking a person to pretend.
 */
export const MDM_CAPABILITIES_1 = 'mdm-capabilities-1';

/**
 * who-reports-1 (DESIGN §3 "Who may report what"): `wipe-confirmed`, and `user-assigned` with user
 * details, are taken from admins only; as Signals (which cannot prove who sent them) they are recorded
 * as rejected whatever actor they claim; a report taken from a Signal is audited with `via: signal`.
 */
export const WHO_REPORTS_1 = 'who-reports-1';

/**
 * records-1 (DESIGN §3 "Cancel and abort leave the records true"): a cancelled or aborted change-user undoes
 * what was only planned (planned status and date restored, a reserved application released, each audited
 * with the actor) and says what was done to the device; the LifecycleStatus search attribute carries the
 * process's status (running, needs-attention, completed, cancelled, aborted). Also: the inactivation's
 * re-enrolment task mails the device user its instructions when it opens, as the other device-side steps
 * do since mdm-weather-1 (a late find: mdm-weather-1 histories open it without a mail).
 */
export const RECORDS_1 = 'records-1';

/**
 * lean-1 (less work per process, issue 9):
 * - one marker stands for every change above: a run that records lean-1 has all of them, without their
 *   seven markers (the SDK also upserts TemporalChangeVersion once per marker: seven events, seven
 *   visibility writes, at every start);
 * - the start's search attributes are not set again when the start already carried them (AssetNumber,
 *   LifecycleProcess, LifecycleStatus);
 * - change-user's first step opens the collection task's row in the task index in its own activity
 *   (scheduleCollection), instead of a separate openTask activity and workflow task after it;
 * - a stop closes every task-index row of the run, whichever occurrence it belongs to.
 */
export const LEAN_1 = 'lean-1';

/**
 * lean-2 (issue 9): the search attributes never show a process waiting for a person without the task's
 * row in the task index, so the API never has to ask the workflow (a state query) for a pending task:
 * - a human task's step shows (LifecycleStep, AwaitingTask) only once the openTask activity wrote its row;
 *   before, the attributes went out with that activity;
 * - a taken task stops showing (AwaitingTask cleared) as soon as the report is accepted, before the step
 *   does more work of its own (verifying a re-enrolment, storing a receipt, reading the wipe again);
 *   before, it showed until the next step began, while its row was already closed.
 * As with lean-1, its one marker stands for every change above.
 */
export const LEAN_2 = 'lean-2';

/** What this run does, decided once at its start so every part of the run agrees. */
export interface RunFeatures {
  fleetScale: boolean;
  bounded: boolean;
  continueAsNew: boolean;
  mdmWeather: boolean;
  mdmCapabilities: boolean;
  whoReports: boolean;
  records: boolean;
  lean: boolean;
  lean2: boolean;
}

export function runFeatures(): RunFeatures {
  // Asked newest first: a run started before lean-2 replays without its marker and asks lean-1, and a run
  // from before lean-1 asks the older ids, in order. A new run records one marker.
  const all = {
    fleetScale: true,
    bounded: true,
    continueAsNew: true,
    mdmWeather: true,
    mdmCapabilities: true,
    whoReports: true,
    records: true,
    lean: true,
  };
  if (patched(LEAN_2)) return { ...all, lean2: true };
  if (patched(LEAN_1)) return { ...all, lean2: false };
  return {
    fleetScale: patched(FLEET_SCALE_1),
    bounded: patched(BOUNDED_1),
    continueAsNew: patched(CONTINUE_AS_NEW_1),
    mdmWeather: patched(MDM_WEATHER_1),
    mdmCapabilities: patched(MDM_CAPABILITIES_1),
    whoReports: patched(WHO_REPORTS_1),
    records: patched(RECORDS_1),
    lean: false,
    lean2: false,
  };
}
