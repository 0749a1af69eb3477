/**
 * What many test files build the same way: asset numbers, dates, the people who act, the reports and
 * commands they send, workflow inputs, and the audit trail a finished process leaves.
 */
import { randomInt, randomUUID } from 'node:crypto';
import {
  DEFAULT_TIMINGS,
  type AdminCommand,
  type ChangeUserInput,
  type HumanEventName,
  type HumanReport,
  type InactivationInput,
  type LifecycleTimings,
} from '../../workflows/definitions';
import { PATIENCE_MS } from './patience';

export { PATIENCE_MS } from './patience';

export const DAY_MS = 86_400_000;

/** A calendar date (YYYY-MM-DD) `days` from today, as the API takes planned dates. */
export const dateInDays = (days: number): string => new Date(Date.now() + days * DAY_MS).toISOString().slice(0, 10);

const issued = new Set<string>();

/**
 * An asset number no other test in this process has (A-100000 to A-999999). Other test files share the
 * Temporal dev server, whose workflow ids (`device-<asset>`) are one per device: random keeps files apart.
 */
export function newAssetNumber(): string {
  for (;;) {
    const assetNumber = `A-${randomInt(100_000, 1_000_000)}`;
    if (!issued.has(assetNumber)) {
      issued.add(assetNumber);
      return assetNumber;
    }
  }
}

/** Numbered asset numbers for one test file: `no(1)`, `no(2)`…, all in one random block of a thousand. */
export interface AssetSeries {
  (n: number): string;
  /** The block's first number, for names that must be unique to this file too (departments, serials). */
  readonly base: number;
}

export function assetSeries(): AssetSeries {
  const base = randomInt(100, 900) * 1000;
  const no = (n: number) => {
    const assetNumber = `A-${String(base + n).padStart(6, '0')}`;
    issued.add(assetNumber); // newAssetNumber() keeps clear of it
    return assetNumber;
  };
  return Object.assign(no, { base });
}

/** The people who act in workflow tests: an admin starts and decides, field staff report. */
export const admin = { id: 'alice.admin@example.com', role: 'admin' as const };
export const field = { id: 'bob.field@example.com', role: 'field-staff' as const };

/** A report as a person sends it to a workflow: who, a fresh idempotency key, and what they report. */
export function report<E extends HumanEventName = HumanEventName>(
  data: Record<string, unknown> = {},
  actor: HumanReport['actor'] = field,
): HumanReport<E> {
  return { actor, idempotencyKey: `k-${randomUUID()}`, data } as unknown as HumanReport<E>;
}

/** An admin command (retry, abort, cancel) with a fresh idempotency key. */
export function command(reason?: string, actor: AdminCommand['actor'] = admin): AdminCommand {
  return { actor, idempotencyKey: `cmd-${randomUUID()}`, ...(reason ? { reason } : {}) };
}

/**
 * Timings for workflows started by tests: the MDM is polled every few hundred ms; reminders and
 * escalations stay days away, and the inactivation's verification deadline is one no correct run reaches.
 */
export const FAST_TIMINGS: LifecycleTimings = {
  ...DEFAULT_TIMINGS,
  pollInitialMs: 100,
  pollMaxMs: 400,
  verifyDeadlineMs: PATIENCE_MS,
};

/** The new user a change-user process hands the device to, unless a test says otherwise. */
export const NEW_USER = {
  department: 'Engineering',
  location: 'Osaka',
  name: 'Yuki New',
  email: 'y.new@example.com',
  phone: '+81 6 0000 0000',
};

export function changeUserInput(assetNumber: string, extra: Partial<ChangeUserInput> = {}): ChangeUserInput {
  return {
    assetNumber,
    reason: 'Employee moved to another team',
    plannedCollectionDate: new Date(Date.now() + 7 * DAY_MS).toISOString(),
    storageLocation: 'Tokyo HQ IT store',
    keepRecordAfterWipe: true,
    requestedBy: admin,
    adminInCharge: { name: 'IT Admin', email: 'it-admin@example.com', department: 'IT' },
    timings: FAST_TIMINGS,
    newUser: NEW_USER,
    ...extra,
  };
}

export function inactivationInput(assetNumber: string, extra: Partial<InactivationInput> = {}): InactivationInput {
  return {
    assetNumber,
    reason: 'Contract ended',
    forced: false,
    finalStatus: 'retired',
    maxAttempts: 3,
    requestedBy: admin,
    timings: FAST_TIMINGS,
    ...extra,
  };
}

/** The audit trail of a non-forced inactivation that went the one safe way (DESIGN §3.2), in order. */
export const SAFE_INACTIVATION_TRAIL = [
  'inactivation-requested',
  'removal-profile-installed',
  'profiles-removed',
  'app-removed',
  'inactivation-verified',
  'mdm-record-deleted',
  'inactivation-completed',
];
