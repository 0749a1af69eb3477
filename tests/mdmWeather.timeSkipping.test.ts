/**
 * The MDM in bad weather (issue 10), on real parts: the Java time-skipping Temporal test server, the real
 * activities on real PostgreSQL, and the MDM emulator over HTTP with its outage mode and fault rules. An
 * outage of minutes of workflow time is ridden out by the workflow's own weather timers (no needs-attention),
 * a Retry-After of 120 s is honoured, and a command outage longer than MDM_OUTAGE_TOLERANCE parks the process.
 *
 * The emulator's jobs take an hour per step on its own clock (`jobStepMs`), so a job stays unfinished however
 * much workflow time passes, until the test moves the emulator clock on: the outage is always in the middle.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterEach, describe, expect, it } from 'vitest';
import * as tasksRepo from '../db/tasksRepo';
import type { RecordedRequest } from '../mdm/emulatorControl';
import {
  adminUpdates,
  DEFAULT_LIMITS,
  reportUpdates,
  stateQuery,
  type LifecycleState,
  type LifecycleTimings,
  type MdmWeather,
} from '../workflows/definitions';
import {
  changeUserInput,
  command,
  DAY_MS,
  FAST_TIMINGS,
  inactivationInput,
  newAssetNumber,
  PATIENCE_MS,
  report,
} from './support/fixtures';
import { useHarness } from './support/suite';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const h = useHarness({ timeSkipping: true, jobStepMs: HOUR });

/**
 * Polls that stay few while minutes of workflow time are skipped, and a verification deadline no outage in
 * these tests reaches (the job finishes only when the test moves the emulator clock on).
 */
const TIMINGS: LifecycleTimings = {
  ...FAST_TIMINGS,
  pollInitialMs: 1_000,
  pollMaxMs: MINUTE,
  verifyDeadlineMs: DAY_MS,
};

const started: WorkflowHandle[] = [];

afterEach(async () => {
  await h.emulator.endOutage();
  for (const handle of started.splice(0)) {
    const { status } = await handle.describe();
    if (status.name === 'RUNNING') await handle.terminate('test over');
  }
});

const serverNow = (): Promise<number> => h.timeSkipping!.env.currentTimeMs();

/** Lets workflow time pass on the test server (its timers fire meanwhile). */
const skip = (ms: number): Promise<void> => h.timeSkipping!.env.sleep(ms);

/** Waits (real time, PATIENCE_MS at most) until `probe` returns a value. */
async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + PATIENCE_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not seen in ${PATIENCE_MS} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const answered = (r: RecordedRequest) => r.status >= 200 && r.status < 300;

/** The command requests the MDM accepted for this device (POST /devices/{id}/commands, 2xx). */
async function acceptedCommands(deviceId: string): Promise<RecordedRequest[]> {
  const path = `/devices/${deviceId}/commands`;
  return (await h.emulator.requests({ method: 'POST', pathPrefix: path })).filter(
    (r) => r.path === path && answered(r),
  );
}

/** Waits until the MDM has accepted a command for the device. */
const commandAccepted = (deviceId: string) =>
  until(`a command accepted for ${deviceId}`, async () => {
    const accepted = await acceptedCommands(deviceId);
    return accepted.length > 0 ? accepted : undefined;
  });

/**
 * Skips workflow time, a minute at a time, until the state satisfies `done`; every state seen on the way
 * must be `running` (the outage never parks it) unless `parkingAllowed`.
 */
async function skipUntil(
  handle: WorkflowHandle,
  done: (s: LifecycleState, now: number) => boolean,
  opts: { parkingAllowed?: boolean } = {},
): Promise<LifecycleState> {
  return until('workflow state while time passes', async () => {
    const state = await handle.query(stateQuery);
    if (!opts.parkingAllowed) expect(state.status, JSON.stringify(state.lastError)).toBe('running');
    if (done(state, await serverNow())) return state;
    await skip(MINUTE);
    return undefined;
  });
}

