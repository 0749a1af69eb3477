-- Least privilege and retention (DESIGN §6, issue 12 items 7 and 8).
--
-- 1. Erasure of personal data. The audit trail (asset_events) stays append-only: its triggers now allow one
--    kind of UPDATE only, the erasure of a row's personal fields (details and changes passed through
--    erase_personal_fields, erased_at set once), with every other column, the facts (what, when, which
--    actor, role and credential, which process and step), unchanged. Nobody can DELETE or TRUNCATE it.
--    erase_expired_personal_data(cutoff, batch) is the only path that erases: SECURITY DEFINER (it runs as
--    the schema owner, who ran this migration), so the runtime role needs no UPDATE right on the trail.
-- 2. The runtime role (DATABASE_RUNTIME_ROLE, passed by db/migrate.ts in the setting
--    device_lifecycle.runtime_role; default device_lifecycle_app): what the API and the worker log in as.
--    It may read and write the service's tables but only INSERT and SELECT the audit trail, owns nothing
--    (so it cannot ALTER, DISABLE or DROP the triggers), and may call the erasure function. Created here
--    (NOLOGIN: give it a password or grant it to a login role) when missing and the migrating user may
--    create roles; when it is missing and cannot be created, the grants are skipped with a notice and the
--    service keeps running as the migrating user (the local stack, before an operator sets roles up).

ALTER TABLE asset_events ADD COLUMN erased_at timestamptz;
ALTER TABLE applications ADD COLUMN erased_at timestamptz;

-- The rows a retention run still has to look at, oldest first.
CREATE INDEX asset_events_not_erased_idx ON asset_events (occurred_at, id) WHERE erased_at IS NULL;
CREATE INDEX applications_not_erased_idx ON applications (updated_at, id)
  WHERE erased_at IS NULL AND state IN ('delivered', 'cancelled');

