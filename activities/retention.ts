/**
 * Retention (DESIGN §6, issue 12 item 8): erases the personal data of processes closed more than
 * `retentionDays` ago, through the database's one controlled path, erase_expired_personal_data (migration
 * 0011: a SECURITY DEFINER function of the schema owner; the runtime role has no UPDATE right on the audit
 * trail). Audit rows keep their facts, personal fields become '[erased]'; signatures are deleted (the trail
 * keeps the receipt id and hash); finished applications lose their user's contact details.
 */
import { Context } from '@temporalio/activity';
import type pg from 'pg';

export interface EraseArgs {
  /** The retention clock: erasure is computed as of this instant (ISO 8601); default now. */
  now?: string;
}

export interface ErasureResult {
  /** Data older than this was erased. */
  cutoff: string;
  auditEvents: number;
  signatures: number;
  applications: number;
}

export interface RetentionActivities {
  erasePersonalData(args: EraseArgs): Promise<ErasureResult>;
}

export interface RetentionDeps {
  db: pg.Pool;
  retentionDays: number;
  /** Rows per kind per database call: each call is a short transaction under the statement timeout. */
  batchSize?: number;
}

const DAY_MS = 86_400_000;

/** Heartbeats when run as an activity (so a long first run is not taken for a lost worker); no-op otherwise. */
function heartbeat(progress: ErasureResult): void {
  try {
    Context.current().heartbeat(progress);
  } catch {
    // called outside an activity (a script or a test): nothing to report to
  }
}

export function createRetentionActivities(deps: RetentionDeps): RetentionActivities {
  const batch = deps.batchSize ?? 1_000;
  return {
    async erasePersonalData({ now }) {
      const at = now === undefined ? new Date() : new Date(now);
      if (Number.isNaN(at.getTime())) throw new TypeError(`now: "${now}" is not an ISO 8601 instant`);
      const cutoff = new Date(at.getTime() - deps.retentionDays * DAY_MS).toISOString();
      const total: ErasureResult = { cutoff, auditEvents: 0, signatures: 0, applications: 0 };
      // Each call erases a batch and commits; a retried attempt simply continues with what is left.
      for (;;) {
        const { rows } = await deps.db.query<{ audit_events: number; signatures: number; applications: number }>(
          'SELECT audit_events, signatures, applications FROM erase_expired_personal_data($1, $2)',
          [cutoff, batch],
        );
        const done = rows[0]!;
        total.auditEvents += done.audit_events;
        total.signatures += done.signatures;
        total.applications += done.applications;
        heartbeat(total);
        if (done.audit_events < batch && done.signatures < batch && done.applications < batch) return total;
      }
    },
  };
}
