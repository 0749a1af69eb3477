/**
 * Everything a workflow test needs, all real: a fresh migrated PostgreSQL database, the MDM emulator over
 * HTTP on its own port with its own data folder, an SMTP sink, a worker on a unique task queue against the
 * shared Temporal dev server (or a private time-skipping server), and the adapters the worker uses.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  type Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { inject } from 'vitest';
import { createActivities } from '../../activities';
import type { LifecycleActivities } from '../../activities/contracts';
import * as assetsRepo from '../../db/assetsRepo';
import type { AssetInput } from '../../db/types';
import { createSmtpMailer } from '../../mail/mailer';
import { startSmtpSink, type SmtpSink } from '../../mail/smtpSink';
import { createEmulatorControl, type EmulatorControl } from '../../mdm/emulatorControl';
import { createHttpMdm } from '../../mdm/httpAdapter';
import { createPacedMdm } from '../../mdm/pacedMdm';
import { createMdmCallLimiter, type MdmPacingOptions } from '../../mdm/pacing';
import type { MdmPort } from '../../mdm/port';
import { createMdmEmulator, type RunningEmulator } from '../../mdmEmulator/server';
import { freePort } from '../../scripts/freePort';
import { startTimeSkippingEnv, type TimeSkippingEnv } from '../../scripts/temporal/timeSkippingServer';
import * as eventsRepo from '../../db/assetEventsRepo';
import {
  CHANGE_USER_WORKFLOW,
  INACTIVATION_WORKFLOW,
  stateQuery,
  workflowIdFor,
  type ChangeUserInput,
  type InactivationInput,
  type LifecycleState,
  type Step,
} from '../../workflows/definitions';
import { createLifecycleWorker, PRELOADED_MODULES, workflowsPath } from '../../worker/createWorker';
import { dataConverterFor, failureConverterPath } from '../../temporal/codecDataConverter';
import type { PayloadKey } from '../../temporal/payloadEncryptionSettings';
import { PATIENCE_MS } from './patience';
import { createTestDatabase, type TestDatabase } from './postgres';

export const MDM_KEY = 'test-mdm-key';
export const ADMIN_EMAILS = ['it-admins@example.com'];

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
let encodingBundle: Promise<WorkflowBundleWithSourceMap> | undefined;
let runtimeInstalled = false;

/** Worker logs at WARN: activity failures the tests provoke on purpose would otherwise drown the output. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // already installed by another harness in this process
  }
}

/**
 * A worker a test can stop and start again on the same task queue, as a crash or a deploy would:
 * `restart` waits until the old one has stopped, runs `whileDown` (e.g. send a report meanwhile), then
 * starts a fresh one.
 */
export async function restartableWorker(create: () => Promise<Worker>) {
  let worker = await create();
  let running = worker.run();
  return {
    get current() {
      return worker;
    },
    async restart(whileDown?: () => Promise<void>) {
      worker.shutdown();
      await running;
      await whileDown?.();
      worker = await create();
      running = worker.run();
    },
    async stop() {
      worker.shutdown();
      await running.catch(() => undefined);
    },
  };
}

/** Bundled once per test file: webpack takes seconds. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath, preloadModules: PRELOADED_MODULES, logger: quietLogger });
  return bundle;
}

/** The bundle as the worker process builds it: workflow failures encoded (temporal/codecDataConverter.ts). */
export function encodingWorkflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  encodingBundle ??= bundleWorkflowCode({
    workflowsPath,
    failureConverterPath,
    preloadModules: PRELOADED_MODULES,
    logger: quietLogger,
  });
  return encodingBundle;
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, log: noop, warn: console.warn, error: console.error };

