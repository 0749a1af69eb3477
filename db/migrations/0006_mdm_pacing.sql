-- Pacing of MDM calls shared by every worker replica (mdm/pacing.ts): one row per call granted a slot. A
-- call counts against a bucket's sliding window from its grant until `counted_until`: set to grant + lease
-- when granted (a call in flight counts, and a replica that dies mid-call leaves a row that stops counting
-- after the lease), then cut to the time the call finished. Rows whose `counted_until` has left every
-- window are pruned as new slots are granted.

CREATE TABLE mdm_call_slots (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Every call counts in the 'all' bucket; a write counts in the 'writes' bucket as well.
  kind           text NOT NULL CONSTRAINT mdm_call_slots_kind_check CHECK (kind IN ('read', 'write')),
  -- The database clock (clock_timestamp()), so replicas on different machines agree.
  granted_at     timestamptz NOT NULL,
  counted_until  timestamptz NOT NULL,
  CONSTRAINT mdm_call_slots_order CHECK (counted_until >= granted_at)
);

-- A slot is counted while counted_until lies within the window: both scans are a range on it.
CREATE INDEX mdm_call_slots_counted_until ON mdm_call_slots (counted_until);
CREATE INDEX mdm_call_slots_writes_counted_until ON mdm_call_slots (counted_until) WHERE kind = 'write';
