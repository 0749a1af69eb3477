/**
 * Drives raw baseline workflows with the bare Temporal client, the way the API driver drives change-user:
 * start (same start options: conflict policy, search attributes, summary), then for each report in the
 * script wait until the run is at the step with nothing in flight (describe(): LifecycleStep and no
 * pending activity — the raw counterpart of "the task is open"), send the Update and time it, then wait
 * for the run to complete. Polls as often as the API driver does.
 */
import type { Client } from '@temporalio/client';
import {
  AssetNumberKey,
  DepartmentKey,
  LifecycleProcessKey,
  LifecycleStepKey,
  LocationKey,
  NeedsAttentionKey,
} from '../temporal/searchAttributes';
import { addReport, newTimings } from './apiDriver';
import { reportData } from './fleet';
import { pollFor, runLanes, runPaced } from './lanes';
import { RAW_WORKFLOW_TYPE, type RawOp } from './rawScript';
import { timed } from './stats';

export interface RawDriverOptions {
  client: Client;
  taskQueue: string;
  ops: RawOp[];
  pollMs: number;
  stepTimeoutMs: number;
  runTag: string;
}

export class RawDriver {
  readonly timings = newTimings();
  readonly workflowIds: string[] = [];
  /** Runs driven to completion, in the order they completed. */
  readonly completed: string[] = [];

  constructor(private readonly o: RawDriverOptions) {}

  /** A driver of the same runs with timings of its own. */
  another(): RawDriver {
    return new RawDriver(this.o);
  }

  async drive(index: number, label: string): Promise<string> {
    const { client } = this.o;
    const workflowId = `bench-raw-${this.o.runTag}-${label}-${index}`;
    const handle = await timed(this.timings.starts, () =>
      client.workflow.start(RAW_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: this.o.taskQueue,
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        typedSearchAttributes: [
          { key: AssetNumberKey, value: 'A-RAW000' },
          { key: LifecycleProcessKey, value: 'bench-raw' },
          { key: LifecycleStepKey, value: 'scheduled' },
          { key: DepartmentKey, value: 'Bench raw' },
          { key: LocationKey, value: 'Bench raw' },
          { key: NeedsAttentionKey, value: false },
        ],
        staticSummary: `Raw baseline ${index}: the change-user shape with no-op activities`,
        staticDetails: `### Raw baseline\n\n| field | value |\n|---|---|\n| run | ${this.o.runTag} |`,
        args: [{ ops: this.o.ops }],
      }),
    );
    this.workflowIds.push(workflowId);
    const waitUntil = <T>(what: string, probe: () => Promise<T | undefined>) =>
      pollFor(`${workflowId} ${what}`, probe, { everyMs: this.o.pollMs, timeoutMs: this.o.stepTimeoutMs });
    const describe = () => timed(this.timings.polls, () => handle.describe());
    for (const op of this.o.ops) {
      if (op.op !== 'await-update') continue;
      await waitUntil(`at ${op.step}`, async () => {
        const d = await describe();
        if (d.status.name !== 'RUNNING') throw new Error(`${workflowId} is ${d.status.name}`);
        const atStep = !op.step || d.typedSearchAttributes.get(LifecycleStepKey) === op.step;
        return atStep && (d.raw.pendingActivities?.length ?? 0) === 0 ? d : undefined;
      });
      const key = `bench-${this.o.runTag}-${workflowId}-${op.update}`;
      const report = {
        actor: { id: 'field@local', role: 'field-staff' },
        idempotencyKey: key,
        data: reportData(op.update, op.update === 'device-reenrolled' ? 'RAW-MDM-ID' : undefined),
      };
      const t0 = performance.now();
      await handle.executeUpdate(op.update, { args: [report], updateId: `${op.update}:${key}` });
      addReport(this.timings, op.update, performance.now() - t0);
    }
    await waitUntil('completed', async () => {
      const d = await describe();
      if (d.status.name === 'COMPLETED') return d;
      if (d.status.name !== 'RUNNING') throw new Error(`${workflowId} ended ${d.status.name}`);
      return undefined;
    });
    this.completed.push(workflowId);
    return workflowId;
  }

  run(count: number, concurrency: number, deadline: number, label: string, onProgress?: (done: number) => void) {
    return runLanes({
      count,
      concurrency,
      deadline,
      run: async (i) => {
        await this.drive(i, label);
      },
      onProgress,
    });
  }

  /** `count` runs started at `perSecond` whatever the earlier ones do (lanes.ts runPaced). */
  runPaced(count: number, perSecond: number, maxInFlight: number, deadline: number, label: string) {
    return runPaced({
      count,
      perSecond,
      maxInFlight,
      deadline,
      run: async (i) => {
        await this.drive(i, label);
      },
    });
  }
}