export interface Harness {
  db: TestDatabase;
  client: Client;
  taskQueue: string;
  mdm: MdmPort;
  emulator: EmulatorControl;
  emulatorUrl: string;
  /** The SMTP sink; `waitFor` waits PATIENCE_MS unless told otherwise. */
  mail: SmtpSink;
  timeSkipping?: TimeSkippingEnv;
  worker: Worker;
  /** Stops the worker (as a crash or a deploy would) and starts a fresh one on the same task queue. */
  restartWorker(whileDown?: () => Promise<void>): Promise<void>;
  /** Creates the asset in the database and enrols the device in the emulator (same serial, linked ids). */
  seedDevice(input: Partial<AssetInput> & { assetNumber: string }): Promise<{ mdmDeviceId: string }>;
  /**
   * Starts the workflow on this harness's worker, as `device-<asset>-<random>`: the id of a device plus a
   * suffix, so a test can start several runs for one asset and reruns never meet an old one.
   */
  startChangeUser(input: ChangeUserInput): Promise<WorkflowHandle>;
  startInactivation(input: InactivationInput): Promise<WorkflowHandle>;
  /** The asset's audit trail (event types, oldest first), as the database holds it. */
  eventTypes(assetNumber: string): Promise<string[]>;
  /** Polls the workflow's state query until `predicate` holds (deadline PATIENCE_MS unless given). */
  waitForState(
    handle: WorkflowHandle,
    predicate: (s: LifecycleState) => boolean,
    timeoutMs?: number,
  ): Promise<LifecycleState>;
  waitForStep(handle: WorkflowHandle, step: Step, timeoutMs?: number): Promise<LifecycleState>;
  /**
   * Waits until the MDM has delivered the device's latest inactivation (job acknowledged): only then
   * does the device user get the push that lets them install the removal profile.
   */
  inactivationDelivered(deviceId: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  timeSkipping?: boolean;
  jobStepMs?: number;
  /** Wraps the real activities, e.g. to fail one after it has written (a crash between commit and reply). */
  wrapActivities?: (real: LifecycleActivities) => LifecycleActivities;
  /** A Temporal server of the test's own (host:port) instead of the shared dev server. */
  temporalAddress?: string;
  /**
   * Paces every MDM call of the harness, the worker's and the test's own (`mdm`), through a limiter on the
   * test's database as the worker does (mdm/pacing.ts). The adapter then makes one attempt per call, so each
   * request the MDM sees had its own slot.
   */
  mdmPacing?: MdmPacingOptions;
  /** The language of the device user's instruction mails (MAIL_LANGUAGE); default en. */
  mailLanguage?: 'en' | 'ja';
  /**
   * The MDM port of the worker and the test instead of the emulator's (e.g. the NanoMDM adapter of
   * tests/support/nanomdmFixture.ts); the emulator still runs, unused. Not with mdmPacing.
   */
  mdm?: MdmPort;
  /**
   * Payloads encrypted with these keys (PAYLOAD_ENCRYPTION_KEYS / _KEY_ID) by the harness's client and worker,
   * failures encoded, workflows bundled as the worker process bundles them; dev server only.
   */
  payloadEncryption?: { keys: PayloadKey[]; currentKeyId: string };
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  quietRuntime();
  const db = await createTestDatabase();
  const emulatorDir = mkdtempSync(path.join(os.tmpdir(), 'mdm-emulator-'));
  const running: RunningEmulator = await createMdmEmulator({
    apiKey: MDM_KEY,
    dataDir: emulatorDir,
    jobStepMs: opts.jobStepMs ?? 50,
  }).listen(0);
  const httpMdm = createHttpMdm({
    baseUrl: running.url,
    apiKey: MDM_KEY,
    timeoutMs: 5_000,
    maxAttempts: opts.mdmPacing ? 1 : 3,
    baseBackoffMs: 50,
  });
  const mdm =
    opts.mdm ?? (opts.mdmPacing ? createPacedMdm(httpMdm, createMdmCallLimiter(db.pool, opts.mdmPacing)) : httpMdm);
  const emulator = createEmulatorControl({ baseUrl: running.url, apiKey: MDM_KEY });
  const mail = await startSmtpSink({ port: 0 });
  const mailer = createSmtpMailer({ smtpUrl: `smtp://127.0.0.1:${mail.port}`, from: 'device-lifecycle@example.com' });

  let timeSkipping: TimeSkippingEnv | undefined;
  let client: Client;
  let connection: NativeConnection;
  let clientConnection: Connection | undefined;
  const encryption = opts.payloadEncryption;
  if (encryption && opts.timeSkipping) throw new Error('payloadEncryption is for the dev server harness only');
  const dataConverter = encryption
    ? dataConverterFor({
        NODE_ENV: 'test',
        PAYLOAD_ENCRYPTION_KEYS: encryption.keys,
        PAYLOAD_ENCRYPTION_KEY_ID: encryption.currentKeyId,
      })
    : undefined;
  if (opts.timeSkipping) {
    timeSkipping = await startTimeSkippingEnv(await freePort());
    client = timeSkipping.env.client;
    connection = timeSkipping.env.nativeConnection;
  } else {
    const address = opts.temporalAddress ?? inject('temporalAddress');
    clientConnection = await Connection.connect({ address });
    client = new Client({ connection: clientConnection, ...(dataConverter ? { dataConverter } : {}) });
    connection = await NativeConnection.connect({ address });
  }
  const taskQueue = `test-${randomUUID()}`;
  const real = createActivities({
    db: db.pool,
    mdm,
    mail: mailer,
    adminEmails: ADMIN_EMAILS,
    mailLanguage: opts.mailLanguage,
  });
  const activities = opts.wrapActivities ? opts.wrapActivities(real) : real;
  const newWorker = async () =>
    createLifecycleWorker({
      connection,
      taskQueue,
      activities,
      workflowBundle: await (dataConverter ? encodingWorkflowBundle() : workflowBundle()),
      dataConverter,
    });
  const worker = await restartableWorker(newWorker);

  const waitForState: Harness['waitForState'] = async (handle, predicate, timeoutMs = PATIENCE_MS) => {
    const deadline = Date.now() + timeoutMs;
    let last: LifecycleState | undefined;
    while (Date.now() < deadline) {
      last = await handle.query(stateQuery).catch(() => last);
      if (last && predicate(last)) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `workflow state did not match in ${timeoutMs} ms; last: ${JSON.stringify(last && { step: last.step, status: last.status, lastError: last.lastError })}`,
    );
  };

  const start = (workflowType: string, input: ChangeUserInput | InactivationInput) =>
    client.workflow.start(workflowType, {
      taskQueue,
      workflowId: `${workflowIdFor(input.assetNumber)}-${randomUUID().slice(0, 6)}`,
      args: [input],
    });

  return {
    db,
    client,
    taskQueue,
    mdm,
    emulator,
    emulatorUrl: running.url,
    mail: { ...mail, waitFor: (predicate, timeoutMs = PATIENCE_MS) => mail.waitFor(predicate, timeoutMs) },
    timeSkipping,
    get worker() {
      return worker.current;
    },
    restartWorker: worker.restart,
    async seedDevice(input) {
      const serialNumber = input.serialNumber ?? `SN-${input.assetNumber}-${randomUUID().slice(0, 8)}`;
      const model = input.model ?? 'iPhone 15';
      const device = await mdm.registerDevice({
        serialNumber,
        model,
        assetNumber: input.assetNumber,
        idempotencyKey: `seed-${serialNumber}`,
      });
      await assetsRepo.upsert(db.pool, {
        department: 'Sales',
        location: 'Tokyo HQ',
        status: 'in_use',
        userName: 'Xavier Old',
        userEmail: 'x.old@example.com',
        userPhone: '+81 3 1234 5678',
        ...input,
        serialNumber,
        model,
        mdmDeviceId: device.id,
      });
      return { mdmDeviceId: device.id };
    },
    startChangeUser: (input) => start(CHANGE_USER_WORKFLOW, input),
    startInactivation: (input) => start(INACTIVATION_WORKFLOW, input),
    async eventTypes(assetNumber) {
      return (await eventsRepo.listForAsset(db.pool, assetNumber)).map((e) => e.eventType);
    },
    waitForState,
    waitForStep: (handle, step, timeoutMs) => waitForState(handle, (s) => s.step === step, timeoutMs),
    async inactivationDelivered(deviceId, timeoutMs = PATIENCE_MS) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const latest = (await emulator.jobs()).filter((j) => j.deviceId === deviceId && j.type === 'inactivate').at(-1);
        if (latest?.status === 'acknowledged') return;
        if (Date.now() > deadline)
          throw new Error(
            `inactivation of ${deviceId} not delivered in ${timeoutMs} ms: ${latest?.status ?? 'no job'}`,
          );
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      await worker.stop();
      if (timeSkipping) await timeSkipping.stop();
      else {
        await connection.close();
        await clientConnection?.close();
      }
      await mail.close();
      await running.close();
      rmSync(emulatorDir, { recursive: true, force: true });
      await db.drop();
    },
  };
}
