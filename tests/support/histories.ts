/**
 * Committed workflow histories for replay tests. A test that completes a representative run records its
 * history when RECORD_HISTORIES=<label> names the code version it comes from (e.g. `fleet-scale-1`):
 * `RECORD_HISTORIES=fleet-scale-1 npx vitest run tests/<file>` writes `<name>--<label>.json`. A committed
 * history stands for a process running in production, so it is never overwritten: recording a name that
 * exists is refused. The replay test proves every committed history still replays against the current
 * workflow code.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const HISTORIES_DIR = path.join(import.meta.dirname, '..', 'histories');

export interface CommittedHistory {
  name: string;
  workflowId: string;
  workflowType: string;
  history: unknown;
}

export async function recordHistoryIfAsked(name: string, handle: WorkflowHandle, workflowType: string): Promise<void> {
  const label = process.env.RECORD_HISTORIES;
  if (!label) return;
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(label)) {
    throw new Error(`RECORD_HISTORIES must name the code version, like fleet-scale-1 (got ${label})`);
  }
  const fullName = `${name}--${label}`;
  const target = path.join(HISTORIES_DIR, `${fullName}.json`);
  if (existsSync(target)) throw new Error(`${target} is committed: histories are never re-recorded`);
  const history = await handle.fetchHistory();
  mkdirSync(HISTORIES_DIR, { recursive: true });
  const file: CommittedHistory = {
    name: fullName,
    workflowId: handle.workflowId,
    workflowType,
    history: JSON.parse(historyToJSON(history)),
  };
  writeFileSync(target, `${JSON.stringify(file, null, 1)}\n`, { flag: 'wx' });
}

export function committedHistories(): CommittedHistory[] {
  return readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(path.join(HISTORIES_DIR, f), 'utf8')) as CommittedHistory);
}
