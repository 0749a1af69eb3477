/**
 * Search attribute writes that leave out what already holds (lean-1). Every upsert is a history event and
 * a visibility write on the server; a process re-setting what its start carried, or a step setting the
 * department it already shows, pays for nothing. Before lean-1, every write goes out as it always did, so
 * older histories replay command for command.
 */
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';

/** Absent and null are the same to a filter; dates and lists compare by value. */
function same(current: unknown, next: unknown): boolean {
  if ((current ?? null) === null || (next ?? null) === null) return (current ?? null) === (next ?? null);
  if (typeof current !== 'object' && typeof next !== 'object') return current === next;
  return JSON.stringify(current) === JSON.stringify(next);
}

export function writeSearchAttributes(pairs: SearchAttributeUpdatePair[], onlyChanged: boolean): void {
  if (!onlyChanged) {
    upsertSearchAttributes(pairs);
    return;
  }
  const current = workflowInfo().typedSearchAttributes;
  const changed = pairs.filter((p) => !same(current.get(p.key), p.value));
  if (changed.length > 0) upsertSearchAttributes(changed);
}
