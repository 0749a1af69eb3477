/**
 * A delivery report's signature is stored by the API (db/signaturesRepo.ts) before the report goes to the
 * workflow, which gets only `receipt:<id>:sha256:<hex>` in the same `signature` field (the workflow's
 * schema takes that text unchanged, so running processes need no new version). A repeated report (same
 * idempotency key) stores nothing new and sends the same receipt, so the workflow sees the same report
 * and answers it as a duplicate.
 */
import * as signaturesRepo from '../db/signaturesRepo';
import type { HumanReport } from '../workflows/reportSchemas';
import type { Actor } from './auth';
import type { ApiContext } from './context';
import { poolOf } from './databasePool';
import { dbCall } from './dbErrors';
import { ApiError } from './errors';
import { parseSignature, receiptText, type SignatureContent } from './signatures';

export interface SignatureReceipt {
  id: string;
  text: string;
  /** This request stored it (false: an earlier attempt of the same report did). */
  created: boolean;
}

/** The signature of a device-delivered report, checked (400 naming `data.signature`), or undefined. */
export function signatureOf(event: string, data: unknown): SignatureContent | undefined {
  if (event !== 'device-delivered') return undefined;
  const value = (data as { signature?: unknown }).signature;
  return typeof value === 'string' ? parseSignature(value) : undefined;
}

export async function storeSignature(
  ctx: ApiContext,
  r: { workflowId: string; idempotencyKey: string; actor: Actor; signature: SignatureContent },
): Promise<SignatureReceipt> {
  const { signature: stored, created } = await dbCall(
    signaturesRepo.store(poolOf(ctx), {
      workflowId: r.workflowId,
      // Workflow ids are `device-<assetNumber>` (WORKFLOW_ID_PATTERN).
      assetNumber: r.workflowId.replace(/^device-/, ''),
      requestKey: r.idempotencyKey,
      ...r.signature,
      storedBy: r.actor.id,
      storedByRole: r.actor.role,
    }),
  );
  if (stored.sha256 !== r.signature.sha256) {
    // An earlier attempt with this key sent another signature and may have been applied.
    throw new ApiError(
      409,
      'idempotency-key-reused',
      `idempotency key ${r.idempotencyKey} was already used for a delivery with another signature; use a new Idempotency-Key for a different request`,
      { idempotencyKey: r.idempotencyKey, differs: ['body'] },
    );
  }
  return { id: stored.id, text: receiptText(stored.id, stored.sha256), created };
}

/** The report as the workflow gets it: the receipt in place of the signature. */
export function withReceipt<R extends HumanReport>(report: R, receipt: SignatureReceipt): R {
  return { ...report, data: { ...report.data, signature: receipt.text } };
}

/**
 * A report the workflow refused (4xx: nothing applied) holds no receipt anywhere: the signature this
 * request stored is removed. After a 503 the report may have been applied, so the signature stays.
 */
export async function forgetIfRefused(ctx: ApiContext, receipt: SignatureReceipt, key: string, err: unknown) {
  if (!receipt.created || !(err instanceof ApiError) || err.status < 400 || err.status >= 500) return;
  await signaturesRepo.removeRefused(poolOf(ctx), receipt.id, key).catch((e: unknown) => {
    ctx.logger.warn(`[api] could not remove the signature of a refused report (${receipt.id}):`, String(e));
  });
}
