/**
 * How assets and their audit events look in API answers, by who is asking (DESIGN §6, least exposure):
 * - admins see the history as recorded (the signature itself only through GET /signatures/{receiptId});
 * - field staff see the contacts of past users (they chase devices that were not returned and hand them
 *   over), but no signature: a signature recorded in an event before signatures were kept apart is
 *   shown as redacted; a receipt (`receipt:<id>:sha256:<hex>`) stays, it only names the stored one;
 * - viewers see what happened, when, by which role, but none of the personal data of the history: no
 *   names, e-mail addresses or phone numbers of past users (in details and in changes of the user fields),
 *   no recipients, signatures or receipts, and no e-mail address quoted in a message. The asset itself
 *   (its current user) is shown to every role as before.
 */
import type { ApiRole } from '../config/env';
import type { AssetEvent } from '../db/types';

export const REDACTED = '[redacted]';

/** Keys of event details (at any depth) and changed fields that hold a person's contact or signature. */
const CONTACT_KEYS = new Set([
  'user',
  'userName',
  'userEmail',
  'userPhone',
  'name',
  'email',
  'phone',
  'to',
  'cc',
  'bcc',
  'recipients',
  'receivedBy',
]);
const SIGNATURE_KEYS = new Set(['signature', 'receipt']);
const RECEIPT = /^receipt:[0-9a-f-]{36}:sha256:[0-9a-f]{64}$/;
const EMAIL = /[^\s@<>()[\]",;:]+@[^\s@<>()[\]",;:]+\.[A-Za-z]{2,}/g;

type Redactor = (key: string | undefined, value: unknown) => unknown;

/** Field staff: everything but signatures themselves. */
const forFieldStaff: Redactor = (key, value) => {
  if (key !== 'signature') return walk(value, forFieldStaff);
  return typeof value === 'string' && RECEIPT.test(value) ? value : REDACTED;
};

/** Viewers: no contacts, recipients, signatures or receipts; no e-mail address in any text. */
const forViewer: Redactor = (key, value) => {
  if (key !== undefined && (CONTACT_KEYS.has(key) || SIGNATURE_KEYS.has(key))) return REDACTED;
  if (typeof value === 'string') return value.replace(EMAIL, REDACTED);
  return walk(value, forViewer);
};

function walk(value: unknown, redact: Redactor): unknown {
  if (Array.isArray(value)) return value.map((v) => redact(undefined, v));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(k, v)]));
  }
  return value;
}

function redactorFor(role: ApiRole): Redactor | undefined {
  if (role === 'admin') return undefined;
  return role === 'field-staff' ? forFieldStaff : forViewer;
}

/** A changed field of the asset: the user's contact fields are a past user's contact for a viewer. */
function changesView(changes: AssetEvent['changes'], role: ApiRole): AssetEvent['changes'] {
  if (!changes || role !== 'viewer') return changes;
  return Object.fromEntries(
    Object.entries(changes).map(([field, change]) =>
      CONTACT_KEYS.has(field) ? [field, { from: REDACTED, to: REDACTED }] : [field, change],
    ),
  );
}

/**
 * One entry of an asset's history: what happened, who did it, in which workflow step, when; personal data
 * shown as the role may see it (module comment). Without a role: as recorded (admins).
 */
export function eventView(e: AssetEvent, role: ApiRole = 'admin') {
  const redact = redactorFor(role);
  return {
    id: e.id,
    type: e.eventType,
    actor: e.actor,
    role: e.actorRole,
    workflowId: e.workflowId,
    runId: e.runId,
    step: e.step,
    at: e.occurredAt,
    details: redact ? (walk(e.details, redact) as AssetEvent['details']) : e.details,
    changes: changesView(e.changes, role),
  };
}
