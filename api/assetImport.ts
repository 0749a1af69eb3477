/**
 * POST /assets/import: a CSV of assets, all or nothing. Every row is checked (shape first, then against
 * the database inside one transaction); one bad row means nothing is written and every problem comes back
 * as `{ row, column, message }` with the row number a spreadsheet shows (the header is row 1).
 *
 * Columns (header names are matched ignoring case, spaces, `_`, `-` and `.`; order is free):
 *   Asset #            (also Asset Number)              required
 *   Serial Number      (also Serial #, Serial No)       required for a new asset
 *   Model                                               required for a new asset
 *   Department, Location                                required for a new asset
 *   MDM Device ID, Asset Status (also Status), Planned Asset Status (also Planned Status),
 *   Planned Date (YYYY-MM-DD or YYYY/MM/DD), User Name, E-mail (also Email), Phone,
 *   Platform (also OS: iOS, iPadOS, Android, Windows, macOS; a new asset without one is iOS, the seed's)
 *   Version                                             required to change an asset that exists
 * Every edit obeys api/assetEdit.ts: a row that changes an existing asset carries the version it was based
 * on (GET /assets/export.csv writes it; empty or 0 for a new asset); a stale version, or a field a running
 * process owns, refuses the row with a code (`version-required`, `stale-version`, `owned-by-process`,
 * `unknown-asset`) and the details, and so the whole file (409 when only such refusals were found). A row
 * that changes nothing is accepted whatever its version, so an export of the whole fleet, edited in a few
 * rows, imports back while other devices are in a process. The running processes of the rows that change
 * something are looked up in one Temporal query before the transaction.
 *
 * Cell meaning: a column that is absent leaves the field as it is; an empty cell clears an optional field
 * (the sheet is the truth) and is an error for a required one. Statuses may be written as in the seed
 * (`In Stock`) or as stored (`in_stock`). A leading apostrophe added by the export's formula guard is
 * removed. Platform cannot be cleared: an empty Platform cell leaves it as it is (iOS for a new asset).
 * A row that changes nothing writes nothing (no empty audit events on a re-import).
 */
import { createHash } from 'node:crypto';
import type { PoolClient } from 'pg';
import { z } from 'zod';
import type pg from 'pg';
import * as assetsRepo from '../db/assetsRepo';
import { withTransaction } from '../db/pool';
import {
  assetNumberSchema,
  assetPatchSchema,
  ConstraintViolationError,
  InvalidInputError,
  type Asset,
  type AssetInput,
} from '../db/types';
import { changedFields, judgeEdit, type EditRefusalCode } from './assetEdit';
import type { RunningProcess } from './assetEditOwnership';
import type { Actor } from './auth';
import { CsvSyntaxError, parseCsv, type CsvRecord } from './csv';
import { restoreGuarded } from './formulaGuard';

export const MAX_IMPORT_ROWS = 10_000;
/** Enough to fix a file in one go without an answer the size of the file. */
const MAX_REPORTED_ERRORS = 200;

type Field = keyof AssetInput | 'version';

const COLUMN_NAMES: Record<Field, string[]> = {
  version: ['version', 'assetversion'],
  assetNumber: ['asset#', 'assetnumber', 'assetno'],
  serialNumber: ['serialnumber', 'serial#', 'serialno', 'serial'],
  model: ['model'],
  mdmDeviceId: ['mdmdeviceid', 'mdmid'],
  status: ['assetstatus', 'status'],
  plannedStatus: ['plannedassetstatus', 'plannedstatus'],
  plannedDate: ['planneddate', 'plannedassetdate'],
  department: ['department'],
  location: ['location'],
  userName: ['username', 'user'],
  userEmail: ['email', 'useremail'],
  userPhone: ['phone', 'userphone'],
  platform: ['platform', 'os'],
};
const REQUIRED_FOR_NEW: (keyof AssetInput)[] = ['serialNumber', 'model', 'department', 'location'];
const REQUIRED_WHEN_PRESENT = new Set<Field>(['assetNumber', ...REQUIRED_FOR_NEW]);

const normaliseHeader = (h: string) =>
  h
    .trim()
    .toLowerCase()
    .replace(/[\s_\-.]/g, '');
