/**
 * Everything a route needs, created once per emulator instance (so several emulators can run in one process).
 */
import type { Clock } from './clock';
import type { Faults } from './faults';
import type { JobEngine } from './jobEngine';
import type { Outage } from './outage';
import type { RateLimit } from './rateLimit';
import type { Store } from './store';
import type { Device } from './types';
import { HttpError, notFound } from './httpError';

export interface EmulatorContext {
  store: Store;
  clock: Clock;
  engine: JobEngine;
  faults: Faults;
  rateLimit: RateLimit;
  outage: Outage;
}

/** A device record the console still shows (not deleted). */
export function liveDevice(ctx: EmulatorContext, id: string): Device {
  const device = ctx.store.state.devices[id];
  if (!device) throw notFound('device', id);
  if (device.status === 'deleted') {
    throw new HttpError(404, 'device_not_found', `Device '${id}' was deleted from the MDM.`, {
      id,
      deletedAt: device.deletedAt,
      ...(device.replacedBy ? { replacedBy: device.replacedBy } : {}),
    });
  }
  return device;
}

/** Any device the emulator knows, including deleted records: the physical device still exists. */
export function knownDevice(ctx: EmulatorContext, id: string): Device {
  const device = ctx.store.state.devices[id];
  if (!device) throw notFound('device', id);
  return device;
}
