/**
 * Asynchronous command jobs: queued -> acknowledged -> succeeded | failed.
 *
 * Jobs advance lazily: before every request the engine replays the clock up to "now", one step per
 * `jobStepMs`. No background timers, so tests are deterministic and a restarted emulator simply
 * catches up from the persisted timestamps.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from './clock';
import type { Store } from './store';
import type { CommandBody } from './schemas';
import type { Device, Job, JobError } from './types';
import { deleteRecord, forceInactivate, wipe } from './deviceModel';

export interface NewJob {
  device: Device;
  command: CommandBody;
  idempotencyKey: string;
  jobIdHidden: boolean;
  stalledAt?: Job['stalledAt'];
}

export interface JobEngine {
  create(input: NewJob): Job;
  /** Moves every due job on; returns true when anything changed. */
  tick(): boolean;
  /** A job of this type that has not finished yet, if any. */
  unfinished(deviceId: string, type: Job['type']): Job | undefined;
  /** The acknowledged, non-forced inactivation the device user is expected to act on. */
  awaitingDevice(deviceId: string): Job | undefined;
  fail(job: Job, error: JobError): void;
}

export function createJobEngine(store: Store, clock: Clock, jobStepMs: number): JobEngine {
  const jobs = () => Object.values(store.state.jobs);
  const deviceOf = (job: Job) => store.state.devices[job.deviceId];

  function finish(job: Job, at: number, error?: JobError): void {
    job.status = error ? 'failed' : 'succeeded';
    job.finishedAt = job.updatedAt = new Date(at).toISOString();
    delete job.nextStepAt;
    if (error) job.error = error;
  }

  function acknowledge(job: Job, at: number): void {
    job.status = 'acknowledged';
    job.acknowledgedAt = job.updatedAt = new Date(at).toISOString();
    job.nextStepAt = waitsForDevice(job) || job.stalledAt === 'acknowledged' ? undefined : at + jobStepMs;
  }

  function complete(job: Job, at: number): void {
    const device = deviceOf(job);
    const iso = new Date(at).toISOString();
    if (!device || device.status === 'deleted') {
      finish(job, at, { code: 'device_not_found', message: 'The device record was deleted before the command ran.' });
      return;
    }
    if (job.type === 'wipe' && 'keepEnrollmentData' in job.options) wipe(device, job.options.keepEnrollmentData, iso);
    if (job.type === 'inactivate') forceInactivate(device, iso);
    if (job.type === 'delete') deleteRecord(device, iso);
    finish(job, at);
  }

  /** Advances one job by at most one step; returns true if it moved. */
  function step(job: Job, now: number): boolean {
    if (job.status === 'succeeded' || job.status === 'failed' || job.stalledAt === job.status) return false;
    if (job.status === 'acknowledged' && waitsForDevice(job)) return completeIfDeviceDone(job, now);
    if (job.nextStepAt === undefined || job.nextStepAt > now) return false;
    if (job.status === 'queued') acknowledge(job, job.nextStepAt);
    else complete(job, job.nextStepAt);
    return true;
  }

  /** A non-forced inactivation succeeds once the user removed the profiles and the device checked out. */
  function completeIfDeviceDone(job: Job, now: number): boolean {
    if (deviceOf(job)?.status !== 'inactive') return false;
    finish(job, now);
    return true;
  }

  return {
    create(input) {
      const now = clock.now();
      const iso = new Date(now).toISOString();
      const job: Job = {
        jobId: `job-${randomUUID()}`,
        deviceId: input.device.id,
        type: input.command.type,
        options: input.command.options,
        status: 'queued',
        idempotencyKey: input.idempotencyKey,
        jobIdHidden: input.jobIdHidden,
        requestedAt: iso,
        updatedAt: iso,
        nextStepAt: now + jobStepMs,
        ...(input.stalledAt ? { stalledAt: input.stalledAt } : {}),
      };
      store.state.jobs[job.jobId] = job;
      return job;
    },
    tick() {
      const now = clock.now();
      let changed = false;
      for (const job of jobs()) while (step(job, now)) changed = true;
      return changed;
    },
    unfinished: (deviceId, type) =>
      jobs().find(
        (j) => j.deviceId === deviceId && j.type === type && (j.status === 'queued' || j.status === 'acknowledged'),
      ),
    awaitingDevice: (deviceId) =>
      jobs().find((j) => j.deviceId === deviceId && j.status === 'acknowledged' && waitsForDevice(j)),
    fail(job, error) {
      finish(job, clock.now(), error);
    },
  };
}

function waitsForDevice(job: Job): boolean {
  return job.type === 'inactivate' && 'forced' in job.options && !job.options.forced;
}
