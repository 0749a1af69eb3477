/**
 * An MDM port whose every call first takes a slot from the limiter (mdm/pacing.ts) and gives it back when
 * the call has finished, so all the service's MDM calls stay under the configured rates.
 *
 * One port call is one request to the MDM as far as this wrapper knows; retries inside the adapter
 * (mdm/httpClient.ts) are extra requests it cannot see (see mdm/pacing.ts).
 */
import type { MdmCallKind, MdmCallLimiter } from './pacing';
import type { MdmPort } from './port';

/** Every method of the port, optional ones too, named as a read or a write: a new method must be placed. */
type PortMethod = Exclude<keyof MdmPort, 'capabilities'>;
const KINDS: { [M in PortMethod]-?: MdmCallKind } = {
  getDevice: 'read',
  findDevices: 'read',
  getCommandStatus: 'read',
  listCommands: 'read',
  listProfiles: 'read',
  registerDevice: 'write',
  sendCommand: 'write',
  cancelCommand: 'write',
  deleteDevice: 'write',
};

export function createPacedMdm(port: MdmPort, limiter: MdmCallLimiter): MdmPort {
  const paced: Partial<Record<keyof MdmPort, unknown>> = port.capabilities ? { capabilities: port.capabilities } : {};
  for (const [method, kind] of Object.entries(KINDS) as Array<[PortMethod, MdmCallKind]>) {
    const call = port[method] as ((...args: unknown[]) => Promise<unknown>) | undefined;
    // An optional method the MDM lacks (cancelCommand) stays absent, so callers still see it is missing.
    if (!call) continue;
    paced[method] = async (...args: unknown[]) => {
      const slot = await limiter.acquire(kind);
      try {
        return await call.apply(port, args);
      } finally {
        // Not awaited: the answer need not wait for the bookkeeping. Until the release lands the call
        // counts as still running, which only errs on the safe side; a failed release is logged by the
        // limiter and the slot stops counting when its lease ends.
        void slot.release();
      }
    };
  }
  return paced as MdmPort;
}
