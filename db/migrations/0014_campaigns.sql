-- Collection campaigns (DESIGN §3.1): a campaign is a bulk request of kind `collections` (its id is the
-- campaign id). What it was started from, and for each device what its process was started with, are
-- kept here so the campaign can be followed in SQL alone (GET /campaigns/{id}): no Temporal query per
-- device. Older bulk requests keep null in every new column and read as before.

-- How the devices were chosen ({ "by": "window", "plannedStatus", "from", "to" } or { "by": "list" }) and
-- the fields shared by its processes (reason, storage location, the campaign date if one was given).
ALTER TABLE bulk_requests
  ADD COLUMN campaign jsonb
  CONSTRAINT bulk_requests_campaign_object CHECK (campaign IS NULL OR jsonb_typeof(campaign) = 'object');

-- POST /campaigns/{id}/cancel: when and by whom the whole campaign was last cancelled.
ALTER TABLE bulk_requests ADD COLUMN cancelled_at timestamptz;
ALTER TABLE bulk_requests ADD COLUMN cancelled_by text;

-- The device's own planned date its process was started with (a campaign keeps each asset's own date),
-- and the department and location it had then: the campaign is counted by these, not by where a
-- collected device has gone since (returned to stock under the administrator's department).
ALTER TABLE bulk_request_items ADD COLUMN planned_date date;
ALTER TABLE bulk_request_items ADD COLUMN department text;
ALTER TABLE bulk_request_items ADD COLUMN location text;

-- A device's campaigns (which campaign started its current process).
CREATE INDEX bulk_request_items_workflow_idx ON bulk_request_items (workflow_id, run_id) WHERE workflow_id IS NOT NULL;
