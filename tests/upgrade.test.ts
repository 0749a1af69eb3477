/**
 * Upgrading under running processes (DESIGN §8): processes start on the previous release's workflow code
 * (commit 33059e4, frozen in tests/upgrade/release-2026-11-29/), each is driven to a step where it waits
 * for a person (or an admin), the old worker stops, a worker with the current workflow code starts on the
 * same task queue, and every process is finished through the HTTP API. All real: Temporal dev server,
 * PostgreSQL, the MDM emulator, SMTP, the current activities (the old code calls them by the same names).
 *
 * A process started on the old code has no `fleet-scale-1` marker in its history, so the current code
 * replays it and goes on with the old behaviour (no task-index rows, reports answered once the next step
 * has begun); the API serves both kinds.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, type Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../activities';
import { createSmtpMailer, type SmtpMailer } from '../mail/mailer';
import {
  AssetNumberKey,
  DepartmentKey,
  LifecycleProcessKey,
  LifecycleStepKey,
  LocationKey,
  NeedsAttentionKey,
} from '../temporal/searchAttributes';
import { createLifecycleWorker } from '../worker/createWorker';
import { CHANGE_USER_WORKFLOW, INACTIVATION_WORKFLOW, workflowIdFor } from '../workflows/definitions';
import { startApiFor, TOKEN_ACTORS, TOKENS, type ApiHarness } from './support/apiHarness';
import { NEW_USER, newAssetNumber, PATIENCE_MS, SAFE_INACTIVATION_TRAIL } from './support/fixtures';
import { ADMIN_EMAILS, startHarness, workflowBundle, type Harness } from './support/lifecycleHarness';
import { SIGNATURE_PNG } from './support/pngFixture';
import type {
  ChangeUserInput as OldChangeUserInput,
  InactivationInput as OldInactivationInput,
  LifecycleState as OldLifecycleState,
  LifecycleTimings as OldLifecycleTimings,
  Step as OldStep,
} from './upgrade/release-2026-11-29/workflows/definitions';

/** The previous release: the last commit before this round (see tests/upgrade/release-2026-11-29/README.md). */
const PREVIOUS_RELEASE_WORKFLOWS = path.join(
  import.meta.dirname,
  'upgrade',
  'release-2026-11-29',
  'workflows',
  'index.ts',
);

const quiet = () => undefined;
const quietLogger = { trace: quiet, debug: quiet, info: quiet, log: quiet, warn: console.warn, error: console.error };

/** What the previous release's API put in a start: days-long reminders, fast MDM polling in tests. */
const TIMINGS: OldLifecycleTimings = {
  reminderBeforeMs: 86_400_000,
  escalateAfterMs: 2 * 86_400_000,
  taskReminderEveryMs: 3 * 86_400_000,
  wipeAckTimeoutMs: 86_400_000,
  verifyDeadlineMs: PATIENCE_MS,
  pollInitialMs: 100,
  pollMaxMs: 400,
};

const ADMIN = TOKEN_ACTORS.admin;
/** Ten processes are polled at once: a calmer interval than the default, the same deadline. */
const POLL = { interval: 250 };
// A whole PNG: the API checks a drawn signature as an image (issue 12 item 3).
const SIGNATURE = SIGNATURE_PNG;

let h: Harness;
let api: ApiHarness;
let connection: NativeConnection;
let mailer: SmtpMailer;
/** The task queue both releases' workers serve, one after the other (the harness's own worker is not on it). */
const taskQueue = `upgrade-${randomUUID()}`;

beforeAll(async () => {
  h = await startHarness();
  // Ten processes polled at once by one viewer: the per-actor rate limit is not what this test is about.
  api = await startApiFor({ db: h.db, taskQueue }, { API_RATE_LIMIT_PER_MINUTE: '100000' });
  connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  mailer = createSmtpMailer({ smtpUrl: `smtp://127.0.0.1:${h.mail.port}`, from: 'device-lifecycle@example.com' });
});

