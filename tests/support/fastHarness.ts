/**
 * The fast workflow test layer: the real workflow code on the real Temporal dev server (started once per
 * run by globalSetup), with stub activities instead of PostgreSQL, the MDM emulator and SMTP. One harness
 * is one worker on its own task queue with its own stubs, so tests can run side by side.
 */
import { randomUUID } from 'node:crypto';
import {
  Client,
  Connection,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, type UpdateDefinition } from '@temporalio/common';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { afterEach, inject } from 'vitest';
import {
  CHANGE_USER_WORKFLOW,
  INACTIVATION_WORKFLOW,
  stateQuery,
  workflowIdFor,
  type AdminCommand,
  type ChangeUserInput,
  type HumanReport,
  type InactivationInput,
  type LifecycleState,
  type ReportAck,
  type Step,
} from '../../workflows/definitions';
import { createLifecycleWorker } from '../../worker/createWorker';
import {
  admin,
  changeUserInput,
  command,
  FAST_TIMINGS,
  field,
  inactivationInput,
  PATIENCE_MS,
  report,
} from './fixtures';
import { quietRuntime, restartableWorker, workflowBundle } from './lifecycleHarness';
import { createStubActivities, releaseAllGates, type StubActivities, type StubSetup } from './stubActivities';

// The people, reports, commands, inputs and deadlines the real-stack tests use too (tests/support/fixtures.ts).
export { admin, changeUserInput, command, FAST_TIMINGS, field, inactivationInput, PATIENCE_MS, report };

/** Either lifecycle workflow, as the client sees it. */
export type LifecycleWorkflow = (input: ChangeUserInput | InactivationInput) => Promise<LifecycleState>;
export type LifecycleHandle = WorkflowHandle<LifecycleWorkflow>;

/** What became of an Update: acknowledged, refused (by the validator or the handler), or never answered. */
export type UpdateOutcome =
  | { kind: 'ack'; ack: ReportAck }
  | { kind: 'refused'; type: string | undefined; message: string; details?: unknown[] }
  /** The workflow had closed before the Update reached it. */
  | { kind: 'closed'; message: string }
  | { kind: 'unanswered'; message: string };

export interface FastHarness {
  client: Client;
  taskQueue: string;
  stubs: StubActivities;
  /** Starts a change-user process for a fresh asset (new user given at start unless overridden). */
  startChangeUser(extra?: Partial<ChangeUserInput>): Promise<LifecycleHandle>;
  /** Starts a non-forced inactivation for a fresh asset. */
  startInactivation(extra?: Partial<InactivationInput>): Promise<LifecycleHandle>;
  /** Polls the `state` query until `predicate` holds (deadline PATIENCE_MS). */
  waitForState(
    handle: LifecycleHandle,
    predicate: (s: LifecycleState) => boolean,
    what?: string,
  ): Promise<LifecycleState>;
  /** Waits until the workflow waits at `step` for a report (its human task is open). */
  waitForTask(handle: LifecycleHandle, step: Step): Promise<LifecycleState>;
  /** Waits until the workflow is parked in needs-attention. */
  waitForNeedsAttention(handle: LifecycleHandle): Promise<LifecycleState>;
  /** Sends an Update the way the API does (update id `<name>:<idempotencyKey>`) and says what became of it. */
  update(
    handle: LifecycleHandle,
    def: UpdateDefinition<ReportAck, [HumanReport]> | UpdateDefinition<ReportAck, [AdminCommand]>,
    arg: HumanReport | AdminCommand,
  ): Promise<UpdateOutcome>;
  /**
   * Stops the worker, runs `whileDown` (Updates sent meanwhile wait; Signals are written to history) and
   * starts a fresh worker with the same stubs on the same task queue.
   */
  restartWorker(whileDown?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

export function newAssetNumber(): string {
  return `F-${randomUUID().slice(0, 8)}`;
}

/** Polls `check` (e.g. a stub's call log) until it holds (deadline PATIENCE_MS). */
export async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${PATIENCE_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function grpcCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  const code = typeof e?.code === 'number' ? e.code : e?.cause?.code;
  return typeof code === 'number' ? code : undefined;
}

const GRPC_NOT_FOUND = 5;

export async function startFastHarness(overrides?: StubSetup): Promise<FastHarness> {
  quietRuntime();
  const address = inject('temporalAddress');
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection });
  const connection = await NativeConnection.connect({ address });
  const taskQueue = `fast-${randomUUID()}`;
  const stubs = createStubActivities(overrides);
  const newWorker = async (): Promise<Worker> =>
    createLifecycleWorker({
      connection,
      taskQueue,
      activities: stubs.activities,
      workflowBundle: await workflowBundle(),
    });
  const worker = await restartableWorker(newWorker);
  const started: LifecycleHandle[] = [];

