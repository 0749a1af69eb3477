/**
 * Starting a lifecycle workflow for one device: the single routes and the bulk routes share this, so a
 * campaign of 300 collections follows exactly the rules of one collection. One workflow id per device
 * (`device-<assetNumber>`, conflict policy FAIL) is what makes "one active process per device" hold
 * across API replicas without any lock of our own.
 */
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowStartOptions } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import type { Config } from '../config/env';
import {
  inactivationProcedureFor,
  PLATFORMS_WITH_INACTIVATION_PROCEDURE,
} from '../activities/deviceInstructions/procedures';
import type { changeDeviceUser } from '../workflows/changeDeviceUser';
import type { distributeDevice } from '../workflows/distributeDevice';
import type { inactivateDevice } from '../workflows/inactivateDevice';
import {
  CHANGE_USER_STEPS,
  CHANGE_USER_WORKFLOW,
  DISTRIBUTION_STEPS,
  DISTRIBUTION_WORKFLOW,
  INACTIVATION_STEPS,
  INACTIVATION_WORKFLOW,
  workflowIdFor,
  type ChangeUserInput,
  type DistributionInput,
  type InactivationInput,
  type LifecycleLimits,
  type LifecycleTimings,
} from '../workflows/definitions';
import {
  AssetNumberKey,
  CampaignIdKey,
  DepartmentKey,
  LifecycleProcessKey,
  LifecycleStatusKey,
  LifecycleStepKey,
  LocationKey,
  NeedsAttentionKey,
} from '../temporal/searchAttributes';
import type { Actor } from './auth';
import { workflowActor } from './auth/workflowActor';
import type { AssetLookup, AssetSummary } from './ports';
import type { ChangeUserBody, InactivationBody } from './schemas';
import { describeRunning, type RunningSummary } from './workflowView';

export interface StartDeps {
  temporal: Client;
  taskQueue: string;
  assets: AssetLookup;
  config: Config;
}

export type StartOutcome =
  | { result: 'started'; workflowId: string; runId: string }
  | { result: 'unknown-asset'; message: string }
  | { result: 'busy'; workflowId: string; running: RunningSummary; message: string }
  | { result: 'unsupported-platform'; platform: string; supported: string[]; message: string };

/** What to start for one asset; the bulk routes build one per asset from the shared body. */
export type StartPlan =
  | ({ process: 'change-user'; input: ChangeUserInput } & StartText)
  | ({ process: 'inactivation'; input: InactivationInput } & StartText)
  | ({ process: 'distribution'; input: DistributionInput } & StartText);

/** What the Temporal Web UI shows for the process: a one-line summary and a details table. */
export interface StartText {
  summary: string;
  details: string;
  /** The collection campaign that starts it (its bulk id): the CampaignId search attribute. */
  campaignId?: string;
}

export function limitsFrom(config: Config): LifecycleLimits {
  return {
    reopenLimit: config.REPORT_REOPEN_LIMIT,
    reportsPerHour: config.REPORTS_PER_HOUR,
    continueAfterEvents: config.CONTINUE_AFTER_EVENTS,
    mdmOutageToleranceMs: config.MDM_OUTAGE_TOLERANCE,
  };
}

export function timingsFrom(config: Config): LifecycleTimings {
  return {
    reminderBeforeMs: config.REMINDER_BEFORE_MS,
    escalateAfterMs: config.ESCALATE_AFTER_MS,
    taskReminderEveryMs: config.TASK_REMINDER_EVERY_MS,
    wipeAckTimeoutMs: config.WIPE_ACK_TIMEOUT_MS,
    verifyDeadlineMs: config.VERIFY_DEADLINE_MS,
    pollInitialMs: config.MDM_POLL_INITIAL_MS,
    pollMaxMs: config.MDM_POLL_MAX_MS,
  };
}

