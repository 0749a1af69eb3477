/**
 * The rules every edit of an asset obeys, for POST /assets and each row of the CSV import alike:
 * - An update carries the version it was based on (`version`, as GET /assets/{n} and the export show).
 *   None, or 0, means "create": for an asset that exists it is refused (`version-required`), since the
 *   client has not seen what it would overwrite.
 * - A version that is not the asset's current one is refused (`stale-version`), naming what changed since
 *   it from the audit trail: the fields with before and after, and who changed them, when, in which
 *   workflow and step.
 * - A field that a running process owns (api/assetEditOwnership.ts) is refused (`owned-by-process`),
 *   naming the workflow, its process and step; the fields it does not own stay editable.
 * - An edit that would change nothing is accepted whatever its version: no field changes, nothing is
 *   overwritten (so an exported file of a whole fleet imports back while some devices are in a process).
 * The checks run on the asset as locked for the write (assetsRepo.getForUpdate), so nothing slips between.
 */
import type { Client } from '@temporalio/client';
import * as assetsRepo from '../db/assetsRepo';
import type { Asset, AssetEvent, AssetInput, Queryable } from '../db/types';
import { ApiError, unavailable } from './errors';
import { temporalOutage } from './temporalErrors';
import {
  EDITABLE_FIELDS,
  fieldsOwnedBy,
  runningProcessesFor,
  type AssetField,
  type RunningProcess,
} from './assetEditOwnership';

export type EditRefusalCode = 'version-required' | 'stale-version' | 'owned-by-process' | 'unknown-asset';

export interface EditRefusal {
  code: EditRefusalCode;
  message: string;
  details: Record<string, unknown>;
}

/** The given fields whose value differs from the asset's, in EDITABLE_FIELDS order. */
export function changedFields(current: Asset, given: Partial<AssetInput>): AssetField[] {
  return EDITABLE_FIELDS.filter((f) => given[f] !== undefined && (current[f] ?? null) !== (given[f] ?? null));
}

/**
 * The running processes of the assets these edits would change: one database read, then one Temporal
 * visibility query for the assets that change (none at all when nothing changes, or only new assets come,
 * so creating assets needs no Temporal). The write re-reads each asset under its lock: one that changed
 * in between is refused as stale by its version.
 */
export async function runningForEdits(
  temporal: Client,
  db: Queryable,
  edits: readonly (Partial<AssetInput> & { assetNumber: string })[],
  timeoutMs: number,
): Promise<Map<string, RunningProcess[]>> {
  const current = await assetsRepo.getMany(
    db,
    edits.map((e) => e.assetNumber),
  );
  const changing = edits.filter((e) => {
    const asset = current.get(e.assetNumber);
    return asset !== undefined && changedFields(asset, e).length > 0;
  });
  const asked = changing.map((e) => e.assetNumber);
  const running = asked.length ? await askTemporal(temporal, asked, timeoutMs) : new Map<string, RunningProcess[]>();
  // Every asset asked about has an entry, [] when nothing runs: judgeEdit tells "none" from "not asked".
  return new Map(asked.map((n) => [n, running.get(n) ?? []]));
}

/**
 * Within a deadline, as the API's other reads of Temporal. Out of reach or past it: nothing was written yet,
 * so the request certainly was not applied.
 */
async function askTemporal(
  temporal: Client,
  assetNumbers: string[],
  timeoutMs: number,
): Promise<Map<string, RunningProcess[]>> {
  try {
    return await temporal.withDeadline(Date.now() + timeoutMs, () => runningProcessesFor(temporal, assetNumbers));
  } catch (err) {
    const outage = temporalOutage(err);
    if (!outage) throw err;
    const what = `${outage.what}, so whether a running process owns the asset cannot be told`;
    throw unavailable({ ...outage, what, mayHaveApplied: false }, 'POST');
  }
}

/** Judges one edit; null when it may be written. `basedOn` is the version the client sent (absent: none). */
export async function judgeEdit(
  db: Queryable,
  assetNumber: string,
  current: Asset | null,
  given: Partial<AssetInput>,
  basedOn: number | undefined,
  running: readonly RunningProcess[] | undefined,
): Promise<EditRefusal | null> {
  if (!current) return basedOn ? unknownAsset(assetNumber, basedOn) : null;
  const changed = changedFields(current, given);
  if (changed.length === 0) return null;
  if (!basedOn) return versionRequired(current);
  if (basedOn !== current.version) return staleVersion(db, current, basedOn);
  // Changed nothing when its processes were looked up, something now: the asset moved in between.
  if (!running) return movedMeanwhile(current);
  return ownedByProcess(current, changed, running);
}