  const start = async (type: string, assetNumber: string, input: ChangeUserInput | InactivationInput) => {
    const handle = await client.workflow.start<LifecycleWorkflow>(type, {
      taskQueue,
      workflowId: `${workflowIdFor(assetNumber)}-${randomUUID().slice(0, 8)}`,
      args: [input],
    });
    started.push(handle);
    return handle;
  };

  const waitForState: FastHarness['waitForState'] = async (handle, predicate, what = 'the expected state') => {
    const deadline = Date.now() + PATIENCE_MS;
    let last: LifecycleState | undefined;
    let lastError: unknown;
    while (Date.now() < deadline) {
      try {
        last = await handle.query(stateQuery);
        if (predicate(last)) return last;
      } catch (err) {
        lastError = err; // e.g. the first workflow task has not run yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `workflow ${handle.workflowId} did not reach ${what} within ${PATIENCE_MS} ms; last state: ` +
        JSON.stringify(last && { status: last.status, step: last.step, lastError: last.lastError }) +
        (last ? '' : `; last query error: ${String(lastError)}`),
    );
  };

  return {
    client,
    taskQueue,
    stubs,
    startChangeUser(extra) {
      const assetNumber = extra?.assetNumber ?? newAssetNumber();
      return start(CHANGE_USER_WORKFLOW, assetNumber, changeUserInput(assetNumber, extra));
    },
    startInactivation(extra) {
      const assetNumber = extra?.assetNumber ?? newAssetNumber();
      return start(INACTIVATION_WORKFLOW, assetNumber, inactivationInput(assetNumber, extra));
    },
    waitForState,
    waitForTask: (handle, step) =>
      waitForState(
        handle,
        (s) => s.status === 'running' && s.step === step && s.pendingTask?.step === step,
        `an open task at ${step}`,
      ),
    waitForNeedsAttention: (handle) => waitForState(handle, (s) => s.status === 'needs-attention', 'needs-attention'),
    async update(handle, def, arg) {
      try {
        const ack = await client.withDeadline(Date.now() + PATIENCE_MS, () =>
          handle.executeUpdate(def as UpdateDefinition<ReportAck, [HumanReport | AdminCommand]>, {
            args: [arg],
            updateId: `${def.name}:${arg.idempotencyKey}`,
          }),
        );
        return { kind: 'ack', ack };
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) {
          const cause = err.cause as (Error & { type?: string; details?: unknown[] }) | undefined;
          return {
            kind: 'refused',
            type: cause instanceof ApplicationFailure ? (cause.type ?? undefined) : cause?.name,
            message: cause?.message ?? err.message,
            details: cause?.details,
          };
        }
        if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
          return { kind: 'unanswered', message: err.message };
        }
        if (err instanceof WorkflowNotFoundError || grpcCode(err) === GRPC_NOT_FOUND) {
          return { kind: 'closed', message: (err as Error).message };
        }
        throw err;
      }
    },
    restartWorker: worker.restart,
    async stop() {
      releaseAllGates();
      await Promise.allSettled(
        started.map(async (h) => {
          const desc = await h.describe();
          if (desc.status.name === 'RUNNING') await h.terminate('fast test finished');
        }),
      );
      await worker.stop();
      await connection.close();
      await clientConnection.close();
    },
  };
}

/**
 * For a test file: `harness(overrides)` starts a fast harness for one test; every harness started is
 * stopped after that test.
 */
export function useFastHarnesses(): (overrides?: StubSetup) => Promise<FastHarness> {
  const started: FastHarness[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((h) => h.stop()));
  });
  return async (overrides) => {
    const h = await startFastHarness(overrides);
    started.push(h);
    return h;
  };
}
