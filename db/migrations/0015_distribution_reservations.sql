-- Distribution from stock (DESIGN §3.3, issue 11 item 5).
--
-- 1. Reservations. A distribution takes one in-stock asset; the API reserves it before it starts the
--    process (the workflow id names the device, so the device must be known first) and the process's
--    `reserving` step confirms the reservation. One row per asset (the primary key), so two processes can
--    never hold the same asset however their requests interleave: the pick (db/reservationsRepo.ts) locks
--    the candidate asset row with FOR UPDATE SKIP LOCKED and inserts this row in the same statement. The
--    row goes when the process completes (delivered) or is cancelled or aborted (the undo releases it),
--    or at once when the start itself fails.
CREATE TABLE asset_reservations (
  asset_number   text PRIMARY KEY REFERENCES assets (asset_number) ON UPDATE RESTRICT ON DELETE RESTRICT,
  -- Names this reservation (the process's input carries it): the process's workflow id, device-<asset>,
  -- is the same for every process the device ever has.
  reservation_id uuid NOT NULL CONSTRAINT asset_reservations_reservation_id_key UNIQUE,
  -- The application the asset goes to; null when an admin gave the user's details instead.
  application_id uuid,
  reserved_by    text NOT NULL CONSTRAINT asset_reservations_reserved_by_not_blank CHECK (btrim(reserved_by) <> ''),
  reserved_at    timestamptz NOT NULL DEFAULT now(),
  -- Set once by the process's `reserving` step: null means the process has not taken it over (yet).
  confirmed_at   timestamptz
);

-- The pick: in-stock assets, those of the application's department and location first.
CREATE INDEX assets_in_stock_idx ON assets (department, location, asset_number) WHERE status = 'in_stock';

-- 2. The task index takes the distribution's tasks (deliver-device, admin-decision).
ALTER TABLE open_tasks DROP CONSTRAINT open_tasks_process_check;
ALTER TABLE open_tasks
  ADD CONSTRAINT open_tasks_process_check CHECK (process IN ('change-user', 'inactivation', 'distribution'));
