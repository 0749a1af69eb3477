/**
 * Which asset fields a running process owns, and which processes are running for a set of assets.
 *
 * A process owns the fields its activities write (activities/index.ts) and those it acts on the device by:
 * - change-user writes the planned status and date (scheduleCollection, undo on cancel), status,
 *   department, location and the user's name, e-mail and phone (returnToStock, assignUser), and the MDM
 *   device id (deleteFromMdm, verifyEnrollment); it finds the re-enrolled device by its serial number.
 * - inactivation writes status, the planned status and date and the MDM device id (finishInactivation,
 *   retireAsReset); it finds the device by serial number and instructs its user by the platform's
 *   procedure. It writes no user or place: correcting the user's e-mail mid-process is allowed, so the
 *   next reminder reaches them.
 * - distribution assigns a reserved in-stock device to a user (assignUser, as change-user's assignment);
 *   it sends no MDM command and looks no device up, so the MDM device id and serial number stay editable.
 * The model is shown in mails but decides nothing, so it stays editable under every process. A process
 * this table does not know (a newer one) owns every field until it is added here.
 *
 * Running processes are found by ONE Temporal visibility query for all the assets an edit or an import
 * changes (`ExecutionStatus = 'Running' AND AssetNumber IN (...)`): correct between human tasks too (while
 * an activity runs, while the process waits on the MDM, while it needs attention). Visibility lags a start
 * by a moment; an edit in that moment lands before the process's first write, or is refused as stale by
 * the version check once the process has written.
 */
import type { Client } from '@temporalio/client';
import type { AssetPatch } from '../db/types';
import { AssetNumberKey, LifecycleProcessKey, LifecycleStepKey } from '../temporal/searchAttributes';
import { literal } from './workflowList';

export type AssetField = keyof AssetPatch;

export const EDITABLE_FIELDS: readonly AssetField[] = [
  'serialNumber',
  'model',
  'mdmDeviceId',
  'status',
  'plannedStatus',
  'plannedDate',
  'department',
  'location',
  'userName',
  'userEmail',
  'userPhone',
  'platform',
];

const ASSIGNS_USER: readonly AssetField[] = [
  'status',
  'plannedStatus',
  'plannedDate',
  'department',
  'location',
  'userName',
  'userEmail',
  'userPhone',
];

/** By the `LifecycleProcess` search attribute each process carries. */
export const FIELDS_OWNED_BY_PROCESS: Readonly<Record<string, readonly AssetField[]>> = {
  'change-user': [...ASSIGNS_USER, 'mdmDeviceId', 'serialNumber'],
  inactivation: ['status', 'plannedStatus', 'plannedDate', 'mdmDeviceId', 'serialNumber', 'platform'],
  distribution: ASSIGNS_USER,
};

export function fieldsOwnedBy(process: string | undefined): readonly AssetField[] {
  return (process && FIELDS_OWNED_BY_PROCESS[process]) || EDITABLE_FIELDS;
}

export interface RunningProcess {
  workflowId: string;
  runId: string;
  workflowType: string;
  process?: string;
  step?: string;
}

/** Asset numbers per visibility query: one query for any import under this many changed assets. */
const NUMBERS_PER_QUERY = 1000;

/** The running processes of these assets, by asset number (assets with none are absent). */
export async function runningProcessesFor(
  temporal: Client,
  assetNumbers: readonly string[],
): Promise<Map<string, RunningProcess[]>> {
  const numbers = [...new Set(assetNumbers)];
  const found = new Map<string, RunningProcess[]>();
  const chunks: string[][] = [];
  for (let i = 0; i < numbers.length; i += NUMBERS_PER_QUERY) chunks.push(numbers.slice(i, i + NUMBERS_PER_QUERY));
  await Promise.all(
    chunks.map(async (chunk) => {
      const query = `ExecutionStatus = 'Running' AND AssetNumber IN (${chunk.map(literal).join(', ')})`;
      for await (const wf of temporal.workflow.list({ query })) {
        const sa = wf.typedSearchAttributes;
        const assetNumber = sa.get(AssetNumberKey);
        if (!assetNumber) continue;
        const entry: RunningProcess = {
          workflowId: wf.workflowId,
          runId: wf.runId,
          workflowType: wf.type,
          process: sa.get(LifecycleProcessKey),
          step: sa.get(LifecycleStepKey),
        };
        found.set(assetNumber, [...(found.get(assetNumber) ?? []), entry]);
      }
    }),
  );
  return found;
}
