/**
 * What the API shows of devices and jobs: internal bookkeeping (clock steps, injected stalls) stays hidden,
 * and job ids are left out when the device or the emulator is set to behave like an MDM without job ids.
 */
import type { Device, Job } from './types';

export type DeviceView = Device;

export interface JobView {
  jobId?: string;
  deviceId: string;
  type: Job['type'];
  options: Job['options'];
  status: Job['status'];
  idempotencyKey: string;
  requestedAt: string;
  acknowledgedAt?: string;
  finishedAt?: string;
  updatedAt: string;
  error?: Job['error'];
}

export function deviceView(device: Device): DeviceView {
  return { ...device };
}

export function jobView(job: Job): JobView {
  const { jobId, jobIdHidden, nextStepAt: _next, stalledAt: _stalled, ...rest } = job;
  return jobIdHidden ? rest : { jobId, ...rest };
}
