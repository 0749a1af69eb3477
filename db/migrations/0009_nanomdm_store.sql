-- What the NanoMDM adapter (mdm/nanomdm/) keeps to answer the MDM port (issue 14). NanoMDM's own API
-- (v0.9.0) only enqueues commands; results and check-ins reach us once, through its webhook, so this is
-- the adapter's memory of devices, the jobs we asked for (by our idempotency key), the Apple MDM commands
-- each job sent (by NanoMDM command UUID), every answer a device gave, and its last ProfileList.

-- Enrolments seen through Authenticate / TokenUpdate / CheckOut check-ins, keyed by NanoMDM enrollment id.
CREATE TABLE nanomdm_devices (
  enrollment_id text PRIMARY KEY,
  serial_number text NOT NULL,
  model text NOT NULL DEFAULT '',
  asset_number text,
  enrolled_at timestamptz NOT NULL DEFAULT now(),
  -- The enrolment is complete (and the device managed) after its TokenUpdate.
  token_updated_at timestamptz,
  checked_out_at timestamptz,
  wiped_at timestamptz,
  inactive_at timestamptz,
  inactivation_forced boolean NOT NULL DEFAULT false,
  -- deleteDevice: we forgot the enrolment (NanoMDM keeps its own records).
  forgotten_at timestamptz,
  -- The last ProfileList the device answered, as the port's MdmProfile[]; null until it answered one.
  profiles jsonb,
  profiles_seen_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX nanomdm_devices_serial ON nanomdm_devices (serial_number);

-- One row per port command (wipe, inactivate, delete), once per idempotency key and device.
CREATE TABLE nanomdm_jobs (
  job_id uuid PRIMARY KEY,
  enrollment_id text NOT NULL REFERENCES nanomdm_devices (enrollment_id),
  idempotency_key text NOT NULL,
  type text NOT NULL CHECK (type IN ('wipe', 'inactivate', 'delete')),
  options jsonb NOT NULL DEFAULT '{}',
  status text NOT NULL CHECK (status IN ('queued', 'acknowledged', 'succeeded', 'failed')),
  error_code text,
  error_message text,
  requested_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (enrollment_id, idempotency_key)
);

-- The Apple MDM commands enqueued in NanoMDM: a job's steps, or the adapter's own inventory at enrolment
-- (job_id null). The command UUID is derived from (job or enrolment, step), so enqueueing again after a
-- crash is refused by NanoMDM as a duplicate instead of queueing the command twice.
CREATE TABLE nanomdm_commands (
  command_uuid uuid PRIMARY KEY,
  enrollment_id text NOT NULL REFERENCES nanomdm_devices (enrollment_id),
  job_id uuid REFERENCES nanomdm_jobs (job_id),
  step text NOT NULL,
  request_type text NOT NULL,
  command jsonb NOT NULL,
  enqueued_at timestamptz,
  -- The device's last answer: Acknowledged, Error, CommandFormatError or NotNow (null: none yet).
  status text,
  error_chain jsonb,
  -- What the answer carried that the adapter reads (ProfileList, QueryResponses).
  result jsonb,
  answered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX nanomdm_commands_job ON nanomdm_commands (job_id);
CREATE INDEX nanomdm_commands_unsent ON nanomdm_commands (enrollment_id) WHERE enqueued_at IS NULL;

-- Every command answer the webhook delivered (NotNow may come many times before the final one).
CREATE TABLE nanomdm_results (
  id bigserial PRIMARY KEY,
  command_uuid uuid NOT NULL,
  enrollment_id text NOT NULL,
  status text NOT NULL,
  error_chain jsonb,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX nanomdm_results_command ON nanomdm_results (command_uuid);