const FIELD_BY_HEADER = new Map(
  Object.entries(COLUMN_NAMES).flatMap(([field, names]) => names.map((n) => [n, field as Field])),
);

export interface RowError {
  row: number;
  column: string | null;
  message: string;
  /** For an edit refused by the asset's state (api/assetEdit.ts): which asset, why, and what to know. */
  assetNumber?: string;
  code?: EditRefusalCode;
  details?: Record<string, unknown>;
}

export class ImportRejected extends Error {
  constructor(
    readonly errors: RowError[],
    readonly truncated = false,
  ) {
    super(`the file was not imported: ${errors.length}${truncated ? '+' : ''} problem(s)`);
    this.name = 'ImportRejected';
  }
}

interface Column {
  index: number;
  header: string;
  field: Field;
}

function readHeader(record: CsvRecord | undefined): Column[] {
  if (!record)
    throw new ImportRejected([{ row: 1, column: null, message: 'the file is empty; expected a header row' }]);
  const errors: RowError[] = [];
  const columns: Column[] = [];
  record.fields.forEach((raw, index) => {
    const header = raw.trim();
    const field = FIELD_BY_HEADER.get(normaliseHeader(header));
    if (!field) {
      errors.push({
        row: 1,
        column: header || `(column ${index + 1})`,
        message: `unknown column; known: ${knownColumns()}`,
      });
    } else if (columns.some((c) => c.field === field)) {
      errors.push({ row: 1, column: header, message: `a second column for ${field}` });
    } else {
      columns.push({ index, header, field });
    }
  });
  if (!columns.some((c) => c.field === 'assetNumber'))
    errors.push({ row: 1, column: 'Asset #', message: 'required column is missing' });
  if (errors.length) throw new ImportRejected(errors);
  return columns;
}

export function knownColumns(): string {
  return 'Asset #, Serial Number, Model, MDM Device ID, Asset Status, Planned Asset Status, Planned Date, Department, Location, User Name, E-mail, Phone, Platform, Version';
}

/** `In Stock`, `in-stock` and `in_stock` all mean in_stock. */
const statusText = (s: string) =>
  s
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
/** Japanese spreadsheets write dates as 2025/03/31. */
const dateText = (s: string) =>
  s
    .trim()
    .replace(
      /^(\d{4})\/(\d{1,2})\/(\d{1,2})$/,
      (_m, y: string, mo: string, d: string) => `${y}-${mo.padStart(2, '0')}-${d.padStart(2, '0')}`,
    );

function cellValue(field: Field, cell: string): string | null {
  const text = restoreGuarded(cell).trim();
  if (text === '') return null;
  if (field === 'status' || field === 'plannedStatus') return statusText(text);
  if (field === 'plannedDate') return dateText(text);
  // `iOS`, `iPadOS`, `macOS` as people write them; the stored values are lower case.
  if (field === 'platform') return text.toLowerCase();
  return text;
}

const rowSchema = assetPatchSchema.extend({
  assetNumber: assetNumberSchema,
  version: z
    .string()
    .regex(/^[0-9]{1,9}$/, 'must be a whole number: the version the row was read at')
    .transform(Number)
    .optional(),
});

interface ParsedRow {
  row: number;
  given: Partial<AssetInput> & { assetNumber: string };
  /** The version the row was based on; absent for none (a new asset). */
  version: number | undefined;
}

/** One record's cells as typed fields, or its problems. Pure: no database. */
function parseRow(record: CsvRecord, columns: Column[], width: number, errors: RowError[]): ParsedRow | undefined {
  if (record.fields.length !== width) {
    errors.push({
      row: record.row,
      column: null,
      message: `has ${record.fields.length} fields; the header has ${width}`,
    });
    return undefined;
  }
  const raw: Record<string, string | null> = {};
  let ok = true;
  for (const c of columns) {
    const value = cellValue(c.field, record.fields[c.index]!);
    if (value === null && REQUIRED_WHEN_PRESENT.has(c.field)) {
      errors.push({ row: record.row, column: c.header, message: 'must not be empty' });
      ok = false;
    }
    // Every asset has a platform: an empty cell is no change rather than a clearing. No version: none.
    if (value === null && (c.field === 'platform' || c.field === 'version')) continue;
    raw[c.field] = value;
  }
  if (!ok) return undefined;
  const parsed = rowSchema.safeParse(raw);
  if (!parsed.success) {
    // In the order of the file's columns, as a person reads the row.
    const columnOf = (path: PropertyKey[]) => columns.find((c) => c.field === String(path[0] ?? ''));
    const issues = [...parsed.error.issues].sort(
      (a, b) => (columnOf(a.path)?.index ?? 0) - (columnOf(b.path)?.index ?? 0),
    );
    for (const issue of issues)
      errors.push({ row: record.row, column: columnOf(issue.path)?.header ?? null, message: issue.message });
    return undefined;
  }
  const { version, ...given } = parsed.data;
  return { row: record.row, given: given as ParsedRow['given'], version };
}

