/**
 * The lifecycle activities, built from their dependencies so the worker and the tests wire real or test
 * parts without module mocks. Each one is safe to retry: audit events and MDM commands carry the step's
 * idempotency key, and MDM state is read before acting.
 */
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import * as applications from '../db/applicationsRepo';
import * as assets from '../db/assetsRepo';
import * as events from '../db/assetEventsRepo';
import { withTransaction } from '../db/pool';
import * as tasks from '../db/tasksRepo';
import { ApplicationUnavailableError, NotFoundError, type Application, type Asset, type AssetPatch } from '../db/types';
import type { Mailer } from '../mail/mailer';
import { MdmRejectedError } from '../mdm/errors';
import { isTerminal, type MdmCommand, type MdmCommandStatus, type MdmPort } from '../mdm/port';
import type { NewUser } from '../workflows/reportSchemas';
import { taskContactOf } from '../workflows/taskContact';
import { snapshot, stepEvent } from './stepRecords';
import type {
  AssetSnapshot,
  DeviceInstructionArgs,
  LifecycleActivities,
  MdmJobRef,
  Notice,
  StepContext,
  UndoPlannedResult,
} from './contracts';
import { NoDeviceInstructionsError, renderDeviceInstructions } from './deviceInstructions/render';
import { createDistributionActivities } from './distribution';
import type { MailLanguage } from './deviceInstructions/procedures';
import { withFailureMapping } from './failures';
import { collectionNotice, deliveryNotice } from './notices';
import { createRetentionActivities } from './retention';
import { createSummaryReportActivities } from './summaryReport';

export interface ActivityDeps {
  db: pg.Pool;
  mdm: MdmPort;
  mail: Mailer;
  adminEmails: string[];
  /** The language of the device user's instruction mails (config MAIL_LANGUAGE); default English. */
  mailLanguage?: MailLanguage;
  /** Personal data of processes closed this many days ago is erased (config RETENTION_DAYS); default 365. */
  retentionDays?: number;
}

