/**
 * The activity stubs every lifecycle workflow uses. Timeouts are sized per kind of work: an activity
 * that only touches the database answers in milliseconds, so a lost task is retried after seconds, not
 * minutes; mail relays and the MDM get room for their own timeouts and retries. Retry policy: a few quick
 * retries for transient trouble (the MDM adapter already waits out 429s), then the step goes to
 * needs-attention. Changing these options changes no history command, so running processes keep replaying.
 */
import { proxyActivities, type ActivityFunctionWithOptions, type ActivityOptions } from '@temporalio/workflow';
import type { LifecycleActivities } from '../activities/contracts';

const retry: ActivityOptions['retry'] = {
  initialInterval: '2 seconds',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 5,
};

/** Database reads and writes only. */
const databaseWork: ActivityOptions = { startToCloseTimeout: '20 seconds', retry };
/** A database write and a mail to send (SMTP relays can be slow to answer). */
const databaseAndMail: ActivityOptions = { startToCloseTimeout: '45 seconds', retry };
/** MDM calls: the HTTP client's own timeout (MDM_TIMEOUT_MS) and its waits for Retry-After fit inside. */
const mdmWork: ActivityOptions = { startToCloseTimeout: '90 seconds', retry };

type Fn = keyof LifecycleActivities;

export const activityOptionsFor: Record<Fn, ActivityOptions> = {
  loadAsset: databaseWork,
  recordEvent: databaseWork,
  openTask: databaseWork,
  returnToStock: databaseWork,
  claimApplication: databaseWork,
  recordDelivery: databaseWork,
  finishInactivation: databaseWork,
  sendNotice: databaseAndMail,
  sendDeviceInstructions: databaseAndMail,
  retireAsReset: databaseWork,
  undoPlanned: databaseWork,
  scheduleCollection: databaseAndMail,
  assignUser: databaseAndMail,
  requestWipe: mdmWork,
  getMdmJobState: mdmWork,
  deleteFromMdm: mdmWork,
  verifyEnrollment: mdmWork,
  requestInactivation: mdmWork,
  getDeviceState: mdmWork,
  getDeviceProfiles: mdmWork,
};

const acts = proxyActivities<LifecycleActivities>(databaseWork);

/**
 * For the workflow's own bookkeeping (audit records of reports, rejections, admin decisions, the task
 * index): these must not give up during a database outage, since there is no step to park; they retry
 * until it is back.
 */
export const bookkeeping = proxyActivities<Pick<LifecycleActivities, 'recordEvent' | 'openTask'>>({
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

/** The activities that talk to the MDM: commands change the device, reads only look. */
export const MDM_COMMANDS = ['requestWipe', 'requestInactivation', 'deleteFromMdm'] as const;
export const MDM_READS = ['getMdmJobState', 'getDeviceState', 'getDeviceProfiles', 'verifyEnrollment'] as const;
export type MdmActivity = (typeof MDM_COMMANDS)[number] | (typeof MDM_READS)[number];

/**
 * From mdm-weather-1 on, an MDM that is down or throttling is not retried by Temporal's policy but by the
 * workflow (Lifecycle.parkOnFailure), which honours Retry-After with a timer, shows the wait in the
 * process's details and keeps going for as long as MDM_OUTAGE_TOLERANCE allows. Other failures (the
 * database, a lost worker) keep the quick retries.
 */
export const MDM_WEATHER_FAILURES = [
  'Mdm.rate_limited',
  'Mdm.unavailable',
  'Mdm.timeout',
  'Mdm.network',
  // An earlier attempt's command still open on an MDM that cannot cancel it: wait it out.
  'Mdm.command_pending',
];

/** Calls an MDM activity the mdm-weather-1 way: weather failures come back to the workflow at once. */
export function callMdm<K extends MdmActivity>(
  name: K,
  summary: string,
  ...args: Parameters<LifecycleActivities[K]>
): Promise<Awaited<ReturnType<LifecycleActivities[K]>>> {
  const options = activityOptionsFor[name];
  const retry = { ...options.retry, nonRetryableErrorTypes: MDM_WEATHER_FAILURES };
  return execute(name, { ...options, retry, summary }, args);
}

/**
 * A truth check read while a reporter waits for the answer (an Update handler): one short try; when the
 * MDM cannot answer now the report is taken and the step checks again with the usual patience.
 */
export function callCheck<K extends MdmActivity>(
  name: K,
  summary: string,
  ...args: Parameters<LifecycleActivities[K]>
): Promise<Awaited<ReturnType<LifecycleActivities[K]>>> {
  return execute(name, { startToCloseTimeout: '20 seconds', retry: { maximumAttempts: 1 }, summary }, args);
}

/** Calls an activity with a one-line summary, shown next to it in the Temporal Web UI. */
export function call<K extends Fn>(
  name: K,
  summary: string,
  ...args: Parameters<LifecycleActivities[K]>
): Promise<Awaited<ReturnType<LifecycleActivities[K]>>> {
  return execute(name, { ...activityOptionsFor[name], summary }, args);
}

/** The one place an activity is scheduled with per-call options (the three ways above differ only there). */
function execute<K extends Fn>(
  name: K,
  options: ActivityOptions,
  args: Parameters<LifecycleActivities[K]>,
): Promise<Awaited<ReturnType<LifecycleActivities[K]>>> {
  const stub = acts[name] as unknown as ActivityFunctionWithOptions<LifecycleActivities[K]>;
  return stub.executeWithOptions(options, args);
}
