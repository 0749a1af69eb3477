-- One meaning per idempotency key: the first request that names a key claims it here, with a fingerprint of
-- what defines the request (route, path ids, event, body). A later request with the same key and another
-- fingerprint is refused (409 idempotency-key-reused); one with the same fingerprint gets the stored answer
-- (or waits while the first is still in progress). Written by the API (api/idempotentRequests.ts).

CREATE TABLE idempotency_keys (
  -- What the key is unique within: `update` (reports and admin commands), `start`, `application`, `asset`.
  scope            text NOT NULL CONSTRAINT idempotency_keys_scope_not_blank CHECK (btrim(scope) <> ''),
  key              text NOT NULL CONSTRAINT idempotency_keys_key_not_blank CHECK (btrim(key) <> ''),
  -- sha256 (hex) of the canonical JSON of the request.
  fingerprint      text NOT NULL,
  -- The parts of the request the fingerprint covers, with the body as its own sha256: names what differs.
  request          jsonb NOT NULL,
  state            text NOT NULL CONSTRAINT idempotency_keys_state_check CHECK (state IN ('in-progress', 'done')),
  response_status  integer,
  response_body    jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  -- When the request now running took the key; a claim older than the lease is taken over (a crashed API).
  claimed_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  PRIMARY KEY (scope, key),
  CONSTRAINT idempotency_keys_done_has_response CHECK (state <> 'done' OR response_status IS NOT NULL)
);
