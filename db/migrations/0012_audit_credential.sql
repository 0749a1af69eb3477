-- Which credential acted (DESIGN §6, issue 12): `key:<api key id>`, `oidc:<issuer>|<subject>` or
-- `static:<actor id>`; null for events written before this column existed, by the system, or by a
-- workflow that was not told. Adding a nullable column rewrites no row and fires none of the table's
-- append-only triggers (they refuse UPDATE, DELETE and TRUNCATE, not ALTER TABLE by the owner).
-- Kept by retention: it names a credential, not a person's contact details.
ALTER TABLE asset_events
  ADD COLUMN credential text
  CONSTRAINT asset_events_credential_format
  CHECK (credential IS NULL OR (credential ~ '^[a-z]+:.' AND length(credential) <= 600));
