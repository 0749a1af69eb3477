-- Mails that belong to no asset (the summary report by planned asset status, mailed by a Temporal
-- Schedule): one row per mail that went out, keyed by what the sender would send again on a retry (the
-- scheduled run's workflow id), so a retried activity finds the row and sends nothing. Asset mails keep
-- their record in the audit trail (asset_events, event notice-sent) instead.
CREATE TABLE sent_mails (
  idempotency_key text PRIMARY KEY,
  -- What was sent, e.g. `planned-asset-status-summary`.
  kind            text NOT NULL,
  -- Staff addresses (ADMIN_EMAILS), not a device user's: nothing here for retention to erase.
  recipients      text[] NOT NULL,
  subject         text NOT NULL,
  message_id      text NOT NULL,
  -- What the mail said, for a look back without the mailbox (the summary's counts, the attachment's name).
  details         jsonb NOT NULL DEFAULT '{}'::jsonb,
  sent_at         timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX sent_mails_kind_idx ON sent_mails (kind, sent_at);
