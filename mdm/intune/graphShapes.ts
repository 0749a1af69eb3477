/**
 * What the adapter reads from Graph, validated (a changed contract fails loudly as MdmInvalidResponseError),
 * and how it maps onto the port's words.
 *
 * - managedDevice: https://learn.microsoft.com/en-us/graph/api/resources/intune-devices-manageddevice?view=graph-rest-1.0
 * - deviceActionResult { actionName, actionState, startDateTime, lastUpdatedDateTime }:
 *   https://learn.microsoft.com/en-us/graph/api/resources/intune-devices-deviceactionresult?view=graph-rest-1.0
 * - actionState none | pending | canceled | active | done | failed | notSupported:
 *   https://learn.microsoft.com/en-us/graph/api/resources/intune-shared-actionstate?view=graph-rest-1.0
 * - managementState managed | retirePending | retireFailed | wipePending | wipeFailed | unhealthy |
 *   deletePending | retireIssued | wipeIssued | wipeCanceled | retireCanceled | discovered:
 *   https://learn.microsoft.com/en-us/graph/api/resources/intune-devices-managementstate?view=graph-rest-1.0
 */
import { z } from 'zod';
import type { MdmCommandType, MdmDevice, MdmJobStatus } from '../port';

export const actionResultSchema = z.looseObject({
  actionName: z.string(),
  actionState: z.string(),
  startDateTime: z.string(),
  lastUpdatedDateTime: z.string().nullish(),
});
export type ActionResult = z.infer<typeof actionResultSchema>;

export const managedDeviceSchema = z.looseObject({
  id: z.string(),
  serialNumber: z.string().nullish(),
  model: z.string().nullish(),
  managementState: z.string().nullish(),
  enrolledDateTime: z.string().nullish(),
  deviceActionResults: z.array(actionResultSchema).nullish(),
});
export type ManagedDevice = z.infer<typeof managedDeviceSchema>;

export const configurationStateSchema = z.looseObject({
  id: z.string(),
  displayName: z.string().nullish(),
  state: z.string().nullish(),
});

/** The $select of every device read: only what the mapping below uses. */
export const DEVICE_FIELDS = 'id,serialNumber,model,managementState,enrolledDateTime,deviceActionResults';

/**
 * The Graph action behind each port command. The action names in deviceActionResults are assumed to be the
 * action's own name (`wipe`, `retire`): the documented examples only show "Action Name value".
 */
export const ACTION_OF: Record<MdmCommandType, string> = { wipe: 'wipe', inactivate: 'retire', delete: 'delete' };

export function jobStatusOf(actionState: string): { status: MdmJobStatus; error?: { code: string; message: string } } {
  switch (actionState) {
    case 'done':
      return { status: 'succeeded' };
    case 'active':
      return { status: 'acknowledged' };
    case 'failed':
      return {
        status: 'failed',
        error: { code: 'intune_action_failed', message: 'Intune reports the action failed.' },
      };
    case 'canceled':
      return { status: 'failed', error: { code: 'cancelled', message: 'The action was cancelled in Intune.' } };
    case 'notSupported':
      return {
        status: 'failed',
        error: { code: 'not_supported', message: 'Intune reports the action is not supported on this device.' },
      };
    default: // pending, none (documented as "not a valid action state") and values added later
      return { status: 'queued' };
  }
}

/**
 * The port's device status. Intune keeps the record while a wipe or retire runs and says so in
 * managementState; the finished action shows in deviceActionResults. So: deletePending is `deleted`; a done
 * wipe (the newest finished of wipe/retire) is `wiped`, a done retire `inactive`; anything else `active`.
 * Intune has no forced retire (retire always removes the management profile by command).
 */
export function toDevice(device: ManagedDevice): MdmDevice {
  return {
    id: device.id,
    serialNumber: device.serialNumber ?? '',
    model: device.model ?? '',
    status: statusOf(device),
    inactivationForced: false,
    enrolledAt: device.enrolledDateTime ?? '',
  };
}

function statusOf(device: ManagedDevice): MdmDevice['status'] {
  if (device.managementState === 'deletePending') return 'deleted';
  const finished = (device.deviceActionResults ?? [])
    .filter((r) => r.actionState === 'done' && (r.actionName === 'wipe' || r.actionName === 'retire'))
    .sort((a, b) => timeOf(b) - timeOf(a))[0];
  if (finished?.actionName === 'wipe') return 'wiped';
  if (finished?.actionName === 'retire') return 'inactive';
  return 'active';
}

function timeOf(result: ActionResult): number {
  return Date.parse(result.lastUpdatedDateTime ?? result.startDateTime) || 0;
}

/** An OData string literal: single quotes doubled (https://learn.microsoft.com/en-us/graph/filter-query-parameter). */
export function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