function duplicateCheck(rows: ParsedRow[], columns: Column[], errors: RowError[]): void {
  const header = (f: Field) => columns.find((c) => c.field === f)?.header ?? f;
  for (const field of ['assetNumber', 'serialNumber', 'mdmDeviceId'] as const) {
    const seen = new Map<string, number>();
    for (const r of rows) {
      const value = r.given[field];
      if (typeof value !== 'string') continue;
      const first = seen.get(value);
      if (first !== undefined)
        errors.push({ row: r.row, column: header(field), message: `${value} is already in row ${first}` });
      else seen.set(value, r.row);
    }
  }
}

/** Checks the whole file without the database; throws ImportRejected listing every problem. */
export function parseImport(text: string): { columns: Column[]; rows: ParsedRow[] } {
  let records: CsvRecord[];
  try {
    records = parseCsv(text);
  } catch (err) {
    if (err instanceof CsvSyntaxError)
      throw new ImportRejected([
        {
          row: err.row,
          column: null,
          message: `not valid CSV (field ${err.field}): ${err.message.replace(/^row \d+, field \d+: /, '')}`,
        },
      ]);
    throw err;
  }
  const columns = readHeader(records[0]);
  const data = records.slice(1);
  if (data.length === 0)
    throw new ImportRejected([{ row: 2, column: null, message: 'the file has a header but no rows' }]);
  if (data.length > MAX_IMPORT_ROWS) {
    throw new ImportRejected([
      { row: data[MAX_IMPORT_ROWS]!.row, column: null, message: `more than ${MAX_IMPORT_ROWS} rows; split the file` },
    ]);
  }
  const errors: RowError[] = [];
  const width = records[0]!.fields.length;
  const rows = data.map((r) => parseRow(r, columns, width, errors)).filter((r): r is ParsedRow => r !== undefined);
  duplicateCheck(rows, columns, errors);
  if (errors.length) throw rejected(errors);
  return { columns, rows };
}

function rejected(errors: RowError[]): ImportRejected {
  const sorted = [...errors].sort((a, b) => a.row - b.row);
  return new ImportRejected(sorted.slice(0, MAX_REPORTED_ERRORS), sorted.length > MAX_REPORTED_ERRORS);
}

export type RowOutcome = 'created' | 'updated' | 'unchanged';

export interface ImportResult {
  importKey: string;
  rows: number;
  created: number;
  updated: number;
  unchanged: number;
  assets: { row: number; assetNumber: string; outcome: RowOutcome; version: number }[];
}

/** Which column a database refusal is about, so the error points at the cell. */
function columnOfConstraint(err: unknown, columns: Column[]): string | null {
  const constraint = err instanceof ConstraintViolationError ? (err.constraint ?? '') : '';
  const field: Field | undefined = constraint.includes('serial')
    ? 'serialNumber'
    : constraint.includes('mdm_device')
      ? 'mdmDeviceId'
      : constraint.includes('email')
        ? 'userEmail'
        : undefined;
  return field ? (columns.find((c) => c.field === field)?.header ?? null) : null;
}

