/**
 * The failure kind of an admin decision written before workflows recorded one (OpenTask.errorKind absent):
 * a best-effort reading of its error text, so a bulk recovery filtered by kind still finds processes that
 * older code parked. It is a fallback only: a recorded kind always wins, and a text it cannot place is
 * `other`. The patterns are the wordings the activities and workflows write (activities/failures.ts,
 * mdm/httpClient.ts, workflows/lifecycle.ts describeFailure: `<activity>: <message>`).
 */
import type { OpenTask } from '../activities/contracts';
import type { FailureKind } from '../workflows/failureKinds';

/** The activities that only talk to the asset database: their failures are the database's. */
const DATABASE_ACTIVITIES =
  /^(loadAsset|recordEvent|openTask|scheduleCollection|returnToStock|claimApplication|assignUser|recordDelivery|finishInactivation|retireAsReset):/;

/** First match wins: the order puts the specific wordings before the general ones. */
const RULES: readonly [FailureKind, RegExp][] = [
  ['mdm-refused', /\bMDM refused\b|\bMDM rejected\b/i],
  ['mdm-outage', /\bMDM (unavailable|unreachable|rate limit|did not answer)\b/i],
  ['attempt-limit', /\(limit \d+\)/i],
  ['mdm-job-timeout', /\bdid not finish within\b|\bdid not acknowledge\b/i],
  ['mdm-job-failed', /\bjob failed\b|\bwipe failed\b/i],
  ['factory-reset', /\bfactory[- ]reset\b/i],
  ['device-mismatch', /\bdevice status is\b|\bMDM (still )?shows\b/i],
  ['mail', /^(sendNotice|sendDeviceInstructions):|\b(SMTP|e-?mail|mail relay|MailRejected|recipient)\b/i],
  ['database', /\b(database|postgres(ql)?|SQL|relation|constraint|deadlock|statement timeout)\b/i],
];

export function errorKindFromText(lastError: string | undefined): FailureKind {
  const text = lastError ?? '';
  for (const [kind, pattern] of RULES) if (pattern.test(text)) return kind;
  return DATABASE_ACTIVITIES.test(text) ? 'database' : 'other';
}

/** The kind the row records (as written, even one newer than this code), or else the reading of its text. */
export function errorKindOf(task: Pick<OpenTask, 'errorKind' | 'lastError'>): string {
  return task.errorKind || errorKindFromText(task.lastError);
}