afterAll(async () => {
  await api?.close();
  mailer?.close();
  await connection?.close();
  await h?.stop();
});

type Bundle = NonNullable<Parameters<typeof createLifecycleWorker>[0]['workflowBundle']>;

/** A worker of one release on the shared task queue, with the current activities. */
async function startWorker(bundle: Bundle): Promise<{ worker: Worker; running: Promise<void> }> {
  const activities = createActivities({ db: h.db.pool, mdm: h.mdm, mail: mailer, adminEmails: ADMIN_EMAILS });
  const worker = await createLifecycleWorker({ connection, taskQueue, activities, workflowBundle: bundle });
  return { worker, running: worker.run() };
}

/** Starts a process the way the previous release's API did (id per device, search attributes, summary). */
async function startOld(
  workflowType: string,
  input: OldChangeUserInput | OldInactivationInput,
  process: 'change-user' | 'inactivation',
): Promise<WorkflowHandle> {
  return h.client.workflow.start(workflowType, {
    taskQueue,
    workflowId: workflowIdFor(input.assetNumber),
    args: [input],
    workflowIdConflictPolicy: 'FAIL',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: [
      { key: AssetNumberKey, value: input.assetNumber },
      { key: LifecycleProcessKey, value: process },
      { key: LifecycleStepKey, value: process === 'change-user' ? 'scheduled' : 'requesting-inactivation' },
      { key: DepartmentKey, value: 'Sales' },
      { key: LocationKey, value: 'Tokyo HQ' },
      { key: NeedsAttentionKey, value: false },
    ],
    staticSummary: `${process} of ${input.assetNumber} (started on the previous release)`,
  });
}

function changeUserInput(assetNumber: string, extra: Partial<OldChangeUserInput> = {}): OldChangeUserInput {
  return {
    assetNumber,
    reason: 'Leaver (started before the upgrade)',
    plannedCollectionDate: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    storageLocation: 'Tokyo HQ IT store',
    newUser: NEW_USER,
    keepRecordAfterWipe: true,
    requestedBy: { id: ADMIN, role: 'admin' },
    adminInCharge: { name: 'IT Admin', email: ADMIN_EMAILS[0], department: 'IT' },
    timings: TIMINGS,
    ...extra,
  };
}

function inactivationInput(assetNumber: string): OldInactivationInput {
  return {
    assetNumber,
    reason: 'Contract ended (started before the upgrade)',
    forced: false,
    finalStatus: 'retired',
    maxAttempts: 3,
    requestedBy: { id: ADMIN, role: 'admin' },
    timings: TIMINGS,
  };
}

// ---- the HTTP API ----

async function report(id: string, event: string, data: Record<string, unknown> = {}, token: string = TOKENS.field) {
  const res = await api.call('POST', `/api/v1/workflows/${id}/events/${event}`, { token, body: { data } });
  expect(res.status, `${event} on ${id}: ${JSON.stringify(res.body)}`).toBe(200);
  return res.body as { accepted: boolean; step: string; status: string };
}

async function adminCommand(id: string, name: 'retry' | 'cancel' | 'abort', reason: string) {
  const res = await api.call('POST', `/api/v1/workflows/${id}/${name}`, { token: TOKENS.admin, body: { reason } });
  expect(res.status, `${name} on ${id}: ${JSON.stringify(res.body)}`).toBe(200);
  return res.body as { accepted: boolean; step: string; status: string };
}

async function view(id: string) {
  const res = await api.call('GET', `/api/v1/workflows/${id}`, { token: TOKENS.viewer });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { status: string; step?: string; pendingTask?: { step: string; expects: string[] } };
}

/** Waits (through the API) until the process is at `step` with its task open for `event`. */
async function taskOpen(id: string, step: string, event: string) {
  await expect
    .poll(async () => {
      const v = await view(id);
      return v.step === step && v.status === 'running' && Boolean(v.pendingTask?.expects.includes(event));
    }, POLL)
    .toBe(true);
}