export function createActivities(deps: ActivityDeps): LifecycleActivities {
  const { db, mdm } = deps;

  const change = async (ctx: StepContext, patch: AssetPatch, eventType: string, details: Record<string, unknown>) =>
    snapshot(
      (await assets.applyChange(db, ctx.assetNumber, patch, { event: stepEvent(ctx, eventType, details) })).asset,
    );

  const requireAsset = async (assetNumber: string): Promise<Asset> => {
    const asset = await assets.get(db, assetNumber);
    if (!asset) throw ApplicationFailure.nonRetryable(`asset ${assetNumber} does not exist`, 'AssetNotFound');
    return asset;
  };

  const requireMdmId = async (assetNumber: string): Promise<string> => {
    const asset = await requireAsset(assetNumber);
    if (!asset.mdmDeviceId)
      throw ApplicationFailure.nonRetryable(`asset ${assetNumber} has no MDM device id`, 'NoMdmDevice');
    return asset.mdmDeviceId;
  };

  /**
   * Sends a mail once per key: the audit event is the record that it went out, so a retry after the
   * event was written sends nothing; a retry between send and write re-sends with the same Message-ID.
   */
  const notifyOnce = async (
    ctx: StepContext,
    kind: string,
    notice: Notice,
    suffix = ':notice',
    extra: Record<string, unknown> = {},
  ) => {
    const key = ctx.idempotencyKey + suffix;
    if (await events.getByIdempotencyKey(db, key)) return;
    const to = notice.to.length > 0 ? notice.to : deps.adminEmails;
    const { messageId } = await deps.mail.send({ to, subject: notice.subject, text: notice.text, idempotencyKey: key });
    await events.record(
      db,
      ctx.assetNumber,
      stepEvent(ctx, 'notice-sent', { kind, ...extra, to, subject: notice.subject, messageId }, suffix),
    );
  };

  /**
   * An unfinished command of the same type blocks a new one (409 command_pending). One from an earlier
   * attempt of this workflow is cancelled when the MDM can cancel (recorded once per key); otherwise (the
   * MDM cannot cancel, or the command is someone else's) the activity fails as MDM weather with a
   * five-minute hint, and the workflow waits it out and tries again (issue 10, requirement 7).
   */
  const clearOpenCommand = async (
    ctx: StepContext,
    deviceId: string,
    type: MdmCommand['type'],
    known: MdmCommandStatus[],
  ) => {
    const open = known.find((c) => c.type === type && !isTerminal(c.status) && c.idempotencyKey !== ctx.idempotencyKey);
    if (!open) return;
    const ours = open.idempotencyKey?.startsWith(`${ctx.workflowId}:`) ?? false;
    if (!ours || !mdm.cancelCommand || (!open.jobId && !open.idempotencyKey)) throw commandPending(open);
    const after = await mdm.cancelCommand({ deviceId, jobId: open.jobId, idempotencyKey: open.idempotencyKey ?? '' });
    await events.record(
      db,
      ctx.assetNumber,
      stepEvent(
        ctx,
        'mdm-command-cancelled',
        { mdmDeviceId: deviceId, jobId: open.jobId ?? null, command: type, status: after?.status ?? null },
        ':cancel-open',
      ),
    );
  };

  const send = async (ctx: StepContext, deviceId: string, command: MdmCommand): Promise<MdmCommandStatus> => {
    try {
      return await mdm.sendCommand({ ...command, deviceId, idempotencyKey: ctx.idempotencyKey });
    } catch (err) {
      if (err instanceof MdmRejectedError && err.mdmCode === 'command_pending') throw commandPending();
      throw err;
    }
  };

  /** Sends an MDM command unless the MDM already has one with this key (checked first, then deduplicated). */
  const commandOnce = async (ctx: StepContext, command: MdmCommand, eventType: string): Promise<MdmJobRef> => {
    const deviceId = await requireMdmId(ctx.assetNumber);
    const commands = await mdm.listCommands(deviceId);
    const known = commands.find((c) => c.idempotencyKey === ctx.idempotencyKey);
    if (!known) await clearOpenCommand(ctx, deviceId, command.type, commands);
    const sent: MdmCommandStatus = known ?? (await send(ctx, deviceId, command));
    await events.record(
      db,
      ctx.assetNumber,
      stepEvent(ctx, eventType, {
        mdmDeviceId: deviceId,
        jobId: sent.jobId ?? null,
        command: command.type,
        options: command.options ?? {},
      }),
    );
    return { deviceId, jobId: sent.jobId, idempotencyKey: ctx.idempotencyKey };
  };

  /** The step's mail for the asset; no procedure for its platform, or no such step, fails for good. */
  const instructionsFor = (asset: AssetSnapshot, args: DeviceInstructionArgs, language: MailLanguage) => {
    try {
      return renderDeviceInstructions(asset, args, language, deps.adminEmails);
    } catch (err) {
      if (err instanceof NoDeviceInstructionsError)
        throw ApplicationFailure.nonRetryable(err.message, 'NoDeviceInstructions');
      throw err;
    }
  };

  /** See LifecycleActivities.undoPlanned. */
  const undoPlanned = async (ctx: StepContext, firstRunId: string): Promise<UndoPlannedResult> => {
    const trail = await events.listForWorkflow(db, ctx.workflowId, { fromRunId: firstRunId });
    const result: UndoPlannedResult = { undone: [], kept: [] };
    const scheduled = trail.find((e) => e.eventType === 'collection-scheduled');
    const planned = scheduled?.details as { plannedDate?: string; previousPlan?: Record<string, unknown> } | undefined;
    const asset = await requireAsset(ctx.assetNumber);
    if (trail.some((e) => e.eventType === 'user-assigned')) {
      result.kept.push('the new user was already assigned: the plan was carried out');
    } else if (planned && !planned.previousPlan) {
      result.kept.push('the plan before this process is not known (it started before records-1)');
    } else if (planned?.previousPlan) {
      const ours = asset.plannedStatus === 'in_stock' && asset.plannedDate === planned.plannedDate?.slice(0, 10);
      if (!ours) result.kept.push('the planned status or date was changed since this process set it');
      else {
        const previous = planned.previousPlan as Pick<Asset, 'plannedStatus' | 'plannedDate'>;
        await change({ ...ctx, idempotencyKey: `${ctx.idempotencyKey}:plan` }, previous, 'plan-restored', {
          restored: previous,
          replaced: { plannedStatus: asset.plannedStatus, plannedDate: asset.plannedDate },
        });
        result.undone.push('plan-restored');
      }
    }
    if (await releaseApplication(ctx)) result.undone.push('application-released');
    return result;
  };

  /** Releases the application this workflow holds, if any, with its audit event, in one transaction. */
  const releaseApplication = async (ctx: StepContext): Promise<boolean> => {
    const key = `${ctx.idempotencyKey}:application`;
    if (await events.getByIdempotencyKey(db, key)) return true;
    const app = await applications.getOpenForWorkflow(db, ctx.workflowId);
    if (!app) return false;
    await withTransaction(db, async (tx) => {
      await applications.releaseReservation(tx, app.id, ctx.workflowId);
      await events.record(
        tx,
        ctx.assetNumber,
        stepEvent(ctx, 'application-released', { applicationId: app.id }, ':application'),
      );
    });
    return true;
  };

  const activities: LifecycleActivities = {
    async loadAsset(assetNumber) {
      return snapshot(await requireAsset(assetNumber));
    },

    async recordEvent(ctx, eventType, details, bookkeeping) {
      if (!bookkeeping?.open && bookkeeping?.closeThrough === undefined) {
        await events.record(db, ctx.assetNumber, stepEvent(ctx, eventType, details));
        return;
      }
      // One transaction: the audit event (once per key) and the task index move together. The task
      // writes run on every attempt; each is idempotent by itself (tasksRepo).
      await withTransaction(db, async (tx) => {
        await events.record(tx, ctx.assetNumber, stepEvent(ctx, eventType, details));
        if (bookkeeping.closeThrough !== undefined) {
          await tasks.closeThrough(tx, { workflowId: ctx.workflowId, runId: ctx.runId }, bookkeeping.closeThrough);
        }
        if (bookkeeping.open) await tasks.open(tx, bookkeeping.open);
      });
    },

    async openTask(task) {
      await tasks.open(db, task);
    },

    async sendNotice(ctx, kind, notice, count) {
      await notifyOnce(ctx, kind, notice, '');
      // After the mail, on every attempt: the count only grows, so a repeat changes nothing.
      if (count) await tasks.noteNotice(db, { workflowId: ctx.workflowId, runId: ctx.runId }, count);
    },

    async scheduleCollection(ctx, { plannedDate, reason, collectionTask }) {
      // The plan it replaces, kept in the event so a cancel can put it back (records-1). Written once per
      // key: a retry after the write reads the new plan, but the stored event keeps the first reading.
      const before = await requireAsset(ctx.assetNumber);
      const previousPlan = { plannedStatus: before.plannedStatus, plannedDate: before.plannedDate };
      const asset = await change(
        ctx,
        { plannedStatus: 'in_stock', plannedDate: plannedDate.slice(0, 10) },
        'collection-scheduled',
        { plannedDate, reason, previousPlan },
      );
      if (asset.userEmail) await notifyOnce(ctx, 'collection-notice', collectionNotice(asset, plannedDate, reason));
      if (collectionTask) {
        const { department, location } = asset;
        await tasks.open(db, { ...collectionTask, contact: taskContactOf(asset), department, location });
      }
      return asset;
    },

    async returnToStock(ctx, { storageLocation, admin, report }) {
      return change(
        ctx,
        {
          status: 'in_stock',
          location: storageLocation,
          department: admin.department,
          userName: admin.name,
          userEmail: admin.email,
          userPhone: null,
        },
        'returned-to-stock',
        { storageLocation, report },
      );
    },

    async requestWipe(ctx, { keepRecord }) {
      return commandOnce(ctx, { type: 'wipe', options: { keepEnrollmentData: keepRecord } }, 'wipe-requested');
    },

    async getMdmJobState(ref) {
      const status = await mdm.getCommandStatus(ref);
      if (!status) return { state: 'unknown' as const };
      return {
        state: status.status,
        detail: status.error ? `${status.error.code}: ${status.error.message}` : undefined,
      };
    },

    async deleteFromMdm(ctx) {
      const asset = await requireAsset(ctx.assetNumber);
      const result = asset.mdmDeviceId
        ? await mdm.deleteDevice(asset.mdmDeviceId, ctx.idempotencyKey)
        : { deviceId: null, alreadyGone: true };
      await change(ctx, { mdmDeviceId: null }, 'mdm-record-deleted', {
        mdmDeviceId: asset.mdmDeviceId,
        alreadyGone: result.alreadyGone,
      });
      return { alreadyGone: result.alreadyGone };
    },

    async verifyEnrollment(ctx, { reportedMdmDeviceId }) {
      const asset = await requireAsset(ctx.assetNumber);
      const candidates = reportedMdmDeviceId
        ? [await mdm.getDevice(reportedMdmDeviceId)].filter((d) => d !== null)
        : await mdm.findDevices({ serialNumber: asset.serialNumber });
      const device = candidates.find((d) => d.serialNumber === asset.serialNumber && d.status === 'active');
      if (!device) {
        const seen = candidates.map((d) => `${d.id} (${d.status}, serial ${d.serialNumber})`).join(', ') || 'no record';
        return {
          enrolled: false,
          reason: `the MDM shows no active enrolment for serial ${asset.serialNumber}: ${seen}`,
        };
      }
      await change(ctx, { mdmDeviceId: device.id }, 'reenrollment-verified', {
        mdmDeviceId: device.id,
        previousMdmDeviceId: asset.mdmDeviceId,
      });
      return { enrolled: true, mdmDeviceId: device.id };
    },

    async claimApplication(ctx, { applicationId }) {
      const assignment = { assetNumber: ctx.assetNumber, workflowId: ctx.workflowId };
      let app: Application | null;
      try {
        app = applicationId
          ? await applications.assign(db, applicationId, assignment)
          : await applications.claimNextPending(db, assignment);
      } catch (err) {
        // Taken by someone else, cancelled, or unknown: the person assigning is told and may pick another.
        if (err instanceof ApplicationUnavailableError || err instanceof NotFoundError) return { reason: err.message };
        throw err;
      }
      if (!app) return { reason: 'no application is waiting' };
      await events.record(db, ctx.assetNumber, stepEvent(ctx, 'application-claimed', { applicationId: app.id }));
      return { applicationId: app.id, user: userOf(app) };
    },

    async assignUser(ctx, { user, applicationId }) {
      const asset = await change(
        ctx,
        {
          status: 'in_use',
          plannedStatus: null,
          plannedDate: null,
          department: user.department,
          location: user.location,
          userName: user.name,
          userEmail: user.email,
          userPhone: user.phone ?? null,
        },
        'user-assigned',
        { user, applicationId: applicationId ?? null },
      );
      await notifyOnce(ctx, 'delivery-notice', deliveryNotice(asset, user));
      return asset;
    },

    async recordDelivery(ctx, { receipt, applicationId }) {
      await events.record(db, ctx.assetNumber, stepEvent(ctx, 'delivery-receipt', { receipt }));
      if (applicationId) await applications.markDelivered(db, applicationId, ctx.workflowId);
    },

    async requestInactivation(ctx, { forced }) {
      const ref = await commandOnce(
        ctx,
        { type: 'inactivate', options: { forced } },
        forced ? 'forced-inactivation-requested' : 'inactivation-requested',
      );
      // Said only when true, so runs against the emulator see the result they always saw.
      return mdm.capabilities?.profileRemoval === 'command' ? { ...ref, profilesRemovedByMdm: true } : ref;
    },

    async getDeviceState(ctx) {
      const asset = await requireAsset(ctx.assetNumber);
      const device = asset.mdmDeviceId ? await mdm.getDevice(asset.mdmDeviceId) : null;
      return device ? { exists: true, status: device.status, mdmDeviceId: device.id } : { exists: false };
    },

    async finishInactivation(ctx, { finalStatus, forced }) {
      return change(
        ctx,
        { status: finalStatus as Asset['status'], mdmDeviceId: null, plannedStatus: null, plannedDate: null },
        'inactivation-completed',
        { finalStatus, forced, profileStaysOnDevice: forced },
      );
    },

    async getDeviceProfiles(ctx) {
      const asset = await requireAsset(ctx.assetNumber);
      if (!asset.mdmDeviceId) return { exists: false, profiles: [] };
      const [device, profiles] = [await mdm.getDevice(asset.mdmDeviceId), await mdm.listProfiles(asset.mdmDeviceId)];
      if (!device || !profiles) return { exists: false, profiles: [] };
      return { exists: true, status: device.status, mdmDeviceId: device.id, profiles };
    },

    async sendDeviceInstructions(ctx, args) {
      // Once the mail is recorded a retry sends nothing, whatever changed on the asset since.
      if (!(await events.getByIdempotencyKey(db, ctx.idempotencyKey))) {
        const language = deps.mailLanguage ?? 'en';
        const { toAdmins, ...notice } = instructionsFor(snapshot(await requireAsset(ctx.assetNumber)), args, language);
        const kind = args.kind === 'reminder' ? 'device-reminder' : 'device-instructions';
        await notifyOnce(ctx, kind, notice, '', { taskType: args.taskType, language, toAdmins });
      }
      // After the mail, on every attempt, as sendNotice: the count only grows, so a repeat changes nothing.
      if (args.count) await tasks.noteNotice(db, { workflowId: ctx.workflowId, runId: ctx.runId }, args.count);
    },

    async undoPlanned(ctx, { firstRunId }) {
      return undoPlanned(ctx, firstRunId);
    },

    async retireAsReset(ctx, { detail }) {
      return change(
        ctx,
        { status: 'retired', mdmDeviceId: null, plannedStatus: null, plannedDate: null },
        'retired-as-reset',
        { detail },
      );
    },
  };
  // The retention Schedule's activity (workflows/retention.ts) runs on the same task queue.
  const served = {
    ...activities,
    ...createRetentionActivities({ db, retentionDays: deps.retentionDays ?? 365 }),
    // The distribution's own activities (workflows/distributeDevice.ts).
    ...createDistributionActivities({ db }),
    // The summary report Schedule's activity (workflows/summaryReport.ts).
    ...createSummaryReportActivities({
      db,
      mail: deps.mail,
      adminEmails: deps.adminEmails,
      mailLanguage: deps.mailLanguage,
    }),
  };
  return withFailureMapping(
    served as unknown as Record<string, (...args: never[]) => Promise<unknown>>,
  ) as unknown as LifecycleActivities;
}

/** The MDM still runs an earlier command of this type: wait it out (the workflow treats this as weather). */
function commandPending(open?: MdmCommandStatus): ApplicationFailure {
  const which = open ? `${open.type} command ${open.jobId ?? open.idempotencyKey ?? ''} (${open.status})` : 'command';
  return ApplicationFailure.create({
    type: 'Mdm.command_pending',
    message: `the MDM still runs an earlier ${which}; waiting for it to finish before sending a new one`,
    nonRetryable: false,
    nextRetryDelay: '5 minutes',
    details: [{ retryAfterMs: 300_000 }],
  });
}

function userOf(app: Application): NewUser {
  return {
    department: app.department,
    location: app.deliveryLocation,
    name: app.userName,
    email: app.userEmail,
    phone: app.userPhone ?? undefined,
  };
}

export { snapshot };
