/**
 * What happens to a device record when a command completes or the device user does something.
 * Pure state changes on one Device; callers decide when (job engine) and whether (route checks).
 */
import { randomUUID } from 'node:crypto';
import { enrolmentProfiles, type Device } from './types';

export function newDeviceId(): string {
  return `mdm-${randomUUID()}`;
}

export function enrolledDevice(
  fields: Pick<Device, 'serialNumber' | 'assetNumber' | 'model'> & { id?: string; omitJobIds?: boolean },
  at: string,
): Device {
  return {
    id: fields.id ?? newDeviceId(),
    serialNumber: fields.serialNumber,
    ...(fields.assetNumber ? { assetNumber: fields.assetNumber } : {}),
    model: fields.model,
    status: 'active',
    profiles: [...enrolmentProfiles],
    clientAppInstalled: true,
    removalProfileInstalled: false,
    inactivationForced: false,
    factoryResetForced: false,
    omitJobIds: fields.omitJobIds ?? false,
    enrolledAt: at,
    updatedAt: at,
  };
}

/** A wipe erases the device, including the MDM agent; without keepEnrollmentData the record goes too. */
export function wipe(device: Device, keepEnrollmentData: boolean, at: string): void {
  eraseDeviceSide(device);
  device.status = 'wiped';
  device.updatedAt = at;
  if (!keepEnrollmentData) deleteRecord(device, at);
}

/** Forced inactivation unenrols on the console only: the MDM profile stays and can no longer be removed. */
export function forceInactivate(device: Device, at: string): void {
  device.status = 'inactive';
  device.inactivationForced = true;
  device.updatedAt = at;
}

export function deleteRecord(device: Device, at: string): void {
  device.status = 'deleted';
  device.deletedAt = at;
  device.updatedAt = at;
}

/** The seed's warning: deleting the client app while the MDM profile is present forces a factory reset. */
export function forceFactoryReset(device: Device, at: string): void {
  eraseDeviceSide(device);
  device.status = 'wiped';
  device.factoryResetForced = true;
  device.updatedAt = at;
}

function eraseDeviceSide(device: Device): void {
  device.profiles = [];
  device.clientAppInstalled = false;
  device.removalProfileInstalled = false;
}