-- The fields of audit details and changes that name or reach a person, or carry what a person wrote or
-- drew: replaced by the marker '[erased]' wherever they occur (nested reports and receipts included).
-- Staff identities that are facts (asset_events.actor, actor_role, credential, a report's actor) are kept.
CREATE FUNCTION erase_personal_fields(doc jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = public, pg_temp
AS $$
DECLARE
  personal CONSTANT text[] := ARRAY[
    'user', 'userName', 'userEmail', 'userPhone', 'email', 'phone',
    'contactName', 'contactEmail', 'contactPhone',
    'receivedBy', 'collectedBy', 'signature', 'note', 'to', 'subject'
  ];
  result jsonb := '{}'::jsonb;
  k text;
  v jsonb;
BEGIN
  IF doc IS NULL THEN
    RETURN NULL;
  END IF;
  CASE jsonb_typeof(doc)
    WHEN 'object' THEN
      FOR k, v IN SELECT key, value FROM jsonb_each(doc) LOOP
        -- `to` is a mail's recipient list (an array); a change's {from, to} keeps its value (erased when
        -- the change itself is under a personal key such as userName).
        IF (k = ANY (personal) AND jsonb_typeof(v) <> 'null' AND k <> 'to') OR (k = 'to' AND jsonb_typeof(v) = 'array') THEN
          result := result || jsonb_build_object(k, '[erased]');
        ELSE
          result := result || jsonb_build_object(k, erase_personal_fields(v));
        END IF;
      END LOOP;
      RETURN result;
    WHEN 'array' THEN
      RETURN coalesce(
        (SELECT jsonb_agg(erase_personal_fields(e) ORDER BY i) FROM jsonb_array_elements(doc) WITH ORDINALITY AS t (e, i)),
        '[]'::jsonb
      );
    ELSE
      RETURN doc;
  END CASE;
END;
$$;

-- The append-only guard, now with its one exception (see the top of this file).
CREATE OR REPLACE FUNCTION asset_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL
       AND NEW.details = erase_personal_fields(OLD.details)
       AND NEW.changes IS NOT DISTINCT FROM erase_personal_fields(OLD.changes)
       AND to_jsonb(NEW) - ARRAY['details', 'changes', 'erased_at'] = to_jsonb(OLD) - ARRAY['details', 'changes', 'erased_at']
    THEN
      RETURN NEW;
    END IF;
  END IF;
  RAISE EXCEPTION 'asset_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Record a new event instead of changing or removing one; personal data is erased only by erase_expired_personal_data().';
END;
$$;

-- A process is closed for retention when it wrote nothing since the cutoff and has no open task.
CREATE FUNCTION process_closed_before(p_workflow_id text, cutoff timestamptz) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = public, pg_temp
AS $$
  SELECT p_workflow_id IS NULL OR (
    NOT EXISTS (SELECT 1 FROM asset_events later WHERE later.workflow_id = p_workflow_id AND later.occurred_at >= cutoff)
    AND NOT EXISTS (SELECT 1 FROM open_tasks t WHERE t.workflow_id = p_workflow_id)
  )
$$;

-- Erases, in batches of at most `batch` rows per kind, the personal data older than `cutoff` of closed
-- processes: audit details and changes (marker '[erased]', facts kept), delivery signatures (deleted: the
-- audit trail keeps the receipt id and the SHA-256), finished applications' user fields. Returns how many
-- rows of each kind this call erased: call again until all are 0. Refuses a cutoff less than a day old,
-- so a caller cannot erase the data of running processes.
CREATE FUNCTION erase_expired_personal_data(cutoff timestamptz, batch integer)
RETURNS TABLE (audit_events integer, signatures integer, applications integer)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
  IF cutoff IS NULL OR cutoff > now() - interval '1 day' THEN
    RAISE EXCEPTION 'erase_expired_personal_data: cutoff % must lie at least one day in the past', cutoff
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF batch IS NULL OR batch < 1 OR batch > 100000 THEN
    RAISE EXCEPTION 'erase_expired_personal_data: batch % must be between 1 and 100000', batch
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  UPDATE asset_events e
     SET details = erase_personal_fields(e.details), changes = erase_personal_fields(e.changes), erased_at = now()
   WHERE e.id IN (
     SELECT c.id FROM asset_events c
      WHERE c.erased_at IS NULL AND c.occurred_at < cutoff AND process_closed_before(c.workflow_id, cutoff)
      ORDER BY c.occurred_at, c.id
      LIMIT batch);
  GET DIAGNOSTICS audit_events = ROW_COUNT;

  DELETE FROM signatures s
   WHERE s.id IN (
     SELECT c.id FROM signatures c
      WHERE c.created_at < cutoff AND process_closed_before(c.workflow_id, cutoff)
      ORDER BY c.created_at, c.id
      LIMIT batch);
  GET DIAGNOSTICS signatures = ROW_COUNT;

  UPDATE applications a
     SET user_name = '[erased]', user_email = 'erased@erased.invalid', user_phone = NULL, note = NULL,
         erased_at = now()
   WHERE a.id IN (
     SELECT c.id FROM applications c
      WHERE c.erased_at IS NULL AND c.state IN ('delivered', 'cancelled') AND c.updated_at < cutoff
      ORDER BY c.updated_at, c.id
      LIMIT batch);
  GET DIAGNOSTICS applications = ROW_COUNT;

  RETURN NEXT;
END;
$$;

REVOKE ALL ON FUNCTION erase_expired_personal_data(timestamptz, integer) FROM PUBLIC;

DO $$
DECLARE
  runtime text := coalesce(nullif(current_setting('device_lifecycle.runtime_role', true), ''), 'device_lifecycle_app');
BEGIN
  IF runtime = current_user THEN
    RAISE EXCEPTION 'the runtime role % must not be the role that runs migrations (it would own the tables)', runtime;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = runtime) THEN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
      RAISE NOTICE 'runtime role % does not exist and % may not create roles: no grants made', runtime, current_user;
      RETURN;
    END IF;
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN', runtime);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- another database of this cluster created it at the same moment
    END;
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', runtime);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', runtime);
  EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON asset_events FROM %I', runtime);
  EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM %I', runtime);
  EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', runtime);
  EXECUTE format('GRANT EXECUTE ON FUNCTION erase_expired_personal_data(timestamptz, integer) TO %I', runtime);
  -- Tables of later migrations (run by the same owner) are the service's to use too.
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', runtime);
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %I', runtime);
END;
$$;
