/**
 * The one vocabulary of refusals. A workflow refuses a report or an admin command by throwing one of
 * these from an Update validator (nothing is written) or handler; the API reads the same types and
 * details back to build its 400/409 answers. Both sides import this module, so neither matches strings.
 * Pure and deterministic: safe in workflow code.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { HumanEventName } from './reportSchemas';

/** `ApplicationFailure.type` of each refusal. The strings are part of the wire contract: never rename. */
export const Refusal = {
  /** The report does not fit the current step (or the process waits for no report). */
  eventNotExpected: 'EventNotExpected',
  /** The report or command is malformed: `details.problems` names each field. */
  invalidReport: 'InvalidReport',
  /** cancel / retry / abort is not possible in the process's current status. */
  commandNotAllowed: 'CommandNotAllowed',
  /** The idempotency key was already used for another event or another body. */
  idempotencyKeyReused: 'IdempotencyKeyReused',
  /** The process took its hourly limit of reports; `retryAfterSeconds` says when one is free again. */
  rateLimited: 'RateLimited',
  /** The MDM shows the device otherwise than the report says (mdm-weather-1): `details.mdm` is its view. */
  contradictedByMdm: 'ContradictedByMdm',
  /** The reporter's role may not send this report (admin-only events; who-reports-1). */
  notPermitted: 'NotPermitted',
} as const;
export type RefusalType = (typeof Refusal)[keyof typeof Refusal];

/** One problem with one field, as every 400 of the API lists them. */
export interface FieldProblem {
  field: string;
  problem: string;
}

/** Where the process stands when it refuses: what the caller needs to send the right thing next. */
export interface ProcessPosition {
  step: string;
  status: string;
  expects: HumanEventName[];
}

/** What differs from the request the key was first used for. */
export interface KeyReuse {
  idempotencyKey: string;
  differs: ('event' | 'body')[];
  firstEvent: string;
}

export interface RefusalDetails {
  EventNotExpected: ProcessPosition;
  InvalidReport: { problems: FieldProblem[] };
  CommandNotAllowed: ProcessPosition;
  IdempotencyKeyReused: KeyReuse;
  RateLimited: ReportRate;
  ContradictedByMdm: ProcessPosition & { mdm: Record<string, unknown> };
  NotPermitted: { event: string; role: string };
}

export interface ReportRate {
  limit: number;
  windowSeconds: number;
  retryAfterSeconds: number;
}

function refuse<T extends RefusalType>(type: T, message: string, details: RefusalDetails[T]): ApplicationFailure {
  return ApplicationFailure.create({ type, message, details: [details], nonRetryable: true });
}

export function eventNotExpected(message: string, position: ProcessPosition): ApplicationFailure {
  return refuse(Refusal.eventNotExpected, message, position);
}

export function invalidReport(message: string, problems: FieldProblem[]): ApplicationFailure {
  return refuse(Refusal.invalidReport, message, { problems });
}

export function commandNotAllowed(message: string, position: ProcessPosition): ApplicationFailure {
  return refuse(Refusal.commandNotAllowed, message, position);
}

export function idempotencyKeyReused(reuse: KeyReuse): ApplicationFailure {
  const what = reuse.differs.join(' and ');
  const message = `idempotency key ${reuse.idempotencyKey} was already used for another request (${what} differ; first used for ${reuse.firstEvent})`;
  return refuse(Refusal.idempotencyKeyReused, message, reuse);
}

export function rateLimited(rate: ReportRate): ApplicationFailure {
  const message = `this process takes at most ${rate.limit} reports per hour; try again in ${rate.retryAfterSeconds} s`;
  return refuse(Refusal.rateLimited, message, rate);
}

export function notPermitted(message: string, who: { event: string; role: string }): ApplicationFailure {
  return refuse(Refusal.notPermitted, message, who);
}

export function contradictedByMdm(
  message: string,
  position: ProcessPosition,
  mdm: Record<string, unknown>,
): ApplicationFailure {
  return refuse(Refusal.contradictedByMdm, message, { ...position, mdm });
}

/** A refusal read back from a failure: its type, message and typed details; undefined for anything else. */
export type ReadRefusal = {
  [T in RefusalType]: { type: T; message: string; details: RefusalDetails[T] };
}[RefusalType];

export function readRefusal(failure: unknown): ReadRefusal | undefined {
  if (!(failure instanceof ApplicationFailure)) return undefined;
  const type = failure.type as RefusalType;
  if (!Object.values(Refusal).includes(type)) return undefined;
  const first = failure.details?.[0];
  const details = (first && typeof first === 'object' ? first : {}) as Record<string, unknown>;
  if (type === Refusal.idempotencyKeyReused) {
    const differs = Array.isArray(details.differs) ? (details.differs.map(String) as KeyReuse['differs']) : [];
    const reuse: KeyReuse = {
      idempotencyKey: String(details.idempotencyKey ?? ''),
      differs,
      firstEvent: String(details.firstEvent ?? ''),
    };
    return { type, message: failure.message, details: reuse };
  }
  if (type === Refusal.rateLimited) {
    const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
    const rate: ReportRate = {
      limit: n(details.limit),
      windowSeconds: n(details.windowSeconds),
      retryAfterSeconds: Math.max(1, n(details.retryAfterSeconds)),
    };
    return { type, message: failure.message, details: rate };
  }
  if (type === Refusal.notPermitted) {
    return { type, message: failure.message, details: { event: String(details.event), role: String(details.role) } };
  }
  if (type === Refusal.contradictedByMdm) {
    const mdm = details.mdm && typeof details.mdm === 'object' ? (details.mdm as Record<string, unknown>) : {};
    return { type, message: failure.message, details: { ...positionOf(details), mdm } };
  }
  if (type === Refusal.invalidReport) {
    const problems = Array.isArray(details.problems) ? details.problems.map(asFieldProblem) : [];
    return { type, message: failure.message, details: { problems } };
  }
  return { type, message: failure.message, details: positionOf(details) };
}

function positionOf(details: Record<string, unknown>): ProcessPosition {
  return {
    step: typeof details.step === 'string' ? details.step : 'unknown',
    status: typeof details.status === 'string' ? details.status : 'unknown',
    expects: Array.isArray(details.expects) ? (details.expects.map(String) as HumanEventName[]) : [],
  };
}

function asFieldProblem(p: unknown): FieldProblem {
  const o = p as Partial<FieldProblem> | undefined;
  if (o && typeof o.field === 'string' && typeof o.problem === 'string') return { field: o.field, problem: o.problem };
  return { field: '(body)', problem: String(p) };
}
