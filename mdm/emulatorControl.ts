/**
 * Drives the MDM emulator's device side and admin controls: what field tests, demos and scripts need to
 * play the device user or break the MDM on purpose. Activities never use this; they see only the port.
 * Calls are made once (no retries), so a test sees exactly what the emulator answered.
 */
import type { Device, Job } from '../mdmEmulator/types';
import type { FaultRule, FaultRuleRequest, RecordedRequest } from '../mdmEmulator/faults';
import type { OutageSetting, OutageState } from '../mdmEmulator/outage';
import type { RateLimitRequest, RateLimitView } from '../mdmEmulator/rateLimit';
import { createMdmHttpClient } from './httpClient';

export type EmulatorDevice = Device;
export type EmulatorJob = Job;
export type {
  FaultRule,
  FaultRuleRequest,
  RecordedRequest,
  RateLimitRequest,
  RateLimitView,
  OutageSetting,
  OutageState,
};

export interface ActionResult {
  device: EmulatorDevice;
  consequence?: 'factory_reset_forced';
  message?: string;
}

export interface ReEnrollResult extends ActionResult {
  previousDeviceId: string;
  newDeviceId: string;
}

export interface EmulatorControl {
  installRemovalProfile(deviceId: string): Promise<ActionResult>;
  failRemovalProfile(deviceId: string): Promise<ActionResult>;
  removeProfiles(deviceId: string): Promise<ActionResult>;
  /** Removes only the configuration profile: the device stays enrolled, an inactivation keeps waiting. */
  removeConfigurationProfile(deviceId: string): Promise<ActionResult>;
  removeApp(deviceId: string): Promise<ActionResult>;
  reEnroll(deviceId: string): Promise<ReEnrollResult>;
  /** Raw device state, including deleted records. */
  device(deviceId: string): Promise<EmulatorDevice>;
  /** Every job, including those without a public job id. */
  jobs(): Promise<EmulatorJob[]>;
  addFault(rule: FaultRuleRequest): Promise<FaultRule>;
  clearFaults(): Promise<void>;
  /** Answers 429 beyond `calls` API requests per sliding window (real time); resets the counters. */
  setRateLimit(limit: RateLimitRequest): Promise<RateLimitView>;
  /** The rate limit and how many requests it accepted and rejected since it was set. */
  rateLimit(): Promise<RateLimitView>;
  clearRateLimit(): Promise<void>;
  /** Every API request gets 503 (`unavailable`) or a dropped connection (`refuse`) for `seconds`, or until ended. */
  startOutage(outage: OutageSetting): Promise<OutageState>;
  /** The outage in force, or null. */
  outage(): Promise<OutageState | null>;
  endOutage(): Promise<void>;
  requests(filter?: { method?: string; pathPrefix?: string }): Promise<RecordedRequest[]>;
  clearRequests(): Promise<void>;
  advanceClock(ms: number): Promise<{ now: string }>;
  setOmitJobIds(omitJobIds: boolean): Promise<void>;
  reset(): Promise<void>;
}

export function createEmulatorControl(options: {
  baseUrl: string;
  apiKey: string;
  timeoutMs?: number;
}): EmulatorControl {
  const http = createMdmHttpClient({ ...options, timeoutMs: options.timeoutMs ?? 10_000, maxAttempts: 1 });
  const action = <T = ActionResult>(deviceId: string, name: string) =>
    http.request<T>({
      method: 'POST',
      path: `/devices/${encodeURIComponent(deviceId)}/actions/${name}`,
      resource: `device '${deviceId}'`,
    });
  const admin = <T = void>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
    query?: Record<string, string | undefined>,
  ) => http.request<T>({ method, path: `/admin${path}`, body, query });

  return {
    installRemovalProfile: (id) => action(id, 'install-removal-profile'),
    failRemovalProfile: (id) => action(id, 'fail-removal-profile'),
    removeProfiles: (id) => action(id, 'remove-profiles'),
    removeConfigurationProfile: (id) => action(id, 'remove-configuration-profile'),
    removeApp: (id) => action(id, 'remove-app'),
    reEnroll: (id) => action<ReEnrollResult>(id, 're-enroll'),
    device: (id) => admin<EmulatorDevice>('GET', `/devices/${encodeURIComponent(id)}`),
    jobs: async () => (await admin<{ jobs: EmulatorJob[] }>('GET', '/jobs')).jobs,
    addFault: (rule) => admin<FaultRule>('POST', '/faults', rule),
    clearFaults: () => admin('DELETE', '/faults'),
    setRateLimit: (limit) => admin<RateLimitView>('PUT', '/rate-limit', limit),
    rateLimit: () => admin<RateLimitView>('GET', '/rate-limit'),
    clearRateLimit: () => admin('DELETE', '/rate-limit'),
    startOutage: async (outage) => (await admin<{ outage: OutageState }>('PUT', '/outage', outage)).outage,
    outage: async () => (await admin<{ outage: OutageState | null }>('GET', '/outage')).outage,
    endOutage: () => admin('DELETE', '/outage'),
    requests: async (filter = {}) =>
      (await admin<{ requests: RecordedRequest[] }>('GET', '/requests', undefined, filter)).requests,
    clearRequests: () => admin('DELETE', '/requests'),
    advanceClock: (ms) => admin<{ now: string }>('POST', '/clock/advance', { ms }),
    setOmitJobIds: async (omitJobIds) => {
      await admin('PUT', '/settings', { omitJobIds });
    },
    reset: () => admin('POST', '/reset'),
  };
}
