/**
 * What the distribution workflow (workflows/distributeDevice.ts) asks of the outside world beyond the
 * activities it shares with change-user (assignUser, recordDelivery, sendNotice). Types only: workflows
 * import this module as types; activities/distribution.ts implements it.
 */
import type { NewUser } from '../workflows/reportSchemas';
import type { AssetSnapshot, StepContext, UndoPlannedResult } from './contracts';

export interface ConfirmReservationArgs {
  reservationId: string;
  applicationId?: string;
  newUser?: NewUser;
}

/** What the `reserving` step hands on: the reserved asset and who gets it. */
export interface ConfirmedReservation {
  asset: AssetSnapshot;
  user: NewUser;
  applicationId?: string;
}

export interface DistributionActivities {
  /**
   * Takes over the reservation the API made (confirmed once; a retry finds it confirmed) and reads the
   * asset and the user it goes to. A reservation the process does not hold (released after a start that
   * looked failed) is taken again when the asset and the application are still free; otherwise it fails
   * for good (ReservationLost), and an admin decides.
   */
  confirmReservation(ctx: StepContext, args: ConfirmReservationArgs): Promise<ConfirmedReservation>;
  /** The device is delivered: the reservation has served its purpose and goes (audited once). */
  closeReservation(ctx: StepContext, args: { reservationId: string }): Promise<void>;
  /**
   * Cancel or abort (records-1): releases the reservation and the application the process holds, each
   * with its audit event; what was done to the device (an assigned user) is kept and said.
   */
  undoDistribution(ctx: StepContext, args: { reservationId: string; firstRunId: string }): Promise<UndoPlannedResult>;
}
