/**
 * Mails that belong to no asset (migration 0016), e.g. the scheduled summary report: the record that a mail
 * went out, under the key its sender would send it again with, so a retry finds it and sends nothing.
 */
import type { Queryable } from './types';

export interface SentMail {
  idempotencyKey: string;
  kind: string;
  recipients: string[];
  subject: string;
  messageId: string;
  details: Record<string, unknown>;
}

export interface StoredSentMail extends SentMail {
  sentAt: Date;
}

interface Row {
  idempotency_key: string;
  kind: string;
  recipients: string[];
  subject: string;
  message_id: string;
  details: Record<string, unknown>;
  sent_at: Date;
}

export async function get(db: Queryable, idempotencyKey: string): Promise<StoredSentMail | undefined> {
  const { rows } = await db.query<Row>('SELECT * FROM sent_mails WHERE idempotency_key = $1', [idempotencyKey]);
  const r = rows[0];
  return (
    r && {
      idempotencyKey: r.idempotency_key,
      kind: r.kind,
      recipients: r.recipients,
      subject: r.subject,
      messageId: r.message_id,
      details: r.details,
      sentAt: r.sent_at,
    }
  );
}

/** Records a sent mail; a second record under the same key (a retry that sent again) keeps the first. */
export async function record(db: Queryable, mail: SentMail): Promise<void> {
  await db.query(
    `INSERT INTO sent_mails (idempotency_key, kind, recipients, subject, message_id, details)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING`,
    [mail.idempotencyKey, mail.kind, mail.recipients, mail.subject, mail.messageId, mail.details],
  );
}
