/**
 * Distribute device (DESIGN §3.3, JP1's "distribute"): a device already in stock goes to a user's
 * application, or to a user an admin names. The API reserved the asset before it started this process
 * (the workflow id names the device, so the device is chosen first; db/reservationsRepo.ts); the process
 * confirms the reservation, assigns the device and waits for the delivery against a signature, on the
 * same Lifecycle machinery as the other processes (human task with reminders and escalation, audit once
 * per step, search attributes, cancel / retry / abort, needs-attention).
 *
 * A new workflow type: it starts with every patch of patches.ts recorded, so it has no old branches.
 */
import { continueAsNew, proxyActivities, workflowInfo, type ActivityFunctionWithOptions } from '@temporalio/workflow';
import type { DistributionActivities } from '../activities/distributionContracts';
import { activityOptionsFor, bookkeeping, call } from './activityProxy';
import {
  DISTRIBUTION_EVENTS,
  type ActorRef,
  type DistributionInput,
  type LifecycleState,
  type NewUser,
} from './definitions';
import { noticeSender, resumeIndex, taskSpec } from './humanTasks';
import { registerMessageContract } from './messageContract';
import { Lifecycle, type TaskNotice } from './lifecycle';

export async function distributeDevice(input: DistributionInput): Promise<LifecycleState> {
  const lc = new Lifecycle(
    'distribution',
    input.assetNumber,
    bookkeeping,
    input.requestedBy,
    input.limits,
    input.resume,
  );
  lc.continueWith = (resume) => continueAsNew<typeof distributeDevice>({ ...input, resume });
  // A cancel or abort releases the reservation and the application (records-1).
  lc.undoOnStop = (ctx) =>
    distribution('undoDistribution', 'release the reservation and the application', ctx, {
      reservationId: input.reservationId,
      firstRunId: workflowInfo().firstExecutionRunId,
    });
  // The message contract (workflows/messageContract.ts), registered before the first await.
  registerMessageContract(lc, DISTRIBUTION_EVENTS);
  return lc.run(() => distributionSteps(lc, input));
}

/** Where a continued run can pick up: the process's one human task. */
const RESUME_POINTS = ['deliver-device'];

interface Assignment {
  user: NewUser;
  applicationId?: string;
  actor: ActorRef;
}

/** What the delivery needs; carried to the next run when the process continues as new while waiting. */
interface DistributionCarry {
  assignment?: Assignment;
  [key: string]: unknown;
}

async function distributionSteps(lc: Lifecycle, input: DistributionInput): Promise<void> {
  const c: DistributionCarry = { ...(input.resume?.carry as DistributionCarry | undefined) };
  if (resumeIndex(input.resume?.at, RESUME_POINTS) < 0) {
    const reserved = await lc.runStep('reserving', (ctx) =>
      distribution('confirmReservation', `confirm the reservation of ${input.assetNumber}`, ctx, {
        reservationId: input.reservationId,
        applicationId: input.applicationId,
        newUser: input.newUser,
      }),
    );
    lc.setWhereabouts(reserved.asset.department, reserved.asset.location);
    const assignment: Assignment = {
      user: reserved.user,
      applicationId: reserved.applicationId,
      actor: input.requestedBy,
    };
    c.assignment = assignment;
    const asset = await lc.runStep('assigning', (ctx) =>
      call('assignUser', 'assign the device to the new user', ctx, {
        user: assignment.user,
        applicationId: assignment.applicationId,
      }),
    );
    lc.setWhereabouts(asset.department, asset.location);
  }
  await deliver(lc, input, c.assignment as Assignment, c);
}

/** The user signs for the device, as at the end of change-user; the signed receipt is kept as evidence. */
async function deliver(lc: Lifecycle, input: DistributionInput, assignment: Assignment, c: DistributionCarry) {
  const step = 'awaiting-delivery';
  const contact = { name: assignment.user.name, email: assignment.user.email, phone: assignment.user.phone };
  const spec = taskSpec(input.timings, Date.now(), {
    type: 'deliver-device',
    step,
    expects: ['device-delivered'],
    contact,
    next: () => ({ step: 'completed', pending: 'the signed receipt is being stored' }),
    carry: c,
  });
  const delivered = await lc.awaitTask(spec, distributionNotices(lc, input));
  await lc.parkOnFailure(step, () =>
    call('recordDelivery', 'keep the signed receipt as evidence', lc.context(step, delivered.report.actor, 'receipt'), {
      receipt: { ...delivered.report.data },
      applicationId: assignment.applicationId,
    }),
  );
  await lc.parkOnFailure(step, () =>
    distribution('closeReservation', 'the reservation is fulfilled', lc.context(step, undefined, 'fulfilled'), {
      reservationId: input.reservationId,
    }),
  );
}

function distributionNotices(lc: Lifecycle, input: DistributionInput): TaskNotice {
  return noticeSender(lc, (kind, task) => ({
    subject:
      kind === 'reminder'
        ? `Reminder: ${task.type} for device ${input.assetNumber} is due ${task.dueAt.slice(0, 10)}`
        : `Overdue: ${task.type} for device ${input.assetNumber} (due ${task.dueAt.slice(0, 10)})`,
    text:
      `Device ${input.assetNumber}: ${task.type} (waiting for ${task.expects.join(' or ')}) was due ${task.dueAt}.\n` +
      `Distribution from stock: ${input.reason}\n`,
  }));
}

const acts = proxyActivities<DistributionActivities>(activityOptionsFor.recordDelivery);

/** Calls a distribution activity with a one-line summary for the Temporal Web UI (database work). */
function distribution<K extends keyof DistributionActivities>(
  name: K,
  summary: string,
  ...args: Parameters<DistributionActivities[K]>
): ReturnType<DistributionActivities[K]> {
  const stub = acts[name] as unknown as ActivityFunctionWithOptions<DistributionActivities[K]>;
  return stub.executeWithOptions({ ...activityOptionsFor.recordDelivery, summary }, args) as ReturnType<
    DistributionActivities[K]
  >;
}
