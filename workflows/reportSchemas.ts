/**
 * Shapes of the human reports and admin commands. The API validates request bodies with these (400 that
 * names the field) and the workflows validate again in their update validators, so a report sent from
 * the Temporal UI or CLI is held to the same rules. Pure and deterministic: safe in workflow code.
 */
import { z } from 'zod';
import type { FieldProblem } from './refusals';

const text = (max: number) => z.string().trim().min(1).max(max);
const note = text(2000).optional();

export const actorSchema = z.strictObject({
  id: text(200),
  role: z.enum(['admin', 'field-staff', 'viewer', 'operator']),
  name: text(200).optional(),
  /** Which credential acted (`key:<id>`, `oidc:<iss>|<sub>`, `static:<actor>`), as the API authenticated it. */
  credential: z
    .string()
    .trim()
    .max(600)
    .regex(/^[a-z]+:./, 'must be kind:reference, like key:<id> or static:<actor>')
    .optional(),
});

export const newUserSchema = z.strictObject({
  department: text(200),
  location: text(200),
  name: text(200),
  // A pattern of its own (zod's, copied): zod's shared one is frozen in workflows (workflows/sharedModules.ts)
  // and zod resets a pattern's lastIndex before each use.
  email: z
    .string()
    .trim()
    .email({ pattern: new RegExp(z.regexes.email) })
    .max(320),
  phone: z
    .string()
    .trim()
    .regex(/^[0-9+()\-\s]{3,40}$/, 'digits, spaces, + ( ) - only')
    .optional(),
});

export const eventPayloadSchemas = {
  'device-collected': z.strictObject({
    collectedBy: text(200),
    storageLocation: text(200).optional(),
    note,
  }),
  'wipe-confirmed': z.strictObject({ note }),
  'device-reenrolled': z.strictObject({ mdmDeviceId: text(200).optional(), note }),
  'user-assigned': z
    .strictObject({ applicationId: text(100).optional(), user: newUserSchema.optional(), note })
    .refine((v) => Boolean(v.applicationId) !== Boolean(v.user), {
      message: 'give exactly one of applicationId or user',
      path: ['user'],
    }),
  'device-delivered': z.strictObject({
    receivedBy: text(200),
    signature: text(200_000),
    deliveredAt: z.string().datetime({ offset: true }).optional(),
    note,
  }),
  'removal-profile-installed': z.strictObject({ note }),
  'profile-removal-failed': z.strictObject({ reason: text(2000) }),
  'profiles-removed': z.strictObject({ note }),
  'app-removed': z.strictObject({ note }),
} as const;

export type HumanEventName = keyof typeof eventPayloadSchemas;
export const HUMAN_EVENTS = Object.keys(eventPayloadSchemas) as HumanEventName[];
export type EventPayload<E extends HumanEventName> = z.infer<(typeof eventPayloadSchemas)[E]>;

export const reportSchema = z.strictObject({
  actor: actorSchema,
  /**
   * The step of the task the reporter saw. Optional; when given, a report that arrives after the process
   * has moved on is refused instead of landing on the next task (an event can fit two steps in a row).
   */
  step: z
    .string()
    .regex(/^[a-z][a-z-]{0,63}$/, 'must be a step name like awaiting-collection')
    .optional(),
  idempotencyKey: z
    .string()
    .trim()
    .min(8)
    .max(200)
    .regex(/^[A-Za-z0-9._:\-/]+$/, 'letters, digits and . _ : - / only'),
  data: z.record(z.string(), z.unknown()).default({}),
});

/** What an admin chooses at a decision that offers a choice (after a factory reset: mdm-weather-1). */
export const RETRY_RESOLUTIONS = ['reenrol', 'retire-as-reset'] as const;

export const adminCommandSchema = z.strictObject({
  actor: actorSchema,
  idempotencyKey: reportSchema.shape.idempotencyKey,
  reason: text(2000).optional(),
  /** With `retry` after a factory reset: re-enrol and try again (default), or retire the asset as reset. */
  resolution: z.enum(RETRY_RESOLUTIONS).optional(),
});

export type Actor = z.infer<typeof actorSchema>;
export type NewUser = z.infer<typeof newUserSchema>;
export type AdminCommand = z.infer<typeof adminCommandSchema>;
export interface HumanReport<E extends HumanEventName = HumanEventName> {
  actor: Actor;
  step?: string;
  idempotencyKey: string;
  data: EventPayload<E>;
}

/**
 * Reports that decide something are admin-only (DESIGN §3 "Who may report what"): why, or undefined when
 * anyone who may report may send this one. `wipe-confirmed` has the MDM record deleted next; `user-assigned`
 * with free user details hands the device (and the official delivery mail) to anyone, while field staff
 * may only pick an existing application.
 */
export function adminOnlyReason(event: string, data: unknown): string | undefined {
  if (event === 'wipe-confirmed') {
    return 'wipe-confirmed is for admins only: the device record is deleted from the MDM on its word';
  }
  const user = (data as { user?: unknown } | undefined)?.user;
  if (event === 'user-assigned' && user !== undefined) {
    return 'user-assigned with user details is for admins only; field staff assign an existing application (applicationId)';
  }
  return undefined;
}

export function isHumanEvent(name: string): name is HumanEventName {
  return Object.prototype.hasOwnProperty.call(eventPayloadSchemas, name);
}

/** One `{ field, problem }` per issue, with the field's dotted path under `prefix`, so a refusal names it. */
export function describeIssues(error: z.ZodError, prefix?: string): FieldProblem[] {
  return error.issues.map((i) => {
    const path = i.path.map(String).join('.');
    const field = prefix ? (path ? `${prefix}.${path}` : prefix) : path || '(body)';
    return { field, problem: i.message };
  });
}

/** Validates a report for `event`; returns it with a typed payload or throws with the fields named. */
export function parseReport<E extends HumanEventName>(event: E, raw: unknown): HumanReport<E> {
  const envelope = reportSchema.safeParse(raw);
  if (!envelope.success) throw new ReportInvalid(describeIssues(envelope.error));
  const payload = eventPayloadSchemas[event].safeParse(envelope.data.data);
  if (!payload.success) throw new ReportInvalid(describeIssues(payload.error, 'data'));
  return { ...envelope.data, data: payload.data as EventPayload<E> };
}

export class ReportInvalid extends Error {
  constructor(readonly problems: FieldProblem[]) {
    super(`invalid report: ${problems.map((p) => `${p.field}: ${p.problem}`).join('; ')}`);
    this.name = 'ReportInvalid';
  }
}