async function auditTrail(assetNumber: string): Promise<string[]> {
  const res = await api.call('GET', `/api/v1/assets/${assetNumber}`, { token: TOKENS.viewer });
  expect(res.status).toBe(200);
  return (res.body.events as { type: string }[]).map((e) => e.type).filter((t) => t !== 'asset-created');
}

// ---- the processes: parked on the old worker, finished on the current one ----

interface Scenario {
  name: string;
  assetNumber: string;
  mdmDeviceId: string;
  handle?: WorkflowHandle;
  /** Starts the process on the old worker and drives it to where it waits. */
  park(s: Scenario): Promise<void>;
  /** What the process waits at when the old worker stops (from its `state` query). */
  parked: (state: OldLifecycleState) => boolean;
  /** Finishes the process through the API, on the current worker. */
  finish(s: Scenario): Promise<void>;
  /** The audit trail once completed: every step's event exactly once, in order. */
  trail: string[];
}

const CHANGE_USER_TRAIL = [
  'collection-scheduled',
  'notice-sent',
  'device-collected',
  'returned-to-stock',
  'wipe-requested',
  'wipe-finished',
  'mdm-record-deleted',
  'device-reenrolled',
  'reenrollment-verified',
  'user-assigned',
  'notice-sent',
  'device-delivered',
  'delivery-receipt',
];

const id = (s: Scenario) => workflowIdFor(s.assetNumber);
const waitingAt = (step: OldStep) => (state: OldLifecycleState) =>
  state.status === 'running' && state.step === step && state.pendingTask?.step === step;

async function startChangeUser(s: Scenario, extra: Partial<OldChangeUserInput> = {}) {
  s.handle = await startOld(CHANGE_USER_WORKFLOW, changeUserInput(s.assetNumber, extra), 'change-user');
}
async function startInactivation(s: Scenario) {
  s.handle = await startOld(INACTIVATION_WORKFLOW, inactivationInput(s.assetNumber), 'inactivation');
}

const collect = async (s: Scenario) => {
  await taskOpen(id(s), 'awaiting-collection', 'device-collected');
  await report(id(s), 'device-collected', { collectedBy: 'Bob Field', storageLocation: 'Shelf 9' });
};
const reenrol = async (s: Scenario) => {
  await taskOpen(id(s), 'awaiting-reenrollment', 'device-reenrolled');
  await h.emulator.reEnroll(s.mdmDeviceId);
  await report(id(s), 'device-reenrolled');
};
const deliver = async (s: Scenario) => {
  await taskOpen(id(s), 'awaiting-delivery', 'device-delivered');
  await report(id(s), 'device-delivered', { receivedBy: 'Yuki New', signature: SIGNATURE });
};
const installRemovalProfile = async (s: Scenario) => {
  await taskOpen(id(s), 'awaiting-removal-profile', 'removal-profile-installed');
  await h.inactivationDelivered(s.mdmDeviceId);
  await h.emulator.installRemovalProfile(s.mdmDeviceId);
  await report(id(s), 'removal-profile-installed');
};
const removeProfiles = async (s: Scenario) => {
  await taskOpen(id(s), 'awaiting-profile-removal', 'profiles-removed');
  await h.emulator.removeProfiles(s.mdmDeviceId);
  await report(id(s), 'profiles-removed');
};
const removeApp = async (s: Scenario) => {
  await taskOpen(id(s), 'awaiting-app-removal', 'app-removed');
  await h.emulator.removeApp(s.mdmDeviceId);
  await report(id(s), 'app-removed');
};