async function importRow(
  client: PoolClient,
  r: ParsedRow,
  columns: Column[],
  audit: { actor: Actor; importKey: string },
  running: ReadonlyMap<string, RunningProcess[]>,
  errors: RowError[],
): Promise<ImportResult['assets'][number] | undefined> {
  const assetNumber = r.given.assetNumber;
  // A row that changes nothing writes nothing and takes no lock: a whole-fleet file holds up no process.
  const seen = await assetsRepo.get(client, assetNumber);
  if (seen && changedFields(seen, r.given).length === 0) {
    return { row: r.row, assetNumber, outcome: 'unchanged', version: seen.version };
  }
  // Locked to the end of the import: what was checked is what is written.
  const current = seen && (await assetsRepo.getForUpdate(client, assetNumber));
  const refusal = await judgeEdit(client, assetNumber, current, r.given, r.version, running.get(assetNumber));
  if (refusal) {
    const column =
      refusal.code === 'owned-by-process' ? null : (columns.find((c) => c.field === 'version')?.header ?? null);
    errors.push({
      row: r.row,
      column,
      message: refusal.message,
      assetNumber,
      code: refusal.code,
      details: refusal.details,
    });
    return undefined;
  }
  if (!current) {
    const missing = REQUIRED_FOR_NEW.filter((f) => r.given[f] === undefined);
    if (missing.length) {
      errors.push({
        row: r.row,
        column: null,
        message: `asset ${r.given.assetNumber} does not exist; a new asset needs ${missing.join(', ')}`,
      });
      return undefined;
    }
  } else if (changedFields(current, r.given).length === 0) {
    return { row: r.row, assetNumber: current.assetNumber, outcome: 'unchanged', version: current.version };
  }
  const input = { ...(current ? pickRequired(current) : {}), ...r.given } as AssetInput;
  try {
    // upsert runs in a savepoint of this transaction: a refused row is rolled back alone and the check goes on.
    const result = await assetsRepo.upsert(client, input, {
      actor: audit.actor.id,
      actorRole: audit.actor.role,
      credential: audit.actor.credential ?? null,
      idempotencyKey: importRowKey(audit.importKey, input.assetNumber),
      details: { via: 'csv-import', importKey: audit.importKey, row: r.row },
    });
    if (!current && !result.created) {
      // Absent when read, there when written: another request created it in between, unseen by this row.
      errors.push({
        row: r.row,
        column: null,
        message: `asset ${assetNumber} was created by another request meanwhile; export it and import its row with its version`,
        assetNumber,
        code: 'version-required',
        details: { assetNumber, currentVersion: result.asset.version },
      });
      return undefined;
    }
    return {
      row: r.row,
      assetNumber: input.assetNumber,
      outcome: result.created ? 'created' : 'updated',
      version: result.asset.version,
    };
  } catch (err) {
    if (err instanceof ConstraintViolationError || err instanceof InvalidInputError) {
      errors.push({ row: r.row, column: columnOfConstraint(err, columns), message: err.message });
      return undefined;
    }
    throw err;
  }
}

function pickRequired(a: Asset): Pick<AssetInput, 'serialNumber' | 'model' | 'department' | 'location'> {
  return { serialNumber: a.serialNumber, model: a.model, department: a.department, location: a.location };
}

/**
 * Writes every row in one transaction, or nothing: rows the database refuses (a serial number another
 * asset has, say) are collected like the rest, then the transaction is rolled back.
 */
export async function importAssets(
  pool: pg.Pool,
  text: string,
  audit: { actor: Actor; importKey: string },
  runningFor: (edits: ParsedRow['given'][]) => Promise<ReadonlyMap<string, RunningProcess[]>>,
): Promise<ImportResult> {
  const { columns, rows } = parseImport(text);
  const running = await runningFor(rows.map((r) => r.given));
  return withTransaction(pool, async (client) => {
    const errors: RowError[] = [];
    const assets: ImportResult['assets'] = [];
    for (const r of rows) {
      const done = await importRow(client, r, columns, audit, running, errors);
      if (done) assets.push(done);
      if (errors.length > MAX_REPORTED_ERRORS) break;
    }
    if (errors.length) throw rejected(errors);
    const count = (o: RowOutcome) => assets.filter((a) => a.outcome === o).length;
    return {
      importKey: audit.importKey,
      rows: rows.length,
      created: count('created'),
      updated: count('updated'),
      unchanged: count('unchanged'),
      assets,
    };
  });
}

/** The audit key of one imported row; a long client key is stored by its SHA-256 to stay within 200 characters. */
function importRowKey(importKey: string, assetNumber: string): string {
  const key = `import:${importKey}:${assetNumber}`;
  if (key.length <= 200) return key;
  return `import:sha256:${createHash('sha256').update(importKey).digest('hex')}:${assetNumber}`;
}