/** One line for the Temporal UI list; newlines would break its layout. */
export function oneLine(s: string, max = 200): string {
  const flat = s.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

export function markdownTable(rows: [string, unknown][]): string {
  const cell = (v: unknown) =>
    String(v ?? '')
      .replace(/\|/g, '\\|')
      .replace(/\s+/g, ' ');
  return ['| field | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${cell(v)} |`)].join('\n');
}

export function changeUserPlan(assetNumber: string, body: ChangeUserBody, actor: Actor, config: Config): StartPlan {
  const input: ChangeUserInput = {
    assetNumber,
    reason: body.reason,
    plannedCollectionDate: body.plannedCollectionDate,
    storageLocation: body.storageLocation,
    newUser: body.newUser,
    keepRecordAfterWipe: body.keepRecordAfterWipe,
    requestedBy: workflowActor(actor),
    adminInCharge: {
      name: config.ADMIN_IN_CHARGE_NAME,
      email: config.ADMIN_EMAILS[0]!,
      department: config.ADMIN_IN_CHARGE_DEPARTMENT,
    },
    timings: timingsFrom(config),
    limits: limitsFrom(config),
  };
  const newUser = body.newUser
    ? `${body.newUser.name} <${body.newUser.email}>, ${body.newUser.department}, ${body.newUser.location}`
    : 'to be assigned';
  return {
    process: 'change-user',
    input,
    summary: oneLine(`Change user of ${assetNumber}: ${body.reason}`),
    details: `### Change device user — ${assetNumber}\n\n${markdownTable([
      ['reason', body.reason],
      ['planned collection date', body.plannedCollectionDate],
      ['storage location', body.storageLocation],
      ['new user', newUser],
      ['keep record after wipe', body.keepRecordAfterWipe ? 'yes' : 'no'],
      ['requested by', `${actor.id} (${actor.role})`],
    ])}`,
  };
}

export function inactivationPlan(assetNumber: string, body: InactivationBody, actor: Actor, config: Config): StartPlan {
  const input: InactivationInput = {
    assetNumber,
    reason: body.reason,
    forced: body.forced,
    acknowledgeProfileStays: body.acknowledgeProfileStays,
    finalStatus: body.finalStatus,
    maxAttempts: config.INACTIVATION_MAX_ATTEMPTS,
    requestedBy: workflowActor(actor),
    timings: timingsFrom(config),
    limits: limitsFrom(config),
  };
  return {
    process: 'inactivation',
    input,
    summary: oneLine(`${body.forced ? 'Forced inactivation' : 'Inactivate'} ${assetNumber}: ${body.reason}`),
    details: `### Inactivate device — ${assetNumber}\n\n${markdownTable([
      ['reason', body.reason],
      ['forced', body.forced ? 'yes (MDM profile stays on the device: acknowledged)' : 'no'],
      ['asset status afterwards', body.finalStatus],
      ['max attempts', config.INACTIVATION_MAX_ATTEMPTS],
      ['requested by', `${actor.id} (${actor.role})`],
    ])}`,
  };
}

const FIRST_STEPS = {
  'change-user': CHANGE_USER_STEPS[0],
  inactivation: INACTIVATION_STEPS[0],
  distribution: DISTRIBUTION_STEPS[0],
} as const;

function searchAttributes(asset: AssetSummary, plan: StartPlan): SearchAttributePair[] {
  return [
    { key: AssetNumberKey, value: asset.assetNumber },
    { key: LifecycleProcessKey, value: plan.process },
    { key: LifecycleStepKey, value: FIRST_STEPS[plan.process] },
    { key: DepartmentKey, value: asset.department },
    { key: LocationKey, value: asset.location },
    { key: NeedsAttentionKey, value: false },
    // Carried from the start, so the process need not write it again (lean-1).
    { key: LifecycleStatusKey, value: 'running' },
    ...(plan.campaignId ? [{ key: CampaignIdKey, value: plan.campaignId }] : []),
  ];
}

/**
 * An inactivation's device-side steps are those of the asset's platform procedure (DESIGN §3.2): a platform
 * without one is refused before anything starts, rather than run with another platform's steps. Forced
 * inactivations too: their consequence for the device (the profile stays) is known for those platforms only.
 */
function platformRefusal(asset: AssetSummary, p: StartPlan): StartOutcome | undefined {
  const platform = asset.platform ?? 'ios';
  if (p.process !== 'inactivation' || inactivationProcedureFor(platform)) return undefined;
  const supported = [...PLATFORMS_WITH_INACTIVATION_PROCEDURE];
  return {
    result: 'unsupported-platform',
    platform,
    supported,
    message:
      `asset ${asset.assetNumber} is on platform ${platform}, which has no inactivation procedure ` +
      `(only ${supported.join(', ')} have one); nothing was started`,
  };
}

export function unknownAsset(assetNumber: string): StartOutcome {
  return { result: 'unknown-asset', message: `asset ${assetNumber} is not in the asset database` };
}

/** Typed by the workflow function, so the input must be the one that workflow takes. */
function startWorkflow(temporal: Client, p: StartPlan, options: Omit<WorkflowStartOptions, 'args'>) {
  switch (p.process) {
    case 'change-user':
      return temporal.workflow.start<typeof changeDeviceUser>(CHANGE_USER_WORKFLOW, { ...options, args: [p.input] });
    case 'inactivation':
      return temporal.workflow.start<typeof inactivateDevice>(INACTIVATION_WORKFLOW, { ...options, args: [p.input] });
    case 'distribution':
      return temporal.workflow.start<typeof distributeDevice>(DISTRIBUTION_WORKFLOW, { ...options, args: [p.input] });
  }
}

/** Looks the asset up, then starts its process: the single-device routes. */
export async function startLifecycle(deps: StartDeps, assetNumber: string, p: StartPlan): Promise<StartOutcome> {
  const asset = await deps.assets.get(assetNumber);
  if (!asset) return unknownAsset(assetNumber);
  return startForAsset(deps, asset, p);
}

/**
 * Starts the process for an asset already looked up (the bulk routes look up a whole campaign in one
 * query). One start call; a busy device costs one describe() more, to name what it is busy with.
 */
export async function startForAsset(
  deps: Pick<StartDeps, 'temporal' | 'taskQueue'>,
  asset: AssetSummary,
  p: StartPlan,
): Promise<StartOutcome> {
  const { assetNumber } = asset;
  const refused = platformRefusal(asset, p);
  if (refused) return refused;
  const workflowId = workflowIdFor(assetNumber);
  const options = {
    workflowId,
    taskQueue: deps.taskQueue,
    workflowIdConflictPolicy: 'FAIL' as const,
    // A device gets a new process once its previous one has closed, whatever way it closed.
    workflowIdReusePolicy: 'ALLOW_DUPLICATE' as const,
    typedSearchAttributes: searchAttributes(asset, p),
    staticSummary: p.summary,
    staticDetails: p.details,
  };
  try {
    const handle = await startWorkflow(deps.temporal, p, options);
    return { result: 'started', workflowId, runId: handle.firstExecutionRunId };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const running = await describeRunning(deps.temporal, workflowId);
    const where = running.step ? ` at step ${running.step}` : '';
    return {
      result: 'busy',
      workflowId,
      running,
      message: `device ${assetNumber} is busy: ${running.process ?? running.workflowType} workflow ${workflowId}${where} is still running`,
    };
  }
}