function movedMeanwhile(current: Asset): EditRefusal {
  return {
    code: 'stale-version',
    message: `asset ${current.assetNumber} changed while the edit was being checked (now version ${current.version}); send it again`,
    details: { assetNumber: current.assetNumber, currentVersion: current.version, changedFields: [], changes: [] },
  };
}

function unknownAsset(assetNumber: string, basedOn: number): EditRefusal {
  return {
    code: 'unknown-asset',
    message: `asset ${assetNumber} does not exist, yet version ${basedOn} was given; to create it send no version (or 0)`,
    details: { assetNumber, version: basedOn },
  };
}

function versionRequired(current: Asset): EditRefusal {
  return {
    code: 'version-required',
    message:
      `asset ${current.assetNumber} already exists (version ${current.version}): an update must carry the version ` +
      'it was based on (`version`, as GET /assets/{assetNumber} and GET /assets/export.csv show)',
    details: { assetNumber: current.assetNumber, currentVersion: current.version },
  };
}

/** One audit event that changed the asset since the client's version, as a 409 shows it. */
function changeView(e: AssetEvent) {
  return {
    version: e.assetVersion,
    fields: Object.keys(e.changes ?? {}),
    changes: e.changes,
    eventType: e.eventType,
    actor: e.actor,
    workflowId: e.workflowId,
    step: e.step,
    at: e.occurredAt,
  };
}

async function staleVersion(db: Queryable, current: Asset, basedOn: number): Promise<EditRefusal> {
  const { assetNumber, version } = current;
  const base = { assetNumber, version: basedOn, currentVersion: version };
  if (basedOn > version) {
    return {
      code: 'stale-version',
      message: `asset ${assetNumber} is at version ${version}; version ${basedOn} was never read from it`,
      details: { ...base, changedFields: [], changes: [] },
    };
  }
  const events = await assetsRepo.changesSince(db, assetNumber, basedOn);
  const changes = events.map(changeView);
  const changedFields = EDITABLE_FIELDS.filter((f) => changes.some((c) => c.fields.includes(f)));
  const said = changes
    .map((c) => {
      const by = [c.actor, c.workflowId && `workflow ${c.workflowId}`, c.step && `step ${c.step}`].filter(Boolean);
      return `${c.fields.join(', ')} (${c.eventType} by ${by.join(', ')} at ${c.at})`;
    })
    .join('; ');
  // The trail keeps every change, unless retention removed it or it predates the versions it records.
  const what = said || 'the audit trail no longer holds what changed';
  return {
    code: 'stale-version',
    message: `asset ${assetNumber} changed since version ${basedOn} (now version ${version}): ${what}; read it again and apply the edit to version ${version}`,
    details: { ...base, changedFields, changes, truncated: version - basedOn > changes.length },
  };
}

function ownedByProcess(current: Asset, changed: AssetField[], running: readonly RunningProcess[]): EditRefusal | null {
  const owners = running
    .map((p) => ({ ...p, fields: changed.filter((f) => fieldsOwnedBy(p.process).includes(f)) }))
    .filter((p) => p.fields.length > 0);
  if (owners.length === 0) return null;
  const fields = EDITABLE_FIELDS.filter((f) => owners.some((o) => o.fields.includes(f)));
  const named = owners
    .map((o) => `${o.process ?? o.workflowType} workflow ${o.workflowId}${o.step ? ` at step ${o.step}` : ''}`)
    .join(' and ');
  const free = EDITABLE_FIELDS.filter((f) => owners.every((o) => !fieldsOwnedBy(o.process).includes(f)));
  return {
    code: 'owned-by-process',
    message:
      `asset ${current.assetNumber}: ${fields.join(', ')} ${fields.length === 1 ? 'is' : 'are'} owned by the running ` +
      `${named}; ${free.length ? `${free.join(', ')} stay editable; ` : ''}wait for it to finish or cancel it`,
    details: {
      assetNumber: current.assetNumber,
      fields,
      editable: free,
      workflows: owners.map((o) => ({
        workflowId: o.workflowId,
        runId: o.runId,
        workflowType: o.workflowType,
        process: o.process ?? null,
        step: o.step ?? null,
        fields: o.fields,
      })),
    },
  };
}

/** A refused edit of one asset (POST /assets) as its HTTP answer: 404 for an unknown asset, else 409. */
export function editRefused(refusal: EditRefusal): ApiError {
  if (refusal.code === 'unknown-asset') return new ApiError(404, 'not-found', refusal.message, refusal.details);
  return new ApiError(409, refusal.code, refusal.message, refusal.details);
}
