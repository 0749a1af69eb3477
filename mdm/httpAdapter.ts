/**
 * The MDM port over the emulator's HTTP API (mdmEmulator/openapi.yaml). Responses are validated, so a
 * changed contract fails loudly (MdmInvalidResponseError) instead of leaking undefined into a workflow.
 */
import { z } from 'zod';
import { isMdmDeviceId, MDM_DEVICE_ID_RULE } from './deviceId';
import { MdmInvalidResponseError, MdmNotFoundError, MdmRejectedError } from './errors';
import { createMdmHttpClient, type MdmHttpOptions, type MdmRequest } from './httpClient';
import type { MdmCommandStatus, MdmDevice, MdmPort, MdmProfile } from './port';

export type HttpMdmOptions = MdmHttpOptions;

const deviceSchema = z.object({
  id: z.string(),
  serialNumber: z.string(),
  assetNumber: z.string().optional(),
  model: z.string(),
  status: z.enum(['active', 'inactive', 'wiped', 'deleted']),
  inactivationForced: z.boolean(),
  enrolledAt: z.string(),
});

const commandSchema = z.object({
  jobId: z.string().optional(),
  deviceId: z.string(),
  type: z.enum(['wipe', 'inactivate', 'delete']),
  status: z.enum(['queued', 'acknowledged', 'succeeded', 'failed']),
  idempotencyKey: z.string().optional(),
  requestedAt: z.string(),
  updatedAt: z.string(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

const profileSchema = z.object({
  identifier: z.string(),
  kind: z.enum(['mdm', 'configuration', 'removal', 'other']),
  name: z.string(),
});

const deleteSchema = z.object({ id: z.string() });

/**
 * A device id goes into URL paths: one that could leave the device's path (`..`, `/`, `%2e`) is refused
 * before any request is built, as a request the MDM would refuse (not retryable).
 */
function checkedDeviceId(id: string): string {
  if (isMdmDeviceId(id)) return id;
  throw new MdmRejectedError(
    400,
    'invalid_device_id',
    `device id ${JSON.stringify(id.slice(0, 140))} ${MDM_DEVICE_ID_RULE}`,
  );
}

export function createHttpMdm(options: HttpMdmOptions): MdmPort {
  const http = createMdmHttpClient(options);
  const call = async <S extends z.ZodType>(schema: S, req: MdmRequest): Promise<z.infer<S>> =>
    parse(schema, await http.request(req), req);
  const devicePath = (id: string) => `/devices/${encodeURIComponent(checkedDeviceId(id))}`;
  const commandsOf = (deviceId: string) =>
    call(z.object({ commands: z.array(commandSchema) }), {
      method: 'GET',
      path: `${devicePath(deviceId)}/commands`,
      resource: `device '${deviceId}'`,
    }).then((r): MdmCommandStatus[] => r.commands);

  return {
    getDevice: (deviceId) =>
      orNull(
        call(deviceSchema, { method: 'GET', path: devicePath(deviceId), resource: `device '${deviceId}'` }).then(
          toDevice,
        ),
      ),

    findDevices: async (filter) => {
      const query = { serialNumber: filter.serialNumber, assetNumber: filter.assetNumber };
      const result = await call(z.object({ devices: z.array(deviceSchema) }), {
        method: 'GET',
        path: '/devices',
        query,
      });
      return result.devices.map(toDevice);
    },

    registerDevice: async ({ idempotencyKey, ...fields }) =>
      toDevice(await call(deviceSchema, { method: 'POST', path: '/devices', body: fields, idempotencyKey })),

    sendCommand: async ({ deviceId, idempotencyKey, ...command }) =>
      call(commandSchema, {
        method: 'POST',
        path: `${devicePath(deviceId)}/commands`,
        body: { type: command.type, options: command.options ?? {} },
        idempotencyKey,
        resource: `device '${deviceId}'`,
      }),

    getCommandStatus: async ({ deviceId, jobId, idempotencyKey }) => {
      if (jobId) {
        const path = `/jobs/${encodeURIComponent(jobId)}`;
        return orNull(call(commandSchema, { method: 'GET', path, resource: `job '${jobId}'` }));
      }
      // No job id: find the command in the device's history by the key we sent it with.
      const commands = await orNull(commandsOf(deviceId));
      return commands?.find((c) => c.idempotencyKey === idempotencyKey) ?? null;
    },

    listCommands: (deviceId) => commandsOf(deviceId),

    listProfiles: (deviceId) =>
      orNull(
        call(z.object({ profiles: z.array(profileSchema) }), {
          method: 'GET',
          path: `${devicePath(deviceId)}/profiles`,
          resource: `device '${deviceId}'`,
        }).then((r): MdmProfile[] => r.profiles),
      ),

    // Safe to retry without a key: cancelling a cancelled (or finished) command changes nothing.
    cancelCommand: ({ deviceId, jobId, idempotencyKey }) =>
      orNull(
        jobId
          ? call(commandSchema, {
              method: 'POST',
              path: `/jobs/${encodeURIComponent(jobId)}/cancel`,
              resource: `job '${jobId}'`,
            })
          : call(commandSchema, {
              method: 'POST',
              path: `${devicePath(deviceId)}/commands/cancel`,
              body: { idempotencyKey },
              resource: `command '${idempotencyKey}' of device '${deviceId}'`,
            }),
      ),

    deleteDevice: async (deviceId, idempotencyKey) => {
      const req: MdmRequest = {
        method: 'DELETE',
        path: devicePath(deviceId),
        idempotencyKey,
        resource: `device '${deviceId}'`,
      };
      const deleted = await orNull(call(deleteSchema, req));
      return { deviceId, alreadyGone: deleted === null };
    },
  };
}

function parse<S extends z.ZodType>(schema: S, body: unknown, req: MdmRequest): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const where = result.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
  throw new MdmInvalidResponseError(`Unexpected MDM response to ${req.method} ${req.path}: ${where}`);
}

async function orNull<T>(promise: Promise<T>): Promise<T | null> {
  try {
    return await promise;
  } catch (err) {
    if (err instanceof MdmNotFoundError) return null;
    throw err;
  }
}

function toDevice(d: z.infer<typeof deviceSchema>): MdmDevice {
  return {
    id: d.id,
    serialNumber: d.serialNumber,
    ...(d.assetNumber ? { assetNumber: d.assetNumber } : {}),
    model: d.model,
    status: d.status,
    inactivationForced: d.inactivationForced,
    enrolledAt: d.enrolledAt,
  };
}