function scenarios(): Omit<Scenario, 'assetNumber' | 'mdmDeviceId'>[] {
  return [
    {
      name: 'change user at awaiting-collection',
      park: (s) => startChangeUser(s),
      parked: waitingAt('awaiting-collection'),
      finish: async (s) => {
        await collect(s);
        await reenrol(s);
        await deliver(s);
      },
      trail: CHANGE_USER_TRAIL,
    },
    {
      name: 'change user at wiping, waiting for wipe-confirmed (the MDM never acknowledged the erase)',
      park: async (s) => {
        await h.emulator.addFault({ kind: 'stall-jobs', deviceId: s.mdmDeviceId, count: 1 });
        await startChangeUser(s, { timings: { ...TIMINGS, wipeAckTimeoutMs: 2_000 } });
        await collect(s);
      },
      parked: (state) => waitingAt('wiping')(state) && state.pendingTask?.type === 'confirm-wipe',
      finish: async (s) => {
        await taskOpen(id(s), 'wiping', 'wipe-confirmed');
        await report(id(s), 'wipe-confirmed', { note: 'the setup assistant is on screen' }, TOKENS.admin);
        await reenrol(s);
        await deliver(s);
      },
      trail: CHANGE_USER_TRAIL.map((t) => (t === 'wipe-finished' ? 'wipe-confirmed' : t)),
    },
    {
      name: 'change user at awaiting-reenrollment',
      park: async (s) => {
        await startChangeUser(s);
        await collect(s);
      },
      parked: waitingAt('awaiting-reenrollment'),
      finish: async (s) => {
        await reenrol(s);
        await deliver(s);
      },
      trail: CHANGE_USER_TRAIL,
    },
    {
      name: 'change user at awaiting-assignment (no new user given, no application waiting)',
      park: async (s) => {
        await startChangeUser(s, { newUser: undefined });
        await collect(s);
        await reenrol(s);
      },
      parked: waitingAt('awaiting-assignment'),
      finish: async (s) => {
        await taskOpen(id(s), 'awaiting-assignment', 'user-assigned');
        await report(id(s), 'user-assigned', { user: NEW_USER }, TOKENS.admin);
        await deliver(s);
      },
      // The report and the assignment each leave their event.
      trail: CHANGE_USER_TRAIL.flatMap((t) => (t === 'user-assigned' ? ['user-assigned', 'user-assigned'] : [t])),
    },
    {
      name: 'change user at awaiting-delivery',
      park: async (s) => {
        await startChangeUser(s);
        await collect(s);
        await reenrol(s);
      },
      parked: waitingAt('awaiting-delivery'),
      finish: (s) => deliver(s),
      trail: CHANGE_USER_TRAIL,
    },
    {
      name: 'change user in needs-attention (the MDM refused the wipe)',
      park: async (s) => {
        await h.emulator.addFault({
          kind: 'error',
          status: 403,
          count: 1,
          method: 'POST',
          pathPrefix: `/devices/${s.mdmDeviceId}/commands`,
        });
        await startChangeUser(s);
        await collect(s);
      },
      parked: (state) => state.status === 'needs-attention' && state.failedStep === 'wiping',
      finish: async (s) => {
        await expect.poll(async () => (await view(id(s))).step, POLL).toBe('needs-attention');
        await adminCommand(id(s), 'retry', 'the MDM accepts commands again');
        await reenrol(s);
        await deliver(s);
      },
      trail: CHANGE_USER_TRAIL.flatMap((t) => (t === 'wipe-requested' ? ['needs-attention', 'retry', t] : [t])),
    },
    {
      name: 'inactivation at awaiting-removal-profile',
      park: (s) => startInactivation(s),
      parked: waitingAt('awaiting-removal-profile'),
      finish: async (s) => {
        await installRemovalProfile(s);
        await removeProfiles(s);
        await removeApp(s);
      },
      trail: SAFE_INACTIVATION_TRAIL,
    },
    {
      name: 'inactivation at awaiting-profile-removal',
      park: async (s) => {
        await startInactivation(s);
        await installRemovalProfile(s);
      },
      parked: waitingAt('awaiting-profile-removal'),
      finish: async (s) => {
        await removeProfiles(s);
        await removeApp(s);
      },
      trail: SAFE_INACTIVATION_TRAIL,
    },
    {
      name: 'inactivation at awaiting-app-removal',
      park: async (s) => {
        await startInactivation(s);
        await installRemovalProfile(s);
        await removeProfiles(s);
      },
      parked: waitingAt('awaiting-app-removal'),
      finish: (s) => removeApp(s),
      trail: SAFE_INACTIVATION_TRAIL,
    },
    {
      name: 'inactivation at awaiting-reenrollment (the removal profile failed)',
      park: async (s) => {
        await startInactivation(s);
        await taskOpen(id(s), 'awaiting-removal-profile', 'profile-removal-failed');
        await h.inactivationDelivered(s.mdmDeviceId);
        await h.emulator.failRemovalProfile(s.mdmDeviceId);
        await report(id(s), 'profile-removal-failed', { reason: 'the install screen never appeared' });
      },
      parked: waitingAt('awaiting-reenrollment'),
      finish: async (s) => {
        await taskOpen(id(s), 'awaiting-reenrollment', 'device-reenrolled');
        s.mdmDeviceId = (await h.emulator.reEnroll(s.mdmDeviceId)).newDeviceId;
        await report(id(s), 'device-reenrolled', { mdmDeviceId: s.mdmDeviceId });
        await installRemovalProfile(s);
        await removeProfiles(s);
        await removeApp(s);
      },
      trail: [
        'inactivation-requested',
        'profile-removal-failed',
        'device-reenrolled',
        'reenrollment-verified',
        ...SAFE_INACTIVATION_TRAIL,
      ],
    },
  ];
}

