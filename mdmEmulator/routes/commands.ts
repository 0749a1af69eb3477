/**
 * Commands and jobs. A command is accepted at once (201 with the job) and runs asynchronously; see jobEngine.ts.
 * An unfinished command can be cancelled (by job id, or by idempotency key when it has none).
 */
import { Router } from 'express';
import type { EmulatorContext } from '../context';
import { knownDevice, liveDevice } from '../context';
import { conflict, HttpError, notFound } from '../httpError';
import { replayOrRun } from '../idempotency';
import {
  cancelCommandBody,
  commandBody,
  idempotencyKey,
  listJobsQuery,
  parseBody,
  parseParam,
  parseQuery,
  type CommandBody,
} from '../schemas';
import type { Device, Job } from '../types';
import { jobView } from '../views';
import { send } from './devices';

export function commandsRouter(ctx: EmulatorContext): Router {
  const router = Router();
  const { store, engine, faults } = ctx;
  const deviceJobs = (deviceId: string) =>
    Object.values(store.state.jobs)
      .filter((j) => j.deviceId === deviceId)
      .sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));

  router.post('/devices/:id/commands', (req, res) => {
    const id = parseParam(req, 'id');
    const key = idempotencyKey(req, true);
    const command = parseBody(commandBody, req);
    const outcome = replayOrRun(store, key, `POST /devices/${id}/commands ${JSON.stringify(command)}`, () => {
      const device = liveDevice(ctx, id);
      assertAccepts(ctx, device, command);
      const job = engine.create({
        device,
        command,
        idempotencyKey: key,
        jobIdHidden: device.omitJobIds || store.state.settings.omitJobIds,
        stalledAt: faults.stallFor(id),
      });
      return { status: 201, body: jobView(job) };
    });
    store.commit();
    send(res, outcome);
  });

  // The command history outlives the record (like an audit log), so MDMs without job ids can still be read.
  router.get('/devices/:id/commands', (req, res) => {
    const device = knownDevice(ctx, parseParam(req, 'id'));
    res.json({ deviceId: device.id, commands: deviceJobs(device.id).map(jobView) });
  });

  router.get('/jobs', (req, res) => {
    const query = parseQuery(listJobsQuery, req);
    const jobs = Object.values(store.state.jobs).filter(
      (j) => !j.jobIdHidden && (!query.deviceId || j.deviceId === query.deviceId),
    );
    res.json({ jobs: jobs.map(jobView) });
  });

  router.get('/jobs/:jobId', (req, res) => {
    res.json(jobView(publicJob(ctx, parseParam(req, 'jobId'))));
  });

  // Cancelling is naturally idempotent (a cancelled job stays failed), so no Idempotency-Key is needed.
  router.post('/jobs/:jobId/cancel', (req, res) => {
    res.json(jobView(cancel(ctx, publicJob(ctx, parseParam(req, 'jobId')))));
  });

  // For commands without a public job id: named by the key they were sent with.
  router.post('/devices/:id/commands/cancel', (req, res) => {
    const device = knownDevice(ctx, parseParam(req, 'id'));
    const { idempotencyKey: key } = parseBody(cancelCommandBody, req);
    const job = deviceJobs(device.id).find((j) => j.idempotencyKey === key);
    if (!job) {
      throw new HttpError(404, 'command_not_found', `Device '${device.id}' has no command sent with key '${key}'.`, {
        deviceId: device.id,
        idempotencyKey: key,
      });
    }
    res.json(jobView(cancel(ctx, job)));
  });

  return router;
}

function publicJob(ctx: EmulatorContext, jobId: string): Job {
  const job = ctx.store.state.jobs[jobId];
  if (!job || job.jobIdHidden) throw notFound('job', jobId);
  return job;
}

/** An unfinished job fails with `cancelled`; a finished one is left as it is (the caller reads its outcome). */
function cancel(ctx: EmulatorContext, job: Job): Job {
  if (job.status === 'succeeded' || job.status === 'failed') return job;
  ctx.engine.fail(job, { code: 'cancelled', message: 'The command was cancelled before it finished.' });
  ctx.store.commit();
  return job;
}

/** Refuses commands the console would refuse: a second one of a kind still running, or a wrong state. */
function assertAccepts(ctx: EmulatorContext, device: Device, command: CommandBody): void {
  const running = ctx.engine.unfinished(device.id, command.type);
  if (running) {
    throw conflict('command_pending', `A '${command.type}' command for device '${device.id}' has not finished yet.`, {
      deviceId: device.id,
      ...jobRef(running),
    });
  }
  if (command.type === 'inactivate' && device.status !== 'active') {
    throw conflict(
      'invalid_device_state',
      `Only an active device can be inactivated; '${device.id}' is ${device.status}.`,
      {
        deviceId: device.id,
        status: device.status,
      },
    );
  }
}

function jobRef(job: Job): { jobId?: string; idempotencyKey: string } {
  return job.jobIdHidden
    ? { idempotencyKey: job.idempotencyKey }
    : { jobId: job.jobId, idempotencyKey: job.idempotencyKey };
}
