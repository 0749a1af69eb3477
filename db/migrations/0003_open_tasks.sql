-- The task index (DESIGN §7): one row per open human task, so the task inbox (GET /tasks) and the
-- application hand-off answer from one indexed query instead of asking every workflow. The workflows'
-- bookkeeping activities write it (db/tasksRepo.ts); `npm run tasks:rebuild` restores it from Temporal.
-- It is derived data: no foreign keys, so a write for a workflow never fails because of the asset table.

CREATE TABLE open_tasks (
  -- At most one open task per workflow id: a newer step occurrence replaces an older one.
  workflow_id    text PRIMARY KEY CONSTRAINT open_tasks_workflow_id_not_blank CHECK (btrim(workflow_id) <> ''),
  run_id         text NOT NULL CONSTRAINT open_tasks_run_id_not_blank CHECK (btrim(run_id) <> ''),
  -- The deployment the workflow runs on: each deployment lists its own tasks only.
  task_queue     text NOT NULL CONSTRAINT open_tasks_task_queue_not_blank CHECK (btrim(task_queue) <> ''),
  -- The step occurrence the task belongs to; closes name the occurrence they end.
  occurrence     integer NOT NULL CONSTRAINT open_tasks_occurrence_not_negative CHECK (occurrence >= 0),
  process        text NOT NULL CONSTRAINT open_tasks_process_check CHECK (process IN ('change-user', 'inactivation')),
  task_type      text NOT NULL CONSTRAINT open_tasks_task_type_not_blank CHECK (btrim(task_type) <> ''),
  step           text NOT NULL,
  expects        text[] NOT NULL DEFAULT '{}',
  asset_number   text NOT NULL,
  department     text,
  location       text,
  contact_name   text,
  contact_email  text,
  contact_phone  text,
  -- Times are kept to the millisecond (as workflows and the API write them), so a cursor holding an
  -- ISO timestamp names a row's position exactly.
  due_at         timestamptz NOT NULL,
  escalate_at    timestamptz,
  created_at     timestamptz NOT NULL,
  reminders_sent integer NOT NULL DEFAULT 0 CONSTRAINT open_tasks_reminders_not_negative CHECK (reminders_sent >= 0),
  escalated      boolean NOT NULL DEFAULT false,
  -- An admin decision (task type admin-decision): the step that failed and why.
  failed_step    text,
  last_error     text,
  -- Clock time of the last write: a rebuild never removes or replaces a row written after it began.
  written_at     timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- GET /tasks: this deployment's tasks, oldest due first, the workflow id as the unique tiebreaker of the
-- keyset cursor. One index per filter the inbox offers, each ending in the sort key, so a filtered page
-- is read in order and stops after `limit` rows however rare the filtered value is.
CREATE INDEX open_tasks_inbox_idx ON open_tasks (task_queue, due_at, workflow_id);
CREATE INDEX open_tasks_by_type_idx ON open_tasks (task_queue, task_type, due_at, workflow_id);
CREATE INDEX open_tasks_by_process_idx ON open_tasks (task_queue, process, due_at, workflow_id);
CREATE INDEX open_tasks_by_department_idx ON open_tasks (task_queue, department, due_at, workflow_id);
CREATE INDEX open_tasks_by_location_idx ON open_tasks (task_queue, location, due_at, workflow_id);

-- POST /applications: the change-user workflow that has waited longest for a new user.
CREATE INDEX open_tasks_awaiting_assignment_idx ON open_tasks (task_queue, created_at, workflow_id)
  WHERE task_type = 'assign-user';
