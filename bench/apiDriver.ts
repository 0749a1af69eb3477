/**
 * Change-user processes driven end to end through the HTTP API, with the MDM emulator playing the
 * device, as a person with the field page would: start (POST /devices/{n}/change-user with the new user),
 * wait for each task in the task inbox (GET /tasks?asset=: the device's open task, one indexed query; an
 * admin decision there means the process failed), open it (GET /workflows/{id}, as the page does before
 * the report form), report `device-collected`, re-enrol the device in the emulator (device action over
 * its HTTP API), report `device-reenrolled` with the new MDM id, report `device-delivered` with a small
 * signature, wait for `completed` (GET /workflows/{id}). Each report is one timed HTTP call.
 */
import type { EmulatorControl } from '../mdm/emulatorControl';
import { changeUserBody, reportData, type BenchDevice } from './fleet';
import { expectStatus, type ApiClient } from './http';
import { pollFor, runLanes, runPaced, type LanesResult } from './lanes';
import { Samples, timed } from './stats';

export interface DriveTimings {
  reports: Samples;
  reportsByEvent: Map<string, Samples>;
  starts: Samples;
  polls: Samples;
}

export function newTimings(): DriveTimings {
  return { reports: new Samples(), reportsByEvent: new Map(), starts: new Samples(), polls: new Samples() };
}

export function addReport(t: DriveTimings, event: string, msTaken: number): void {
  t.reports.add(msTaken);
  const own = t.reportsByEvent.get(event) ?? new Samples();
  own.add(msTaken);
  t.reportsByEvent.set(event, own);
}

interface InboxItem {
  workflowId: string;
  type: string;
  step: string;
  failedStep?: string;
  lastError?: string;
}

interface WorkflowView {
  status?: string;
  step?: string;
  pendingTask?: { step?: string; expects?: string[] } | null;
}

export interface ApiDriverOptions {
  api: ApiClient;
  tokens: { admin: string; field: string };
  emulator: EmulatorControl;
  pollMs: number;
  stepTimeoutMs: number;
  runTag: string;
}

export class ApiDriver {
  readonly timings = newTimings();
  /** Workflow ids whose start the API refused or failed (lost starts). */
  readonly failedStarts: string[] = [];
  readonly workflowIds: string[] = [];
  /** Runs driven to completion, in the order they completed. */
  readonly completed: string[] = [];

  constructor(private readonly o: ApiDriverOptions) {}

  private async view(id: string): Promise<WorkflowView> {
    const res = await timed(this.timings.polls, () =>
      this.o.api.call<WorkflowView>('GET', `/workflows/${id}`, { token: this.o.tokens.field }),
    );
    return expectStatus(res, 200, `GET /workflows/${id}`).body;
  }

  /** The device's open tasks in the inbox. */
  private async inbox(assetNumber: string): Promise<InboxItem[]> {
    const res = await timed(this.timings.polls, () =>
      this.o.api.call<{ items: InboxItem[] }>('GET', `/tasks?asset=${assetNumber}&limit=10`, {
        token: this.o.tokens.field,
      }),
    );
    return expectStatus(res, 200, `GET /tasks?asset=${assetNumber}`).body.items;
  }

  /**
   * Until the device's task at `step` is in the inbox (what a person in the field sees), then opens it
   * (the workflow view, as the field page shows it before the report form).
   */
  private async waitForTask(id: string, assetNumber: string, step: string): Promise<WorkflowView> {
    await pollFor(
      `${id} at ${step} with its task open`,
      async () => {
        const items = (await this.inbox(assetNumber)).filter((t) => t.workflowId === id);
        const failed = items.find((t) => t.type === 'admin-decision');
        if (failed) throw new Error(`${id} needs attention at ${failed.failedStep}: ${failed.lastError ?? ''}`);
        return items.some((t) => t.step === step) ? true : undefined;
      },
      { everyMs: this.o.pollMs, timeoutMs: this.o.stepTimeoutMs },
    );
    // The row is written a workflow task before the step shows in the search attributes (lean-2), so the
    // view can lag the inbox by a moment.
    return pollFor(
      `${id} showing its task at ${step}`,
      async () => {
        const v = await this.view(id);
        return v.step === step && v.pendingTask?.step === step ? v : undefined;
      },
      { everyMs: Math.min(this.o.pollMs, 25), timeoutMs: this.o.stepTimeoutMs },
    );
  }

  private async report(id: string, event: string, data: Record<string, unknown>): Promise<void> {
    const res = await this.o.api.call<{ accepted?: boolean }>('POST', `/workflows/${id}/events/${event}`, {
      token: this.o.tokens.field,
      body: { idempotencyKey: `bench-${this.o.runTag}-${id}-${event}`, data },
    });
    addReport(this.timings, event, res.ms);
    expectStatus(res, 200, `report ${event} to ${id}`);
    if (res.body.accepted !== true)
      throw new Error(`report ${event} to ${id} not accepted: ${JSON.stringify(res.body)}`);
  }

  /** One change-user from start to `completed`. */
  async drive(device: BenchDevice): Promise<string> {
    const start = await this.o.api.call<{ workflowId?: string }>('POST', `/devices/${device.assetNumber}/change-user`, {
      token: this.o.tokens.admin,
      body: changeUserBody(),
    });
    this.timings.starts.add(start.ms);
    if (start.status !== 201 || !start.body.workflowId) {
      this.failedStarts.push(device.assetNumber);
      expectStatus(start, 201, `start change-user for ${device.assetNumber}`);
    }
    const id = start.body.workflowId!;
    this.workflowIds.push(id);
    await this.waitForTask(id, device.assetNumber, 'awaiting-collection');
    await this.report(id, 'device-collected', reportData('device-collected'));
    await this.waitForTask(id, device.assetNumber, 'awaiting-reenrollment');
    const { newDeviceId } = await this.o.emulator.reEnroll(device.mdmDeviceId!);
    await this.report(id, 'device-reenrolled', reportData('device-reenrolled', newDeviceId));
    await this.waitForTask(id, device.assetNumber, 'awaiting-delivery');
    await this.report(id, 'device-delivered', reportData('device-delivered'));
    await pollFor(
      `${id} completed`,
      async () => {
        const v = await this.view(id);
        if (v.status === 'completed') return v;
        if (v.status && v.status !== 'running') throw new Error(`${id} ended ${v.status} at ${v.step}`);
        return undefined;
      },
      { everyMs: this.o.pollMs, timeoutMs: this.o.stepTimeoutMs },
    );
    this.completed.push(id);
    return id;
  }

  run(devices: BenchDevice[], concurrency: number, deadline: number, onProgress?: (done: number) => void) {
    return runLanes({
      count: devices.length,
      concurrency,
      deadline,
      run: async (i) => {
        await this.drive(devices[i]!);
      },
      onProgress,
    }) as Promise<LanesResult>;
  }

  /** One process per device, started at `perSecond` whatever the earlier ones do (lanes.ts runPaced). */
  runPaced(devices: BenchDevice[], perSecond: number, maxInFlight: number, deadline: number) {
    return runPaced({
      count: devices.length,
      perSecond,
      maxInFlight,
      deadline,
      run: async (i) => {
        await this.drive(devices[i]!);
      },
    });
  }
}
