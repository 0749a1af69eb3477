/**
 * Moves a job along its Apple MDM commands as the device answers (called by the webhook after each
 * answer or check-in, and at send). Runs inside the caller's transaction with the job row locked, so two
 * answers arriving at once cannot add a step twice; new commands are only recorded here and handed to
 * NanoMDM afterwards (flushUnsent), so a failed enqueue is retried, never lost.
 *
 * - wipe: EraseDevice. Acknowledged: succeeded (device wiped; without keepEnrollmentData the enrolment is
 *   forgotten, as the device will never check in again under it).
 * - inactivate (not forced): ProfileList; RemoveProfile of every configuration profile it lists;
 *   ProfileList again to verify they are gone; then RemoveProfile of the enrolment (MDM) profile.
 *   Succeeded when that is acknowledged or the device checks out.
 * - Error or CommandFormatError at any step: failed with the device's error chain. NotNow: still pending
 *   (NanoMDM hands the command out again at the device's next Idle).
 */
import type pg from 'pg';
import type { MdmProfile } from '../port';
import { derivedUuid, eraseDevice, profileList, removeProfile, type AppleCommand } from './appleCommands';
import { profilesFromProfileList } from './profiles';
import { addCommand, commandsOfJob, setJobStatus, type CommandRow, type JobRow } from './store';

const ANSWERED_BADLY = new Set(['Error', 'CommandFormatError']);

export async function progressJob(tx: pg.PoolClient, jobId: string): Promise<void> {
  const { rows } = await tx.query<JobRow>('SELECT * FROM nanomdm_jobs WHERE job_id = $1 FOR UPDATE', [jobId]);
  const job = rows[0];
  if (!job || job.status === 'succeeded' || job.status === 'failed') return;
  const commands = await commandsOfJob(tx, jobId);
  const step = (name: string) => commands.find((c) => c.step === name);
  const add = (name: string, make: (uuid: string) => AppleCommand) =>
    addCommand(tx, job.enrollment_id, jobId, name, make(derivedUuid(jobId, name)));

  const failed = commands.find((c) => c.status && ANSWERED_BADLY.has(c.status));
  if (failed) return setJobStatus(tx, jobId, 'failed', deviceError(failed));
  const pending = () =>
    setJobStatus(tx, jobId, commands.some((c) => c.status === 'Acknowledged') ? 'acknowledged' : 'queued');

  if (job.type === 'wipe') {
    const erase = step('erase');
    if (!erase) return add('erase', eraseDevice);
    if (erase.status !== 'Acknowledged') return pending();
    const forget = job.options.keepEnrollmentData === false;
    await tx.query(
      `UPDATE nanomdm_devices SET wiped_at = coalesce(wiped_at, now()), updated_at = now(),
              forgotten_at = CASE WHEN $2 THEN coalesce(forgotten_at, now()) ELSE forgotten_at END
        WHERE enrollment_id = $1`,
      [job.enrollment_id, forget],
    );
    return setJobStatus(tx, jobId, 'succeeded');
  }
  if (job.type === 'inactivate') return progressInactivation(tx, job, step, add, pending);
}

async function progressInactivation(
  tx: pg.PoolClient,
  job: JobRow,
  step: (name: string) => CommandRow | undefined,
  add: (name: string, make: (uuid: string) => AppleCommand) => Promise<void>,
  pending: () => Promise<void>,
): Promise<void> {
  const done = async () => {
    await tx.query(
      // The enrolment profile is gone: it leaves the inventory too (CheckOut, which follows, does the same).
      `UPDATE nanomdm_devices SET inactive_at = coalesce(inactive_at, now()), updated_at = now(),
              profiles = (SELECT coalesce(jsonb_agg(p), '[]'::jsonb) FROM jsonb_array_elements(profiles) p
                           WHERE p->>'kind' <> 'mdm')
        WHERE enrollment_id = $1`,
      [job.enrollment_id],
    );
    await setJobStatus(tx, job.job_id, 'succeeded');
  };
  const { rows } = await tx.query<{ checked_out_at: Date | null }>(
    'SELECT checked_out_at FROM nanomdm_devices WHERE enrollment_id = $1',
    [job.enrollment_id],
  );
  if (rows[0]?.checked_out_at && rows[0].checked_out_at >= job.requested_at) return done();

  const inventory = step('inventory');
  if (!inventory) return add('inventory', profileList);
  if (inventory.status !== 'Acknowledged') return pending();
  const configuration = listed(inventory).filter((p) => p.kind !== 'mdm');
  for (const p of configuration)
    if (!step(`remove:${p.identifier}`)) await add(`remove:${p.identifier}`, (u) => removeProfile(u, p.identifier));
  if (configuration.some((p) => step(`remove:${p.identifier}`)?.status !== 'Acknowledged')) return pending();

  const verify = step('verify');
  if (!verify) return add('verify', profileList);
  if (verify.status !== 'Acknowledged') return pending();
  const remaining = listed(verify);
  const left = remaining.filter((p) => p.kind !== 'mdm');
  if (left.length > 0) {
    return setJobStatus(tx, job.job_id, 'failed', {
      code: 'profiles_remain',
      message: `ProfileList after RemoveProfile still shows ${left.map((p) => p.identifier).join(', ')}`,
    });
  }
  const mdmProfiles = remaining.filter((p) => p.kind === 'mdm');
  for (const p of mdmProfiles)
    if (!step(`remove-mdm:${p.identifier}`))
      await add(`remove-mdm:${p.identifier}`, (u) => removeProfile(u, p.identifier));
  if (mdmProfiles.some((p) => step(`remove-mdm:${p.identifier}`)?.status !== 'Acknowledged')) return pending();
  return done();
}

function listed(c: CommandRow): MdmProfile[] {
  return profilesFromProfileList((c.result as { ProfileList?: unknown } | null)?.ProfileList);
}

/** The device's answer as the job's error: which command, and Apple's error chain. */
function deviceError(c: CommandRow): { code: string; message: string } {
  const chain = Array.isArray(c.error_chain) ? (c.error_chain as Array<Record<string, unknown>>) : [];
  const text = chain
    .map(
      (e) =>
        `${String(e.ErrorDomain ?? '?')} ${String(e.ErrorCode ?? '?')}: ${String(e.USEnglishDescription ?? e.LocalizedDescription ?? '')}`,
    )
    .join(' <- ');
  return {
    code: c.status === 'CommandFormatError' ? 'command_format_error' : 'device_error',
    message: `${c.request_type} answered ${c.status}${text ? `: ${text}` : ''}`,
  };
}
