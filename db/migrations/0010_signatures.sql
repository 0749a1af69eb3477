-- Delivery signatures, kept by the API outside Temporal (DESIGN §6): the report that reaches the workflow
-- (and so Temporal's history and the audit trail) carries only `receipt:<id>:sha256:<hex>`. Only admins
-- read a signature, through an audited route (GET /api/v1/signatures/{receiptId}).

CREATE TABLE signatures (
  id            uuid PRIMARY KEY,
  -- The process and asset the delivery belongs to (no foreign key: the report may still be refused).
  workflow_id   text NOT NULL,
  asset_number  text NOT NULL,
  -- The report's idempotency key: a repeated report stores nothing new and gets the same receipt.
  request_key   text NOT NULL,
  -- `png`: a drawn signature, `content` holds the image; `text`: a typed name, `content` its UTF-8.
  kind          text NOT NULL CONSTRAINT signatures_kind_check CHECK (kind IN ('png', 'text')),
  content       bytea NOT NULL,
  -- sha256 (hex) of `content`: what the receipt names, so the stored signature can be checked against it.
  sha256        text NOT NULL CONSTRAINT signatures_sha256_format CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  width         integer,
  height        integer,
  stored_by     text NOT NULL,
  stored_by_role text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT signatures_request_key UNIQUE (workflow_id, request_key),
  CONSTRAINT signatures_content_size CHECK (octet_length(content) BETWEEN 1 AND 204800),
  CONSTRAINT signatures_png_has_size CHECK (kind <> 'png' OR (width > 0 AND height > 0))
);

CREATE INDEX signatures_asset_idx ON signatures (asset_number, created_at);
