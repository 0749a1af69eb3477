/**
 * Device records: enrol (register), read, list, delete, and the profile inventory. Device-side behaviour lives
 * in deviceActions.ts.
 */
import { Router, type Response } from 'express';
import type { EmulatorContext } from '../context';
import { liveDevice } from '../context';
import { deleteRecord, enrolledDevice } from '../deviceModel';
import { conflict } from '../httpError';
import { replayOrRun, type Outcome } from '../idempotency';
import { profilesOf } from '../profiles';
import { idempotencyKey, listDevicesQuery, parseBody, parseParam, parseQuery, registerDeviceBody } from '../schemas';
import { deviceView } from '../views';

export function devicesRouter(ctx: EmulatorContext): Router {
  const router = Router();
  const { store, clock } = ctx;

  router.post('/devices', (req, res) => {
    const key = idempotencyKey(req, false);
    const body = parseBody(registerDeviceBody, req);
    const outcome = replayOrRun(store, key, `POST /devices ${JSON.stringify(body)}`, () => {
      assertNotEnrolled(ctx, body.serialNumber, body.id);
      const device = enrolledDevice(body, clock.iso());
      store.state.devices[device.id] = device;
      return { status: 201, body: deviceView(device) };
    });
    store.commit();
    send(res, outcome);
  });

  router.get('/devices', (req, res) => {
    const query = parseQuery(listDevicesQuery, req);
    const devices = Object.values(store.state.devices)
      .filter((d) => (query.status ? d.status === query.status : d.status !== 'deleted'))
      .filter((d) => !query.serialNumber || d.serialNumber === query.serialNumber)
      .filter((d) => !query.assetNumber || d.assetNumber === query.assetNumber)
      .sort((a, b) => a.enrolledAt.localeCompare(b.enrolledAt) || a.id.localeCompare(b.id));
    res.json({ devices: devices.map(deviceView) });
  });

  router.get('/devices/:id', (req, res) => {
    res.json(deviceView(liveDevice(ctx, parseParam(req, 'id'))));
  });

  // The inventory as of now: device-side actions change it at once (a real MDM learns it at the next check-in).
  router.get('/devices/:id/profiles', (req, res) => {
    const device = liveDevice(ctx, parseParam(req, 'id'));
    res.json({ deviceId: device.id, profiles: profilesOf(device) });
  });

  // Record deletion is immediate (unlike the `delete` command, which is an asynchronous job).
  router.delete('/devices/:id', (req, res) => {
    const id = parseParam(req, 'id');
    const key = idempotencyKey(req, false);
    const outcome = replayOrRun(store, key, `DELETE /devices/${id}`, () => {
      const device = liveDevice(ctx, id);
      deleteRecord(device, clock.iso());
      return { status: 200, body: { id, status: device.status, deletedAt: device.deletedAt } };
    });
    store.commit();
    send(res, outcome);
  });

  return router;
}

function assertNotEnrolled(ctx: EmulatorContext, serialNumber: string, id: string | undefined): void {
  const devices = Object.values(ctx.store.state.devices);
  if (id && ctx.store.state.devices[id]) {
    throw conflict('device_id_taken', `A device with id '${id}' already exists.`, { field: 'id', id });
  }
  const enrolled = devices.find((d) => d.serialNumber === serialNumber && d.status !== 'deleted');
  if (enrolled) {
    throw conflict(
      'device_already_enrolled',
      `Serial number '${serialNumber}' is already enrolled as '${enrolled.id}'.`,
      {
        field: 'serialNumber',
        deviceId: enrolled.id,
      },
    );
  }
}

export function send(res: Response, outcome: Outcome): void {
  if (outcome.replayed) res.set('Idempotent-Replayed', 'true');
  res.status(outcome.status).json(outcome.body);
}
