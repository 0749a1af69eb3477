/**
 * The Apple MDM commands the adapter sends, as Apple's Device Management documentation names them
 * (developer.apple.com/documentation/devicemanagement: EraseDevice, RemoveProfile, ProfileList,
 * DeviceInformation). Command UUIDs are derived from what the command is for, never random, so a retried
 * enqueue names the same command.
 */
import { createHash } from 'node:crypto';

export interface AppleCommand {
  commandUuid: string;
  requestType: string;
  command: Record<string, unknown>;
}

/** A stable UUID (version-5 layout over SHA-256) for `parts`. */
export function derivedUuid(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`.toUpperCase();
}

const make = (uuid: string, requestType: string, extra: Record<string, unknown> = {}): AppleCommand => ({
  commandUuid: uuid,
  requestType,
  command: { RequestType: requestType, ...extra },
});

export const eraseDevice = (uuid: string) => make(uuid, 'EraseDevice');
export const removeProfile = (uuid: string, identifier: string) =>
  make(uuid, 'RemoveProfile', { Identifier: identifier });
export const profileList = (uuid: string) => make(uuid, 'ProfileList', { ManagedOnly: false });
export const deviceInformation = (uuid: string) =>
  make(uuid, 'DeviceInformation', { Queries: ['SerialNumber', 'Model', 'ProductName', 'DeviceName', 'UDID'] });
