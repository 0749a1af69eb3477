/**
 * Committed workflow histories for replay tests. A test that completes a representative run records its
 * history when RECORD_HISTORIES=1 (`RECORD_HISTORIES=1 npx vitest run tests/<file>`); the replay test
 * then proves every committed history still replays against the current workflow code.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  mkdirSync(HISTORIES_DIR, { recursive: true });
  const file: CommittedHistory = {
    name,
    workflowId: handle.workflowId,
    workflowType,
    history: JSON.parse(historyToJSON(history)),
  };
  writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), `${JSON.stringify(file, null, 1)}\n`);
}

export function committedHistories(): CommittedHistory[] {
  return readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(path.join(HISTORIES_DIR, f), 'utf8')) as CommittedHistory);
}
