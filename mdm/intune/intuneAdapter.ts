/**
 * The MDM port over Microsoft Intune, through Microsoft Graph (v1.0 unless INTUNE_GRAPH_BASE_URL says
 * otherwise). Never run against a real tenant: built and tested against the documented requests and
 * example responses only (tests/support/graphDouble.ts).
 *
 * Mapping:
 * - wipe -> POST managedDevices/{id}/wipe { keepEnrollmentData, keepUserData: false }
 * - inactivate -> POST managedDevices/{id}/retire (Intune removes the management profile and company data
 *   by command: capabilities.profileRemoval = 'command'; Intune has no forced retire, `forced` sends the
 *   same retire)
 * - delete -> DELETE managedDevices/{id}
 * - job status -> the device's deviceActionResults, found again by idempotency key (commandLedger.ts)
 * - device state -> managementState and the finished actions (graphShapes.ts)
 * - profiles -> the management profile while the device is managed, plus its deviceConfigurationStates
 * - no cancelCommand: Graph documents no way to cancel a wipe or retire.
 */
import { MdmNotFoundError, MdmRejectedError } from '../errors';
import type { MdmCapabilities, MdmCommandStatus, MdmDevice, MdmPort, MdmProfile, SendCommandInput } from '../port';
import { createCommandLedger, type CommandLedgerOptions, type LedgerEntry } from './commandLedger';
import { certainlyNotCarriedOut, createGraphClient, type GraphClientOptions } from './graphClient';
import {
  ACTION_OF,
  DEVICE_FIELDS,
  configurationStateSchema,
  jobStatusOf,
  managedDeviceSchema,
  odataString,
  toDevice,
  type ActionResult,
  type ManagedDevice,
} from './graphShapes';
import { MdmInvalidResponseError } from '../errors';
import type { z } from 'zod';

export const INTUNE_CAPABILITIES: MdmCapabilities = { profileRemoval: 'command', cancelCommands: false };

export type IntuneMdmOptions = GraphClientOptions & CommandLedgerOptions & { now?: () => number };

const DEVICES = '/deviceManagement/managedDevices';

