/**
 * Delivery signatures (migration 0010), kept outside Temporal: the workflow and the audit trail hold only
 * the receipt (`receipt:<id>:sha256:<hex>`). One row per report: the report's idempotency key within its
 * workflow is unique, so a repeated report gets the first receipt back and nothing is stored twice.
 */
import { randomUUID } from 'node:crypto';
import { translateDbError, type Queryable } from './types';

export interface NewSignature {
  workflowId: string;
  assetNumber: string;
  /** The report's idempotency key. */
  requestKey: string;
  kind: 'png' | 'text';
  content: Buffer;
  sha256: string;
  width?: number;
  height?: number;
  storedBy: string;
  storedByRole: string;
}

export interface StoredSignature {
  id: string;
  workflowId: string;
  assetNumber: string;
  requestKey: string;
  kind: 'png' | 'text';
  sha256: string;
  width: number | null;
  height: number | null;
  storedBy: string;
  storedByRole: string;
  createdAt: string;
}

interface Row {
  id: string;
  workflow_id: string;
  asset_number: string;
  request_key: string;
  kind: 'png' | 'text';
  sha256: string;
  width: number | null;
  height: number | null;
  stored_by: string;
  stored_by_role: string;
  created_at: Date;
  content?: Buffer;
}

const META = `id, workflow_id, asset_number, request_key, kind, sha256, width, height, stored_by, stored_by_role,
  created_at`;

function toStored(row: Row): StoredSignature {
  return {
    id: row.id,
    workflowId: row.workflow_id,
    assetNumber: row.asset_number,
    requestKey: row.request_key,
    kind: row.kind,
    sha256: row.sha256,
    width: row.width,
    height: row.height,
    storedBy: row.stored_by,
    storedByRole: row.stored_by_role,
    createdAt: row.created_at.toISOString(),
  };
}

async function run<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw translateDbError(err);
  }
}

/**
 * Stores the signature unless this report (workflow, key) already stored one; `created` says which. The
 * stored row is returned either way: the caller compares its hash (the same key with another signature is
 * another request).
 */
export async function store(db: Queryable, s: NewSignature): Promise<{ signature: StoredSignature; created: boolean }> {
  const { rows } = await run(
    db.query<Row>(
      `INSERT INTO signatures
         (id, workflow_id, asset_number, request_key, kind, content, sha256, width, height, stored_by, stored_by_role)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (workflow_id, request_key) DO NOTHING
       RETURNING ${META}`,
      [
        randomUUID(),
        s.workflowId,
        s.assetNumber,
        s.requestKey,
        s.kind,
        s.content,
        s.sha256,
        s.width ?? null,
        s.height ?? null,
        s.storedBy,
        s.storedByRole,
      ],
    ),
  );
  if (rows[0]) return { signature: toStored(rows[0]), created: true };
  const { rows: existing } = await run(
    db.query<Row>(`SELECT ${META} FROM signatures WHERE workflow_id = $1 AND request_key = $2`, [
      s.workflowId,
      s.requestKey,
    ]),
  );
  if (!existing[0]) throw new Error(`signature of ${s.workflowId} key ${s.requestKey} conflicted but cannot be read`);
  return { signature: toStored(existing[0]), created: false };
}

/** The signature with its content, or null. */
export async function get(db: Queryable, id: string): Promise<(StoredSignature & { content: Buffer }) | null> {
  const { rows } = await run(db.query<Row>(`SELECT ${META}, content FROM signatures WHERE id = $1`, [id]));
  const row = rows[0];
  return row ? { ...toStored(row), content: row.content! } : null;
}

/**
 * Forgets a signature whose report was refused (no process holds its receipt): personal data is not kept
 * for nothing. Only the row this report stored is removed.
 */
export async function removeRefused(db: Queryable, id: string, requestKey: string): Promise<void> {
  await run(db.query('DELETE FROM signatures WHERE id = $1 AND request_key = $2', [id, requestKey]));
}