/** Weather with at least `tries` failed tries and more than `minutes` of workflow time since it began. */
const longWeather = (tries: number, minutes: number) => (s: LifecycleState, now: number) =>
  s.mdmWeather !== undefined && s.mdmWeather.tries >= tries && now - Date.parse(s.mdmWeather.since) > minutes * MINUTE;

/** Skips workflow time to just past the weather's next try. */
async function skipToNextTry(weather: MdmWeather): Promise<void> {
  await skip(Math.max(0, Date.parse(weather.nextTryAt) - (await serverNow())) + 1_000);
}

/** The workflow's history as JSON (event types as EVENT_TYPE_..., times as ISO strings). */
interface HistoryEvent {
  eventId: string;
  eventTime: string;
  eventType: string;
  activityTaskScheduledEventAttributes?: { activityType: { name: string } };
  activityTaskStartedEventAttributes?: { scheduledEventId: string };
  activityTaskFailedEventAttributes?: { scheduledEventId: string };
  timerStartedEventAttributes?: { startToFireTimeout: string };
}

async function historyOf(handle: WorkflowHandle): Promise<HistoryEvent[]> {
  return (JSON.parse(historyToJSON(await handle.fetchHistory())) as { events: HistoryEvent[] }).events;
}

describe('the MDM in bad weather, on a time-skipping Temporal server', () => {
  it('rides out minutes of MDM outage in the middle of a wipe poll, then completes with one wipe', async () => {
    const assetNumber = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber });
    const handle = await h.startChangeUser(changeUserInput(assetNumber, { timings: TIMINGS }));
    started.push(handle);
    await h.waitForStep(handle, 'awaiting-collection');
    await handle.executeUpdate(reportUpdates['device-collected'], { args: [report({ collectedBy: 'Bob' })] });

    // The wipe reached the MDM; its job is queued there (an hour per step on the emulator clock).
    await commandAccepted(mdmDeviceId);
    await h.waitForState(handle, (s) => s.step === 'wiping');
    await h.emulator.startOutage({ mode: 'unavailable' });

    const waiting = await skipUntil(handle, longWeather(4, 5));
    expect(waiting).toMatchObject({
      status: 'running',
      step: 'wiping',
      mdmWeather: { step: 'wiping', activity: 'getMdmJobState', error: expect.stringMatching(/getMdmJobState/) },
    });
    expect(waiting.mdmWeather?.givesUpAt).toBeUndefined(); // a poll never gives up
    expect(Date.parse(waiting.mdmWeather!.nextTryAt)).toBeGreaterThan(Date.parse(waiting.mdmWeather!.since));

    await h.emulator.endOutage();
    await h.emulator.advanceClock(3 * HOUR); // the wipe finishes on the MDM
    await skipToNextTry(waiting.mdmWeather!);
    const reenrol = await h.waitForStep(handle, 'awaiting-reenrollment');
    expect(reenrol.mdmWeather).toBeUndefined();
    expect(reenrol.notes.join('\n')).toMatch(/The MDM answered again after \d+ failed tries/);

    await h.emulator.reEnroll(mdmDeviceId);
    await handle.executeUpdate(reportUpdates['device-reenrolled'], { args: [report()] });
    await h.waitForStep(handle, 'awaiting-delivery');
    await handle.executeUpdate(reportUpdates['device-delivered'], {
      args: [report({ receivedBy: 'Yuki New', signature: 'data:image/png;base64,iVBORw0KGgo=' })],
    });
    const final: LifecycleState = await handle.result();
    expect(final.status).toBe('completed');

    expect(await acceptedCommands(mdmDeviceId)).toHaveLength(1);
    const deletes = await h.emulator.requests({ method: 'DELETE', pathPrefix: `/devices/${mdmDeviceId}` });
    expect(deletes.filter(answered)).toHaveLength(1);
    const types = await h.eventTypes(assetNumber);
    expect(types.filter((t) => t === 'wipe-requested')).toHaveLength(1);
    expect(types).toContain('wipe-finished');
    expect(types).not.toContain('needs-attention');

    // In workflow time: the poll failed again and again, each try after a weather timer, and the read that
    // answered came minutes after the first failure.
    const events = await historyOf(handle);
    const polls = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType.name === 'getMdmJobState');
    const failedPolls = events.filter((e) =>
      polls.some((p) => p.eventId === e.activityTaskFailedEventAttributes?.scheduledEventId),
    );
    expect(failedPolls.length).toBeGreaterThanOrEqual(4);
    const answeredPoll = polls.find((p) => Number(p.eventId) > Number(failedPolls.at(-1)!.eventId));
    expect(Date.parse(answeredPoll!.eventTime) - Date.parse(failedPolls[0].eventTime)).toBeGreaterThan(5 * MINUTE);
  });

  it('rides out minutes of MDM outage in the middle of an inactivation request, then completes with one command', async () => {
    const assetNumber = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber });
    await h.emulator.startOutage({ mode: 'unavailable' });
    const handle = await h.startInactivation(
      inactivationInput(assetNumber, { forced: true, acknowledgeProfileStays: true, timings: TIMINGS }),
    );
    started.push(handle);

    const waiting = await skipUntil(handle, longWeather(4, 5));
    const weather = waiting.mdmWeather!;
    expect(waiting).toMatchObject({ status: 'running', step: 'requesting-inactivation' });
    expect(weather).toMatchObject({ step: 'requesting-inactivation', activity: 'requestInactivation' });
    // A command gives up after MDM_OUTAGE_TOLERANCE (default a day) since the spell began.
    expect(Date.parse(weather.givesUpAt!) - Date.parse(weather.since)).toBe(DAY_MS);
    expect(await acceptedCommands(mdmDeviceId)).toEqual([]);

    await h.emulator.endOutage();
    await skipToNextTry(weather);
    await commandAccepted(mdmDeviceId);
    await h.emulator.advanceClock(3 * HOUR); // the inactivation finishes on the MDM
    const final: LifecycleState = await handle.result();
    expect(final.status).toBe('completed');
    expect(final.mdmWeather).toBeUndefined();

    expect(await acceptedCommands(mdmDeviceId)).toHaveLength(1);
    const types = await h.eventTypes(assetNumber);
    expect(types.filter((t) => t === 'forced-inactivation-requested')).toHaveLength(1);
    expect(types).not.toContain('needs-attention');
  });

  it('honours Retry-After: 120 on a command: the next attempt comes no earlier in workflow time', async () => {
    const assetNumber = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber });
    const commandsPath = `/devices/${mdmDeviceId}/commands`;
    await h.emulator.addFault({
      kind: 'error',
      status: 429,
      retryAfterSeconds: 120,
      count: 1,
      method: 'POST',
      pathPrefix: commandsPath,
    });
    const handle = await h.startInactivation(
      inactivationInput(assetNumber, { forced: true, acknowledgeProfileStays: true, timings: TIMINGS }),
    );
    started.push(handle);

    const waiting = await h.waitForState(handle, (s) => s.mdmWeather !== undefined);
    const weather = waiting.mdmWeather!;
    expect(weather).toMatchObject({ activity: 'requestInactivation', tries: 1 });
    expect(Date.parse(weather.nextTryAt) - Date.parse(weather.since)).toBeGreaterThanOrEqual(120_000);

    await skipToNextTry(weather);
    await commandAccepted(mdmDeviceId);
    await h.emulator.advanceClock(3 * HOUR);
    const final: LifecycleState = await handle.result();
    expect(final.status).toBe('completed');

    const throttled = await h.emulator.requests({ method: 'POST', pathPrefix: commandsPath });
    expect(throttled.map((r) => r.status).filter((s) => s === 429)).toHaveLength(1);
    expect(await acceptedCommands(mdmDeviceId)).toHaveLength(1);

    // The history, in workflow time: the failed attempt, a timer of at least 120 s, the next attempt.
    const events = await historyOf(handle);
    const at = (e: HistoryEvent) => Date.parse(e.eventTime);
    const scheduled = events.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType.name === 'requestInactivation',
    );
    expect(scheduled).toHaveLength(2);
    const [first, second] = scheduled;
    const failed = events.find((e) => e.activityTaskFailedEventAttributes?.scheduledEventId === first.eventId);
    const secondStarted = events.find((e) => e.activityTaskStartedEventAttributes?.scheduledEventId === second.eventId);
    expect(failed, 'the first attempt failed').toBeDefined();
    expect(secondStarted, 'the second attempt started').toBeDefined();
    expect(at(second) - at(failed!)).toBeGreaterThanOrEqual(120_000);
    expect(at(secondStarted!) - at(failed!)).toBeGreaterThanOrEqual(120_000);
    const timers = events.filter(
      (e) => e.timerStartedEventAttributes && Number(e.eventId) > Number(failed!.eventId) && at(e) <= at(second),
    );
    expect(timers).toHaveLength(1);
    expect(parseFloat(timers[0].timerStartedEventAttributes!.startToFireTimeout) * 1000).toBeGreaterThanOrEqual(
      120_000,
    );
    expect(await h.eventTypes(assetNumber)).not.toContain('needs-attention');
  });

  it('parks a command beyond MDM_OUTAGE_TOLERANCE, and completes after the outage and an admin retry', async () => {
    const assetNumber = newAssetNumber();
    const { mdmDeviceId } = await h.seedDevice({ assetNumber });
    await h.emulator.startOutage({ mode: 'refuse' });
    const handle = await h.startInactivation(
      inactivationInput(assetNumber, {
        forced: true,
        acknowledgeProfileStays: true,
        timings: TIMINGS,
        limits: { ...DEFAULT_LIMITS, mdmOutageToleranceMs: 10 * MINUTE },
      }),
    );
    started.push(handle);

    const first = await h.waitForState(handle, (s) => s.mdmWeather !== undefined);
    const since = Date.parse(first.mdmWeather!.since);
    expect(Date.parse(first.mdmWeather!.givesUpAt!) - since).toBe(10 * MINUTE);

    // Running while the outage is shorter than the tolerance; needs attention once it is longer.
    const parked = await skipUntil(
      handle,
      (s, now) => {
        if (now - since < 10 * MINUTE) expect(s.status).toBe('running');
        return s.status === 'needs-attention';
      },
      { parkingAllowed: true },
    );
    expect(await serverNow()).toBeGreaterThanOrEqual(since + 10 * MINUTE);
    expect(parked).toMatchObject({ step: 'needs-attention', failedStep: 'requesting-inactivation' });
    expect(parked.lastError).toMatch(/MDM_OUTAGE_TOLERANCE/);
    expect(parked.lastError).toMatch(/requestInactivation/);
    expect(parked.mdmWeather).toBeUndefined();
    const decision = await until('the admin decision in the task index', async () => {
      const task = await tasksRepo.get(h.db.pool, handle.workflowId);
      return task?.type === 'admin-decision' ? task : undefined;
    });
    expect(decision).toMatchObject({ failedStep: 'requesting-inactivation', errorKind: 'mdm-outage' });
    expect(decision.lastError).toMatch(/MDM_OUTAGE_TOLERANCE/);
    expect(await acceptedCommands(mdmDeviceId)).toEqual([]);

    await h.emulator.endOutage();
    await handle.executeUpdate(adminUpdates.retry, { args: [command('the MDM is back')] });
    await commandAccepted(mdmDeviceId);
    await h.emulator.advanceClock(3 * HOUR);
    const final: LifecycleState = await handle.result();
    expect(final.status).toBe('completed');
    expect(await acceptedCommands(mdmDeviceId)).toHaveLength(1);
    const types = await h.eventTypes(assetNumber);
    expect(types.filter((t) => t === 'needs-attention')).toHaveLength(1);
    expect(types.filter((t) => t === 'forced-inactivation-requested')).toHaveLength(1);
  });
});