export function createIntuneMdm(options: IntuneMdmOptions): MdmPort {
  const graph = createGraphClient(options);
  const ledger = createCommandLedger(options);
  const now = options.now ?? Date.now;
  const devicePath = (id: string) => `${DEVICES}/${encodeURIComponent(id)}`;
  const resource = (id: string) => `managed device '${id}'`;

  // GET /deviceManagement/managedDevices/{managedDeviceId}, with the OData $select the page allows:
  // https://learn.microsoft.com/en-us/graph/api/intune-devices-manageddevice-get?view=graph-rest-1.0
  const readDevice = async (id: string): Promise<ManagedDevice | null> => {
    try {
      const body = await graph.request({
        method: 'GET',
        path: devicePath(id),
        query: { $select: DEVICE_FIELDS },
        resource: resource(id),
      });
      return parse(managedDeviceSchema, unwrapEntity(body), `GET ${DEVICES}/{id}`);
    } catch (err) {
      if (err instanceof MdmNotFoundError) return null;
      throw err;
    }
  };
  const requireDevice = async (id: string): Promise<ManagedDevice> => {
    const device = await readDevice(id);
    if (!device) throw new MdmNotFoundError(resource(id), 'Graph answered 404 Not Found.');
    return device;
  };

  /** The key's command as the port reports it, from the device's action results (null: none yet known). */
  const statusOf = (entry: LedgerEntry, device: ManagedDevice | null): MdmCommandStatus | null => {
    const requestedAt = new Date(entry.sentAt).toISOString();
    const base = { deviceId: entry.deviceId, type: entry.type, idempotencyKey: entry.idempotencyKey, requestedAt };
    // Intune drops the record once a retire or a full wipe is done (and DELETE drops it at once).
    if (!device) return entry.outcome === 'sent' ? { ...base, status: 'succeeded', updatedAt: requestedAt } : null;
    const result = ledger.match(entry, device.deviceActionResults ?? []);
    if (!result) return entry.outcome === 'sent' ? { ...base, status: 'queued', updatedAt: requestedAt } : null;
    entry.outcome = 'sent';
    return {
      ...base,
      ...jobStatusOf(result.actionState),
      updatedAt: result.lastUpdatedDateTime ?? result.startDateTime,
    };
  };

  const send = async (input: SendCommandInput): Promise<void> => {
    const path = devicePath(input.deviceId);
    if (input.type === 'wipe') {
      // POST /deviceManagement/managedDevices/{managedDeviceId}/wipe, body { keepEnrollmentData, keepUserData },
      // 204 No Content: https://learn.microsoft.com/en-us/graph/api/intune-devices-manageddevice-wipe?view=graph-rest-1.0
      await graph.request({
        method: 'POST',
        path: `${path}/wipe`,
        body: { keepEnrollmentData: input.options.keepEnrollmentData, keepUserData: false },
        resource: resource(input.deviceId),
      });
    } else if (input.type === 'inactivate') {
      // POST /deviceManagement/managedDevices/{managedDeviceId}/retire, no body, 204 No Content:
      // https://learn.microsoft.com/en-us/graph/api/intune-devices-manageddevice-retire?view=graph-rest-1.0
      await graph.request({ method: 'POST', path: `${path}/retire`, resource: resource(input.deviceId) });
    } else {
      await deleteRecord(input.deviceId);
    }
  };

  // DELETE /deviceManagement/managedDevices/{managedDeviceId}, 204 No Content:
  // https://learn.microsoft.com/en-us/graph/api/intune-devices-manageddevice-delete?view=graph-rest-1.0
  const deleteRecord = async (id: string): Promise<boolean> => {
    try {
      await graph.request({ method: 'DELETE', path: devicePath(id), resource: resource(id) });
      return true;
    } catch (err) {
      if (err instanceof MdmNotFoundError) return false;
      throw err;
    }
  };

  /** Sends unless this key's command (or, for an unknown key, an adoptable one) is already on the device. */
  const sendCommand = async (input: SendCommandInput): Promise<MdmCommandStatus> => {
    const known = ledger.get(input.idempotencyKey);
    if (known?.outcome === 'sent') return (await currentStatus(known))!;
    const device = await requireDevice(input.deviceId);
    const actionName = ACTION_OF[input.type];
    if (known) {
      const status = statusOf(known, device);
      if (status) return status;
    } else {
      const probe = { idempotencyKey: input.idempotencyKey, deviceId: input.deviceId, actionName };
      const adopted =
        input.type === 'delete' ? undefined : ledger.adoptable(probe, device.deviceActionResults ?? [], now());
      if (adopted) return adopt(input, adopted, device);
    }
    const entry: LedgerEntry = known ?? {
      idempotencyKey: input.idempotencyKey,
      deviceId: input.deviceId,
      type: input.type,
      actionName,
      options: input.options,
      sentAt: now(),
      outcome: 'uncertain',
    };
    ledger.remember(entry);
    try {
      await send(input);
    } catch (err) {
      if (certainlyNotCarriedOut(err) && !known) ledger.forget(input.idempotencyKey);
      throw err;
    }
    entry.outcome = 'sent';
    const requestedAt = new Date(entry.sentAt).toISOString();
    const finished = input.type === 'delete';
    return {
      deviceId: input.deviceId,
      type: input.type,
      status: finished ? 'succeeded' : 'queued',
      idempotencyKey: input.idempotencyKey,
      requestedAt,
      updatedAt: finished ? new Date(now()).toISOString() : requestedAt,
    };
  };

  const adopt = (input: SendCommandInput, result: ActionResult, device: ManagedDevice): MdmCommandStatus => {
    const entry: LedgerEntry = {
      idempotencyKey: input.idempotencyKey,
      deviceId: input.deviceId,
      type: input.type,
      actionName: result.actionName,
      options: input.options,
      sentAt: Date.parse(result.startDateTime),
      outcome: 'sent',
      boundStart: result.startDateTime,
    };
    ledger.remember(entry);
    return statusOf(entry, device)!;
  };

  const currentStatus = async (entry: LedgerEntry) => statusOf(entry, await readDevice(entry.deviceId));

  return {
    capabilities: INTUNE_CAPABILITIES,

    getDevice: async (deviceId) => {
      const device = await readDevice(deviceId);
      return device ? toDevice(device) : null;
    },

    // GET /deviceManagement/managedDevices?$filter=serialNumber eq '...', every page through @odata.nextLink:
    // https://learn.microsoft.com/en-us/graph/api/intune-devices-manageddevice-list?view=graph-rest-1.0,
    // https://learn.microsoft.com/en-us/graph/filter-query-parameter, https://learn.microsoft.com/en-us/graph/paging
    findDevices: async (filter) => {
      // Intune keeps no asset number of ours: no record matches one.
      if (filter.assetNumber !== undefined) return [];
      const query: Record<string, string> = { $select: DEVICE_FIELDS };
      if (filter.serialNumber !== undefined) query.$filter = `serialNumber eq ${odataString(filter.serialNumber)}`;
      const items = await graph.getAll<unknown>({ path: DEVICES, query });
      return items
        .map((item) => toDevice(parse(managedDeviceSchema, item, `GET ${DEVICES}`)))
        .filter((d): d is MdmDevice => d.status !== 'deleted');
    },

    registerDevice: async () => {
      throw new MdmRejectedError(
        405,
        'not_supported',
        'Intune devices enrol from the device (Company Portal, Apple ADE, Autopilot); Graph offers no call that registers one.',
      );
    },

    sendCommand,

    getCommandStatus: async ({ idempotencyKey }) => {
      const entry = ledger.get(idempotencyKey);
      return entry ? currentStatus(entry) : null;
    },

    listCommands: async (deviceId) => {
      const device = await requireDevice(deviceId);
      const ours = ledger.ofDevice(deviceId);
      const statuses = ours.map((e) => statusOf(e, device)).filter((s): s is MdmCommandStatus => s !== null);
      const bound = new Set(ours.map((e) => `${e.actionName}@${e.boundStart}`));
      // Actions of the port's kinds that no key of ours owns (the portal, another process): no key.
      for (const result of device.deviceActionResults ?? []) {
        const type = (Object.keys(ACTION_OF) as Array<keyof typeof ACTION_OF>).find(
          (t) => ACTION_OF[t] === result.actionName,
        );
        if (!type || bound.has(`${result.actionName}@${result.startDateTime}`)) continue;
        statuses.push({
          deviceId,
          type,
          ...jobStatusOf(result.actionState),
          requestedAt: result.startDateTime,
          updatedAt: result.lastUpdatedDateTime ?? result.startDateTime,
        });
      }
      return statuses.sort((a, b) => Date.parse(a.requestedAt) - Date.parse(b.requestedAt));
    },

    listProfiles: async (deviceId) => {
      const device = await readDevice(deviceId);
      if (!device) return null;
      const mapped = toDevice(device);
      // Once Intune reports the retire (or wipe) done, the management profile and company profiles are gone;
      // the configuration states Graph keeps for the record then describe the past.
      if (mapped.status !== 'active') return [];
      const management: MdmProfile = {
        identifier: 'intune-management',
        kind: 'mdm',
        name: `Intune management (managementState ${device.managementState ?? 'unknown'})`,
      };
      return [management, ...(await configurationProfiles(deviceId))];
    },

    deleteDevice: async (deviceId) => ({ deviceId, alreadyGone: !(await deleteRecord(deviceId)) }),
  };

  // GET /deviceManagement/managedDevices/{id}/deviceConfigurationStates: the managedDevice relationship
  // "deviceConfigurationStates" (deviceConfigurationState: id, displayName, state, ...), documented at
  // https://learn.microsoft.com/en-us/graph/api/resources/intune-deviceconfig-deviceconfigurationstate and
  // in the v1.0 SDK reference (e.g. https://learn.microsoft.com/en-us/powershell/module/microsoft.graph.devicemanagement/update-mgdevicemanagementmanageddeviceconfigurationstate);
  // Microsoft's SDKs mark it as deprecated from May 2026. Policies Intune says do not apply are left out.
  async function configurationProfiles(deviceId: string): Promise<MdmProfile[]> {
    const items = await graph.getAll<unknown>({
      path: `${devicePath(deviceId)}/deviceConfigurationStates`,
      resource: resource(deviceId),
    });
    return items
      .map((item) => parse(configurationStateSchema, item, `GET ${DEVICES}/{id}/deviceConfigurationStates`))
      .filter((s) => s.state !== 'notApplicable' && s.state !== 'notAssigned')
      .map((s) => ({ identifier: s.id, kind: 'configuration' as const, name: s.displayName ?? s.id }));
  }
}

/**
 * Graph answers an entity at the top level (with "@odata.context" ... "/$entity"); the Get managedDevice
 * page's example wraps it in { "value": { ... } }. Both are read.
 */
function unwrapEntity(body: unknown): unknown {
  const wrapped = body as { id?: unknown; value?: unknown } | undefined;
  return wrapped && wrapped.id === undefined && wrapped.value && typeof wrapped.value === 'object'
    ? wrapped.value
    : body;
}

function parse<S extends z.ZodType>(schema: S, body: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const where = result.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
  throw new MdmInvalidResponseError(`Unexpected Graph response to ${what}: ${where}`);
}