/** Patch markers in a history: none in a process started on code that had no patches. */
async function patchMarkers(handle: WorkflowHandle): Promise<number> {
  const { events } = await handle.fetchHistory();
  return (events ?? []).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch').length;
}

async function activityTypes(handle: WorkflowHandle): Promise<string[]> {
  const { events } = await handle.fetchHistory();
  return (events ?? []).flatMap((e) => {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    return name ? [name] : [];
  });
}

describe('upgrade from the previous release (33059e4) under running processes', () => {
  it(
    'processes parked at every human step on the old code are finished through the API on the current code',
    { timeout: 4 * PATIENCE_MS },
    async () => {
      const oldBundle = await bundleWorkflowCode({ workflowsPath: PREVIOUS_RELEASE_WORKFLOWS, logger: quietLogger });
      const currentBundle = await workflowBundle();
      const all: Scenario[] = [];
      for (const sc of scenarios()) {
        const assetNumber = newAssetNumber();
        const { mdmDeviceId } = await h.seedDevice({ assetNumber });
        all.push({ ...sc, assetNumber, mdmDeviceId });
      }

      // The previous release runs them up to their waiting step.
      const old = await startWorker(oldBundle);
      await Promise.all(
        all.map(async (s) => {
          await s.park(s);
          await h.waitForState(s.handle!, (state) => s.parked(state as unknown as OldLifecycleState));
        }),
      );
      old.worker.shutdown();
      await old.running;
      expect(old.worker.getState()).toBe('STOPPED');

      // Each was started by the old code: no patch marker (the current code starts every run with one),
      // and change-user loaded its asset in an activity of its own, as only the old code does.
      for (const s of all) {
        expect(await patchMarkers(s.handle!), s.name).toBe(0);
        if (s.name.startsWith('change user')) {
          expect(await activityTypes(s.handle!), s.name).toContain('loadAsset');
        }
      }

      // The current release takes over the same task queue; the API finishes each process.
      const current = await startWorker(currentBundle);
      try {
        await Promise.all(
          all.map(async (s) => {
            await s.finish(s);
            await expect.poll(async () => (await view(id(s))).status, { ...POLL, message: s.name }).toBe('completed');
          }),
        );
        for (const s of all) {
          const result = (await s.handle!.result()) as OldLifecycleState;
          expect(result.status, s.name).toBe('completed');
          // Still the old behaviour after the upgrade: no marker was added while the current code ran it.
          expect(await patchMarkers(s.handle!), s.name).toBe(0);
          expect(await auditTrail(s.assetNumber), s.name).toEqual(s.trail);
        }
      } finally {
        current.worker.shutdown();
        await current.running;
      }
    },
  );
});
