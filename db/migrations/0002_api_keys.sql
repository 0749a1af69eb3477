-- API keys for the HTTP API. Only a SHA-256 of each key is stored: the key itself is shown once, when it
-- is created, and cannot be recovered from the database. Keys are revoked (kept, for the audit trail of
-- who could act), never deleted.

CREATE TABLE api_keys (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  actor_id     text NOT NULL CONSTRAINT api_keys_actor_id_not_blank CHECK (btrim(actor_id) <> ''),
  role         text NOT NULL CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'field-staff', 'viewer')),
  name         text,
  -- The key's first characters (`dlk_` and 8 more): enough to tell keys apart in a list, useless to log in.
  key_prefix   text NOT NULL CONSTRAINT api_keys_key_prefix_format CHECK (key_prefix ~ '^dlk_[A-Za-z0-9_-]{8}$'),
  key_hash     text NOT NULL CONSTRAINT api_keys_key_hash_key UNIQUE
               CONSTRAINT api_keys_key_hash_format CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  created_by   text NOT NULL CONSTRAINT api_keys_created_by_not_blank CHECK (btrim(created_by) <> ''),
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  revoked_at   timestamptz,
  revoked_by   text,
  -- Written at most about once a minute per key, so a busy client does not turn reads into writes.
  last_used_at timestamptz,
  CONSTRAINT api_keys_revocation_complete CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);

CREATE INDEX api_keys_key_prefix_idx ON api_keys (key_prefix);
CREATE INDEX api_keys_list_idx ON api_keys (created_at, id);
