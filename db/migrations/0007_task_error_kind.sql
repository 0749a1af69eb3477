-- Bulk recovery (POST /workflows/retry, /workflows/abort) selects the processes in needs-attention from the
-- task index: every parked process has its admin-decision row there. The row now also records what kind of
-- failure parked it (workflows/failureKinds.ts), so an admin can act on e.g. every MDM refusal at once.
-- Rows written by older workflow code have no kind (NULL); the API classifies those from last_error as a
-- best-effort fallback (api/errorKindFallback.ts).

ALTER TABLE open_tasks ADD COLUMN error_kind text;

-- The admin decisions of a deployment in the order bulk recovery walks them (workflow id, so a request cut
-- at its limit continues after the last id it answered): a small partial index, since few of all open
-- tasks are admin decisions.
CREATE INDEX open_tasks_admin_decisions_idx ON open_tasks (task_queue, workflow_id)
  WHERE task_type = 'admin-decision';
