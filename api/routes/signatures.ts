/**
 * Reading a delivery signature: admins only, and every read is an audit event (`signature-read`, naming
 * the admin and the receipt) written before the signature is answered (DESIGN §6).
 */
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import * as assetEventsRepo from '../../db/assetEventsRepo';
import * as signaturesRepo from '../../db/signaturesRepo';
import { actorOf, requireRole } from '../auth';
import type { ApiContext } from '../context';
import { poolOf } from '../databasePool';
import { dbCall } from '../dbErrors';
import { invalidInput, notFound } from '../errors';
import { receiptText } from '../signatures';
import { NO_STORE } from '../noStore';

export const RECEIPT_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function signaturesRouter(ctx: ApiContext): Router {
  const router = Router();

  router.get('/signatures/:receiptId', requireRole('admin'), async (req, res) => {
    const receiptId = String(req.params.receiptId ?? '');
    if (!RECEIPT_ID_PATTERN.test(receiptId)) {
      throw invalidInput('invalid path', [
        { field: 'receiptId', problem: 'must be the id of a signature receipt (receipt:<id>:sha256:<hex>)' },
      ]);
    }
    const actor = actorOf(res);
    const pool = poolOf(ctx);
    const signature = await dbCall(signaturesRepo.get(pool, receiptId));
    if (!signature) throw notFound('signature', receiptId);
    await dbCall(
      assetEventsRepo.record(pool, signature.assetNumber, {
        eventType: 'signature-read',
        actor: actor.id,
        actorRole: actor.role,
        credential: actor.credential ?? null,
        workflowId: signature.workflowId,
        idempotencyKey: `api:signature-read:${randomUUID()}`,
        details: { receiptId, via: 'api', ...(actor.credential ? { credential: actor.credential } : {}) },
      }),
    );
    res.set(NO_STORE).json({
      receiptId,
      receipt: receiptText(signature.id, signature.sha256),
      sha256: signature.sha256,
      kind: signature.kind,
      ...(signature.kind === 'png'
        ? {
            mediaType: 'image/png',
            dataUrl: `data:image/png;base64,${signature.content.toString('base64')}`,
            width: signature.width,
            height: signature.height,
          }
        : { mediaType: 'text/plain', text: signature.content.toString('utf8') }),
      workflowId: signature.workflowId,
      assetNumber: signature.assetNumber,
      storedBy: signature.storedBy,
      storedByRole: signature.storedByRole,
      storedAt: signature.createdAt,
    });
  });

  return router;
}
