/**
 * The distribution's own activities (activities/distributionContracts.ts): confirm the reservation the API
 * made, close it once the device is delivered, release it on cancel or abort. Each writes its audit event
 * once per idempotency key, in the transaction that changes the reservation, so a retry writes nothing twice.
 */
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import * as applications from '../db/applicationsRepo';
import * as events from '../db/assetEventsRepo';
import * as assets from '../db/assetsRepo';
import { withTransaction } from '../db/pool';
import * as reservations from '../db/reservationsRepo';
import type { Application, Queryable } from '../db/types';
import type { NewUser } from '../workflows/reportSchemas';
import type { StepContext, UndoPlannedResult } from './contracts';
import type { ConfirmReservationArgs, ConfirmedReservation, DistributionActivities } from './distributionContracts';
import { snapshot, stepEvent } from './stepRecords';

export function createDistributionActivities(deps: { db: pg.Pool }): DistributionActivities {
  const { db } = deps;

  const audit = (tx: Queryable, ctx: StepContext, eventType: string, details: Record<string, unknown>, suffix = '') =>
    events.record(tx, ctx.assetNumber, stepEvent(ctx, eventType, details, suffix));

  /** The reservation this process holds, taken again if a start that looked failed had released it. */
  const holdReservation = async (ctx: StepContext, args: ConfirmReservationArgs) => {
    const held = await reservations.confirm(db, args.reservationId);
    if (held) return held;
    const again = await reservations.reserve(db, {
      reservationId: args.reservationId,
      reservedBy: ctx.actor.id,
      assetNumber: ctx.assetNumber,
      applicationId: args.applicationId,
      workflowIdOf: () => ctx.workflowId,
    });
    if (again.result !== 'reserved') {
      throw ApplicationFailure.nonRetryable(
        `reservation ${args.reservationId} of ${ctx.assetNumber} is gone and cannot be taken again (${again.result}); abort this distribution`,
        'ReservationLost',
      );
    }
    return (await reservations.confirm(db, args.reservationId))!;
  };

  const userFor = async (ctx: StepContext, args: ConfirmReservationArgs): Promise<NewUser> => {
    if (!args.applicationId) {
      if (args.newUser) return args.newUser;
      throw ApplicationFailure.nonRetryable('a distribution needs an application or a new user', 'NoUser');
    }
    const app = await applications.get(db, args.applicationId);
    if (
      !app ||
      app.state !== 'assigned' ||
      app.workflowId !== ctx.workflowId ||
      app.assignedAssetNumber !== ctx.assetNumber
    ) {
      throw ApplicationFailure.nonRetryable(
        `application ${args.applicationId} is no longer held for ${ctx.assetNumber} (${app?.state ?? 'unknown'}); abort this distribution`,
        'ApplicationLost',
      );
    }
    return userOf(app);
  };

  return {
    async confirmReservation(ctx, args): Promise<ConfirmedReservation> {
      const reservation = await holdReservation(ctx, args);
      if (reservation.assetNumber !== ctx.assetNumber) {
        throw ApplicationFailure.nonRetryable(
          `reservation ${args.reservationId} is for ${reservation.assetNumber}, not ${ctx.assetNumber}`,
          'ReservationMismatch',
        );
      }
      const user = await userFor(ctx, args);
      await withTransaction(db, async (tx) => {
        await audit(tx, ctx, 'asset-reserved', {
          reservationId: reservation.reservationId,
          applicationId: reservation.applicationId,
          reservedBy: reservation.reservedBy,
          reservedAt: reservation.reservedAt,
        });
        if (args.applicationId) {
          await audit(tx, ctx, 'application-claimed', { applicationId: args.applicationId }, ':application');
        }
      });
      const asset = await assets.get(db, ctx.assetNumber);
      if (!asset) throw ApplicationFailure.nonRetryable(`asset ${ctx.assetNumber} does not exist`, 'AssetNotFound');
      return { asset: snapshot(asset), user, ...(args.applicationId ? { applicationId: args.applicationId } : {}) };
    },

    async closeReservation(ctx, { reservationId }) {
      await withTransaction(db, async (tx) => {
        const closed = await reservations.remove(tx, reservationId);
        if (closed) await audit(tx, ctx, 'reservation-fulfilled', { reservationId });
      });
    },

    async undoDistribution(ctx, { reservationId, firstRunId }): Promise<UndoPlannedResult> {
      const result: UndoPlannedResult = { undone: [], kept: [] };
      const trail = await events.listForWorkflow(db, ctx.workflowId, { fromRunId: firstRunId });
      if (trail.some((e) => e.eventType === 'user-assigned')) {
        result.kept.push('the user was already assigned: the device stays with them (in use)');
      }
      await withTransaction(db, async (tx) => {
        const released = await reservations.remove(tx, reservationId);
        if (released) await audit(tx, ctx, 'reservation-released', { reservationId }, ':reservation');
        const app = await applications.getOpenForWorkflow(tx, ctx.workflowId);
        if (app) {
          await applications.releaseReservation(tx, app.id, ctx.workflowId);
          await audit(tx, ctx, 'application-released', { applicationId: app.id }, ':application');
        }
      });
      // Read back from the trail, so a retry after the commit answers as the first attempt would have.
      for (const [suffix, what] of [
        [':reservation', 'reservation-released'],
        [':application', 'application-released'],
      ] as const) {
        if (await events.getByIdempotencyKey(db, ctx.idempotencyKey + suffix)) result.undone.push(what);
      }
      return result;
    },
  };
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
