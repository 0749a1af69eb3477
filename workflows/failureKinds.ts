/**
 * What kind of failure put a process in needs-attention, as the admin-decision task records it
 * (OpenTask.errorKind): bulk recovery (POST /workflows/retry, /abort) filters on it, so an admin can retry
 * every process an MDM outage parked without touching those the MDM refused. Safe in workflow code.
 */
export const FAILURE_KINDS = [
  /** The MDM refused a command or request; a retry sends the same thing (fix the cause first). */
  'mdm-refused',
  /** The MDM was down or throttling for longer than MDM_OUTAGE_TOLERANCE. */
  'mdm-outage',
  /** The MDM ran the command and reported it failed. */
  'mdm-job-failed',
  /** The MDM command did not finish before its deadline. */
  'mdm-job-timeout',
  /** The MDM shows the device otherwise than the process needs (status, profiles). */
  'device-mismatch',
  /** The device was factory reset during the inactivation: re-enrol and retry, or retire it as reset. */
  'factory-reset',
  /** A task opened again too often, or the inactivation failed too many times. */
  'attempt-limit',
  /** The asset database refused or was unreachable. */
  'database',
  /** The mail relay refused. */
  'mail',
  'other',
] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

export function isFailureKind(value: string): value is FailureKind {
  return (FAILURE_KINDS as readonly string[]).includes(value);
}
