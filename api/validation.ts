/**
 * Turning request input into typed values, or a 400 that names the field and why. Path identifiers are
 * checked here before anything uses them (no unchecked string reaches Temporal, SQL or a log line).
 */
import type { Request } from 'express';
import type { z } from 'zod';
import { isHumanEvent, type HumanEventName } from '../workflows/reportSchemas';
import { invalidInput, problemsFromZod } from './errors';
import { ASSET_NUMBER_PATTERN, HUMAN_EVENTS, WORKFLOW_ID_PATTERN } from './schemas';

export function parseBody<S extends z.ZodType>(schema: S, req: Request): z.infer<S> {
  // No body at all (or a body express.json did not read) is an empty object to the schema: it then
  // names every required field instead of saying "expected object".
  const raw: unknown = req.body === undefined ? {} : req.body;
  const result = schema.safeParse(raw);
  if (!result.success) throw invalidInput('invalid request body', problemsFromZod(result.error));
  return result.data;
}

export function parseQuery<S extends z.ZodType>(schema: S, req: Request): z.infer<S> {
  const query = req.query as Record<string, unknown>;
  const repeated = Object.keys(query).filter((k) => Array.isArray(query[k]) || typeof query[k] === 'object');
  if (repeated.length) {
    throw invalidInput(
      'invalid query',
      repeated.map((field) => ({ field, problem: 'must be given once, as a plain value' })),
    );
  }
  const result = schema.safeParse(query);
  if (!result.success) throw invalidInput('invalid query', problemsFromZod(result.error));
  return result.data;
}

function pathParam(req: Request, name: string): string {
  const value = req.params[name];
  return typeof value === 'string' ? value : '';
}

export function assetNumberParam(req: Request, name = 'assetNumber'): string {
  const value = pathParam(req, name);
  if (!ASSET_NUMBER_PATTERN.test(value)) {
    throw invalidInput('invalid path', [{ field: name, problem: 'must be an asset number like A-000123' }]);
  }
  return value;
}

export function workflowIdParam(req: Request, name = 'workflowId'): string {
  const value = pathParam(req, name);
  if (!WORKFLOW_ID_PATTERN.test(value)) {
    throw invalidInput('invalid path', [{ field: name, problem: 'must be a workflow id like device-A-000123' }]);
  }
  return value;
}

export function eventParam(req: Request, name = 'event'): HumanEventName {
  const value = pathParam(req, name);
  if (!isHumanEvent(value)) {
    throw invalidInput('invalid path', [{ field: name, problem: `must be one of ${HUMAN_EVENTS.join(', ')}` }]);
  }
  return value;
}

const DAY_MS = 86_400_000;

/**
 * A collection planned in the past would fire its reminders and escalation at once. Two days of slack
 * covers time zones (a date is the agreed local day); two years out is surely a typo.
 */
export function checkPlannedDate(value: string, now: Date): void {
  const at = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value);
  if (at < now.getTime() - 2 * DAY_MS) {
    throw invalidInput('invalid request body', [
      { field: 'plannedCollectionDate', problem: 'must not be in the past' },
    ]);
  }
  if (at > now.getTime() + 730 * DAY_MS) {
    throw invalidInput('invalid request body', [
      { field: 'plannedCollectionDate', problem: 'must be within two years' },
    ]);
  }
}
