-- Asset database: assets, their append-only audit trail, and users' applications for a device.
-- Applied by db/migrate.ts inside one transaction. Never edit this file once applied anywhere:
-- add a new numbered file instead (the runner refuses a changed checksum).

CREATE TABLE assets (
  asset_number  text PRIMARY KEY
                CONSTRAINT assets_asset_number_format CHECK (asset_number ~ '^A-[0-9]{6}$'),
  serial_number text NOT NULL
                CONSTRAINT assets_serial_number_key UNIQUE
                CONSTRAINT assets_serial_number_not_blank CHECK (btrim(serial_number) <> ''),
  model         text NOT NULL CONSTRAINT assets_model_not_blank CHECK (btrim(model) <> ''),
  -- Null while the device is not enrolled (wiped, deleted from the MDM, retired).
  mdm_device_id text CONSTRAINT assets_mdm_device_id_key UNIQUE,
  status        text NOT NULL DEFAULT 'in_stock'
                CONSTRAINT assets_status_check
                CHECK (status IN ('in_use', 'in_stock', 'retired', 'lost', 'in_repair')),
  planned_status text
                CONSTRAINT assets_planned_status_check
                CHECK (planned_status IN ('in_use', 'in_stock', 'retired', 'lost', 'in_repair')),
  planned_date  date,
  department    text NOT NULL CONSTRAINT assets_department_not_blank CHECK (btrim(department) <> ''),
  location      text NOT NULL CONSTRAINT assets_location_not_blank CHECK (btrim(location) <> ''),
  user_name     text,
  user_email    text CONSTRAINT assets_user_email_format CHECK (user_email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  user_phone    text,
  version       integer NOT NULL DEFAULT 1 CONSTRAINT assets_version_positive CHECK (version > 0),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Reports: the collection list (planned status in stock) and the counts by planned status.
CREATE INDEX assets_planned_status_idx ON assets (planned_status, department, location, asset_number);
-- Reports and lists sorted or filtered by department then location.
CREATE INDEX assets_department_location_idx ON assets (department, location, asset_number);
CREATE INDEX assets_status_idx ON assets (status, asset_number);
CREATE INDEX assets_user_email_idx ON assets (lower(user_email));

CREATE TABLE asset_events (
  id              bigserial PRIMARY KEY,
  -- RESTRICT: an asset with history is retired, never deleted, so the trail stays whole.
  asset_number    text NOT NULL REFERENCES assets (asset_number) ON UPDATE RESTRICT ON DELETE RESTRICT,
  event_type      text NOT NULL CONSTRAINT asset_events_event_type_format
                  CHECK (event_type ~ '^[A-Za-z][A-Za-z0-9_.:-]{0,99}$'),
  actor           text NOT NULL CONSTRAINT asset_events_actor_not_blank CHECK (btrim(actor) <> ''),
  actor_role      text,
  workflow_id     text,
  run_id          text,
  step            text,
  occurred_at     timestamptz NOT NULL DEFAULT now(),
  details         jsonb NOT NULL DEFAULT '{}'::jsonb
                  CONSTRAINT asset_events_details_object CHECK (jsonb_typeof(details) = 'object'),
  changes         jsonb,
  asset_version   integer,
  -- A retried activity presents the same key, so the step's event is written exactly once.
  idempotency_key text NOT NULL CONSTRAINT asset_events_idempotency_key_key UNIQUE
                  CONSTRAINT asset_events_idempotency_key_not_blank CHECK (btrim(idempotency_key) <> '')
);

CREATE INDEX asset_events_asset_idx ON asset_events (asset_number, occurred_at, id);
CREATE INDEX asset_events_workflow_idx ON asset_events (workflow_id, occurred_at, id) WHERE workflow_id IS NOT NULL;

-- The audit trail is append-only: corrections are new events, never edits.
CREATE FUNCTION asset_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'asset_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Record a new event instead of changing or removing one.';
END;
$$;

CREATE TRIGGER asset_events_no_update_delete
  BEFORE UPDATE OR DELETE ON asset_events
  FOR EACH ROW EXECUTE FUNCTION asset_events_refuse_change();

CREATE TRIGGER asset_events_no_truncate
  BEFORE TRUNCATE ON asset_events
  FOR EACH STATEMENT EXECUTE FUNCTION asset_events_refuse_change();

CREATE TABLE applications (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  department            text NOT NULL CONSTRAINT applications_department_not_blank CHECK (btrim(department) <> ''),
  delivery_location     text NOT NULL
                        CONSTRAINT applications_delivery_location_not_blank CHECK (btrim(delivery_location) <> ''),
  user_name             text NOT NULL CONSTRAINT applications_user_name_not_blank CHECK (btrim(user_name) <> ''),
  user_email            text NOT NULL
                        CONSTRAINT applications_user_email_format CHECK (user_email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  user_phone            text,
  note                  text,
  state                 text NOT NULL DEFAULT 'pending'
                        CONSTRAINT applications_state_check
                        CHECK (state IN ('pending', 'assigned', 'delivered', 'cancelled')),
  assigned_asset_number text REFERENCES assets (asset_number) ON UPDATE RESTRICT ON DELETE RESTRICT,
  workflow_id           text,
  created_by            text NOT NULL,
  -- Lets the API turn a repeated POST into the same application.
  idempotency_key       text CONSTRAINT applications_idempotency_key_key UNIQUE,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  assigned_at           timestamptz,
  delivered_at          timestamptz,
  -- An assigned or delivered application always says which device and which process took it.
  CONSTRAINT applications_assignment_complete CHECK (
    state NOT IN ('assigned', 'delivered')
    OR (assigned_asset_number IS NOT NULL AND workflow_id IS NOT NULL AND assigned_at IS NOT NULL)
  )
);

CREATE INDEX applications_pending_idx ON applications (created_at, id) WHERE state = 'pending';
-- One device serves at most one open application, and one running process fills at most one.
CREATE UNIQUE INDEX applications_one_open_per_asset ON applications (assigned_asset_number) WHERE state = 'assigned';
CREATE UNIQUE INDEX applications_one_open_per_workflow ON applications (workflow_id) WHERE state = 'assigned';
