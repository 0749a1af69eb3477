-- Bulk starts (POST /collections, POST /inactivations): each request and one row per asset number given,
-- in input order, so the per-asset results of a campaign can be read back (GET /bulk/{bulkId}) when the
-- request was answered before every start had been decided, and after it by anyone who needs them.

CREATE TABLE bulk_requests (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind         text NOT NULL CONSTRAINT bulk_requests_kind_check CHECK (kind IN ('collections', 'inactivations')),
  requested_by text NOT NULL CONSTRAINT bulk_requests_requested_by_not_blank CHECK (btrim(requested_by) <> ''),
  total        integer NOT NULL CONSTRAINT bulk_requests_total_positive CHECK (total > 0),
  created_at   timestamptz NOT NULL DEFAULT now(),
  -- Written with every batch of results (and at least every few seconds while starts run): a request
  -- whose rows stay pending long after this was last written lost the process that ran it.
  updated_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz
);

CREATE TABLE bulk_request_items (
  bulk_id      uuid NOT NULL REFERENCES bulk_requests (id) ON DELETE CASCADE,
  -- The index of the asset number in the request's list.
  position     integer NOT NULL CONSTRAINT bulk_request_items_position_not_negative CHECK (position >= 0),
  -- As given, even when malformed (its row says so).
  asset_number text NOT NULL,
  result       text NOT NULL CONSTRAINT bulk_request_items_result_check
               CHECK (result IN ('pending', 'started', 'unknown-asset', 'busy', 'invalid', 'error')),
  workflow_id  text,
  run_id       text,
  -- { code, message, details? } for every result but started and pending.
  error        jsonb,
  decided_at   timestamptz,
  PRIMARY KEY (bulk_id, position),
  CONSTRAINT bulk_request_items_decided CHECK ((result = 'pending') = (decided_at IS NULL))
);
