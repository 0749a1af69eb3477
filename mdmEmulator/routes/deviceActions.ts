/**
 * What the person holding the device does, as field tests trigger it. The emulator enforces the seed's
 * order and models what goes wrong when it is broken (a forced factory reset), so workflows can be tested
 * against the danger instead of merely told about it.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { EmulatorContext } from '../context';
import { knownDevice } from '../context';
import { enrolledDevice, forceFactoryReset, deleteRecord } from '../deviceModel';
import { conflict, invalidRequest } from '../httpError';
import { parseParam } from '../schemas';
import type { Device } from '../types';
import { deviceView } from '../views';

export const deviceActions = [
  'install-removal-profile',
  'fail-removal-profile',
  'remove-profiles',
  'remove-configuration-profile',
  'remove-app',
  're-enroll',
] as const;
type Action = (typeof deviceActions)[number];
type ActionResult = { status?: number; body: Record<string, unknown> };

export function deviceActionsRouter(ctx: EmulatorContext): Router {
  const router = Router();
  const handlers: Record<Action, (device: Device) => ActionResult> = {
    'install-removal-profile': (device) => installRemovalProfile(ctx, device),
    'fail-removal-profile': (device) => failRemovalProfile(ctx, device),
    'remove-profiles': (device) => removeProfiles(ctx, device),
    'remove-configuration-profile': (device) => removeConfigurationProfile(ctx, device),
    'remove-app': (device) => removeApp(ctx, device),
    're-enroll': (device) => reEnroll(ctx, device),
  };

  router.post('/devices/:id/actions/:action', (req, res) => {
    const id = parseParam(req, 'id');
    const action = z.enum(deviceActions).safeParse(req.params.action);
    if (!action.success) throw invalidRequest('path', action.error, 'action');
    const result = handlers[action.data](knownDevice(ctx, id));
    ctx.engine.tick(); // let a waiting inactivation job see the device's new state at once
    ctx.store.commit();
    res.status(result.status ?? 200).json(result.body);
  });
  return router;
}

function installRemovalProfile(ctx: EmulatorContext, device: Device): ActionResult {
  assertNotForced(device);
  if (!ctx.engine.awaitingDevice(device.id)) throw noPendingInactivation(device);
  if (!device.removalProfileInstalled) {
    device.removalProfileInstalled = true;
    device.profiles.push('removal');
    device.updatedAt = ctx.clock.iso();
  }
  return { body: { device: deviceView(device) } };
}

/** The install screen never appeared or the user cancelled: the inactivation job fails, the device stays enrolled. */
function failRemovalProfile(ctx: EmulatorContext, device: Device): ActionResult {
  const job = ctx.engine.awaitingDevice(device.id);
  if (!job) throw noPendingInactivation(device);
  ctx.engine.fail(job, {
    code: 'removal_profile_failed',
    message: 'The removal profile was not installed on the device.',
  });
  device.removalProfileInstalled = false;
  device.profiles = device.profiles.filter((p) => p !== 'removal');
  device.updatedAt = ctx.clock.iso();
  return { body: { device: deviceView(device) } };
}

function removeProfiles(ctx: EmulatorContext, device: Device): ActionResult {
  assertNotForced(device);
  if (device.status === 'inactive' && device.profiles.length === 0) return { body: { device: deviceView(device) } };
  if (!ctx.engine.awaitingDevice(device.id)) throw noPendingInactivation(device);
  if (!device.removalProfileInstalled) {
    throw conflict(
      'removal_profile_missing',
      'The MDM profile has no Remove button: install the removal profile first.',
      {
        deviceId: device.id,
        profiles: device.profiles,
      },
    );
  }
  device.profiles = [];
  device.removalProfileInstalled = false;
  device.status = 'inactive';
  device.updatedAt = ctx.clock.iso();
  return { body: { device: deviceView(device) } };
}

/**
 * The user removes only the vendor configuration profile (it has its own Remove button) and stops there:
 * the MDM profile stays, so the device stays enrolled and a waiting inactivation keeps waiting. This is
 * how a "profiles removed" report can be wrong while the MDM knows better.
 */
function removeConfigurationProfile(ctx: EmulatorContext, device: Device): ActionResult {
  if (!device.profiles.includes('configuration')) {
    throw conflict('profile_not_installed', `Device '${device.id}' has no configuration profile installed.`, {
      deviceId: device.id,
      profiles: device.profiles,
    });
  }
  device.profiles = device.profiles.filter((p) => p !== 'configuration');
  device.updatedAt = ctx.clock.iso();
  return { body: { device: deviceView(device) } };
}

function removeApp(ctx: EmulatorContext, device: Device): ActionResult {
  if (!device.clientAppInstalled)
    throw conflict('app_not_installed', 'The client app is not installed.', { deviceId: device.id });
  if (!device.profiles.includes('mdm')) {
    device.clientAppInstalled = false;
    device.updatedAt = ctx.clock.iso();
    return { body: { device: deviceView(device) } };
  }
  forceFactoryReset(device, ctx.clock.iso());
  const waiting = ctx.engine.awaitingDevice(device.id);
  if (waiting)
    ctx.engine.fail(waiting, {
      code: 'device_factory_reset',
      message: 'The device was factory reset before it unenrolled.',
    });
  return {
    body: {
      device: deviceView(device),
      consequence: 'factory_reset_forced',
      message:
        'The client app was deleted while the MDM profile was still installed: the device must be factory reset.',
    },
  };
}

/** Re-enrolment creates a new MDM record (new id); the old record is superseded and reads as deleted. */
function reEnroll(ctx: EmulatorContext, device: Device): ActionResult {
  if (device.replacedBy) {
    throw conflict('already_reenrolled', `Device '${device.id}' already re-enrolled as '${device.replacedBy}'.`, {
      deviceId: device.id,
      replacedBy: device.replacedBy,
    });
  }
  const at = ctx.clock.iso();
  const fresh = enrolledDevice({ ...device, id: undefined }, at);
  fresh.previousId = device.id;
  for (const job of Object.values(ctx.store.state.jobs)) {
    if (job.deviceId === device.id && (job.status === 'queued' || job.status === 'acknowledged')) {
      ctx.engine.fail(job, { code: 'device_reenrolled', message: `The device re-enrolled as '${fresh.id}'.` });
    }
  }
  if (device.status !== 'deleted') deleteRecord(device, at);
  device.replacedBy = fresh.id;
  ctx.store.state.devices[fresh.id] = fresh;
  return {
    status: 201,
    body: {
      device: deviceView(fresh),
      previousDeviceId: device.id,
      newDeviceId: fresh.id,
      message: `Re-enrolled under a new MDM device id '${fresh.id}'; the old record '${device.id}' is deleted.`,
    },
  };
}

function assertNotForced(device: Device): void {
  if (device.inactivationForced) {
    throw conflict(
      'profile_not_removable',
      'The device was inactivated with force: its MDM profile can no longer be removed.',
      {
        deviceId: device.id,
      },
    );
  }
}

function noPendingInactivation(device: Device) {
  return conflict(
    'no_pending_inactivation',
    `No inactivation is waiting on device '${device.id}': request a (non-forced) inactivation first and let the MDM deliver it.`,
    { deviceId: device.id, status: device.status },
  );
}
