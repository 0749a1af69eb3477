/**
 * Reading workflows and talking to them: list, detail, human event reports, admin commands.
 */
import { Router } from 'express';
import { ADMIN_COMMANDS, adminUpdates, reportUpdates, type AdminCommandName } from '../../workflows/definitions';
import { adminOnlyReason, eventPayloadSchemas, parseReport, ReportInvalid } from '../../workflows/reportSchemas';
import { actorOf, ANY_ROLE, REPORTERS, requireRole, workflowActor } from '../auth';
import type { ApiContext } from '../context';
import { ApiError, invalidInput, problemsFromZod } from '../errors';
import { adminCommandBody, eventBody, listWorkflowsQuery } from '../schemas';
import { eventParam, parseBody, parseQuery, workflowIdParam } from '../validation';
import { listWorkflows } from '../workflowList';
import { idempotent, REPLAYED_HEADER } from '../idempotentRequests';
import { executeUpdate, idempotencyKeyFor } from '../workflowUpdates';
import { workflowView } from '../workflowView';
import { isMdmDeviceId, MDM_DEVICE_ID_RULE } from '../../mdm/deviceId';
import { forgetIfRefused, signatureOf, storeSignature, withReceipt } from '../signatureReceipts';

/** A re-enrolment may name the device's new MDM id: held to the pattern every MDM id follows (mdm/deviceId.ts). */
function checkMdmDeviceId(event: string, data: unknown): void {
  const id = (data as { mdmDeviceId?: unknown }).mdmDeviceId;
  if (event !== 'device-reenrolled' || typeof id !== 'string' || isMdmDeviceId(id)) return;
  throw invalidInput(`invalid ${event} report`, [{ field: 'data.mdmDeviceId', problem: MDM_DEVICE_ID_RULE }]);
}

export function workflowsRouter(ctx: ApiContext): Router {
  const router = Router();

  router.get('/workflows', requireRole(...ANY_ROLE), async (req, res) => {
    const filters = parseQuery(listWorkflowsQuery, req);
    // Temporal down is a 503 here too: the error handler answers every route's outages (api/outages.ts).
    res.json(await listWorkflows(ctx.temporal, ctx.namespace, filters));
  });

  router.get('/workflows/:workflowId', requireRole(...ANY_ROLE), async (req, res) => {
    const workflowId = workflowIdParam(req);
    const deps = {
      temporal: ctx.temporal,
      records: ctx.db.workflowRecords,
      logger: ctx.logger,
      queryTimeoutMs: ctx.queryTimeoutMs,
    };
    res.json(await workflowView(deps, workflowId));
  });

  router.post('/workflows/:workflowId/events/:event', requireRole(...REPORTERS), async (req, res) => {
    const workflowId = workflowIdParam(req);
    const event = eventParam(req);
    const body = parseBody(eventBody, req);
    const actor = actorOf(res);
    const idempotencyKey = idempotencyKeyFor(req, body.idempotencyKey);
    // Checked here first for field-precise messages (unknown keys named); parseReport then builds the report.
    const payload = eventPayloadSchemas[event].safeParse(body.data);
    if (!payload.success) throw invalidInput(`invalid ${event} report`, problemsFromZod(payload.error, 'data'));
    // DESIGN §3 "Who may report what": the workflow refuses these too (who-reports-1); said here first.
    const adminOnly = adminOnlyReason(event, payload.data);
    if (adminOnly && actor.role !== 'admin')
      throw new ApiError(403, 'forbidden', adminOnly, { event, role: actor.role });
    let report;
    try {
      report = parseReport(event, {
        actor: workflowActor(actor),
        idempotencyKey,
        ...(body.step ? { step: body.step } : {}),
        data: body.data,
      });
    } catch (err) {
      if (err instanceof ReportInvalid) throw invalidInput(`invalid ${event} report`, err.problems);
      throw err;
    }
    checkMdmDeviceId(event, payload.data);
    // DESIGN §6: a signature is checked and stored here; the workflow gets its receipt only.
    const signature = signatureOf(event, payload.data);
    const request = { route: 'POST /workflows/{workflowId}/events/{event}', workflow: workflowId, event };
    const what = { step: body.step, data: body.data };
    const sent = { scope: 'update', key: idempotencyKey, request, body: what, waitMs: ctx.updateTimeoutMs };
    const answer = await idempotent(ctx.db.pool, { ...sent, replay: 'stored' }, async () => {
      const receipt = signature && (await storeSignature(ctx, { workflowId, idempotencyKey, actor, signature }));
      let ack;
      try {
        ack = await executeUpdate(ctx.temporal, {
          workflowId,
          name: event,
          definition: reportUpdates[event],
          arg: receipt ? withReceipt(report, receipt) : report,
          idempotencyKey,
          timeoutMs: ctx.updateTimeoutMs,
          freshUpdateId: true,
        });
      } catch (err) {
        if (receipt) await forgetIfRefused(ctx, receipt, idempotencyKey, err);
        throw err;
      }
      return { status: 200, body: { ...ack, workflowId, idempotencyKey } };
    });
    if (answer.replayed) res.set(REPLAYED_HEADER, 'true');
    res.status(answer.status).json(answer.body);
  });

  for (const command of ADMIN_COMMANDS) {
    router.post(`/workflows/:workflowId/${command}`, requireRole('admin'), async (req, res) => {
      const workflowId = workflowIdParam(req);
      const body = parseBody(adminCommandBody, req);
      const actor = actorOf(res);
      const idempotencyKey = idempotencyKeyFor(req, body.idempotencyKey);
      const request = { route: `POST /workflows/{workflowId}/${command}`, workflow: workflowId, event: command };
      const sent = { scope: 'update', key: idempotencyKey, request, body: { reason: body.reason } };
      const answer = await idempotent(
        ctx.db.pool,
        { ...sent, waitMs: ctx.updateTimeoutMs, replay: 'stored' },
        async () => {
          const ack = await executeUpdate(ctx.temporal, {
            workflowId,
            name: command,
            definition: adminUpdates[command as AdminCommandName],
            arg: { actor: workflowActor(actor), idempotencyKey, reason: body.reason },
            idempotencyKey,
            timeoutMs: ctx.updateTimeoutMs,
            // A repeat whose first answer was lost (no stored answer) still answers duplicate: true.
            answerRepeat: true,
          });
          return { status: 200, body: { ...ack, workflowId, idempotencyKey } };
        },
      );
      if (answer.replayed) res.set(REPLAYED_HEADER, 'true');
      res.status(answer.status).json(answer.body);
    });
  }

  return router;
}
