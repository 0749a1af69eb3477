-- GET /tasks?asset=A-000123 (a device's open tasks, its barcode scanned in the field): an equality on the
-- asset with the inbox order, like the other filters' indexes (0003).
CREATE INDEX open_tasks_by_asset_idx ON open_tasks (task_queue, asset_number, due_at, workflow_id);
