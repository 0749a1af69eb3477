/**
 * What workflows may ask of the outside world. Workflows import this module as types only and call the
 * activities through `proxyActivities`; `createActivities` (activities/index.ts) implements it.
 */
import type { NewUser } from '../workflows/reportSchemas';

export interface StepContext {
  assetNumber: string;
  workflowId: string;
  runId: string;
  step: string;
  /** Who the step is attributed to in the audit trail: the reporter or the admin who started the process. */
  actor: { id: string; role: string };
  /** Stable across activity retries: the audit event and any MDM command are written once per key. */
  idempotencyKey: string;
}

export interface AssetSnapshot {
  assetNumber: string;
  serialNumber: string;
  model: string;
  mdmDeviceId: string | null;
  status: string;
  department: string | null;
  location: string | null;
  userName: string | null;
  userEmail: string | null;
  userPhone: string | null;
}

export type MdmJobState = 'queued' | 'acknowledged' | 'succeeded' | 'failed' | 'unknown';

export interface MdmJobRef {
  deviceId: string;
  jobId?: string;
  idempotencyKey: string;
}

export interface Notice {
  to: string[];
  subject: string;
  text: string;
}

export interface LifecycleActivities {
  loadAsset(assetNumber: string): Promise<AssetSnapshot>;
  /** Appends one audit event (idempotent on ctx.idempotencyKey). */
  recordEvent(ctx: StepContext, eventType: string, details: Record<string, unknown>): Promise<void>;
  sendNotice(ctx: StepContext, kind: string, notice: Notice): Promise<void>;

  scheduleCollection(ctx: StepContext, args: { plannedDate: string; reason: string }): Promise<AssetSnapshot>;
  returnToStock(ctx: StepContext, args: { storageLocation: string; admin: { name: string; email: string; department: string }; report: Record<string, unknown> }): Promise<AssetSnapshot>;
  requestWipe(ctx: StepContext, args: { keepRecord: boolean }): Promise<MdmJobRef>;
  getMdmJobState(ref: MdmJobRef): Promise<{ state: MdmJobState; detail?: string }>;
  deleteFromMdm(ctx: StepContext): Promise<{ alreadyGone: boolean }>;
  verifyEnrollment(ctx: StepContext, args: { reportedMdmDeviceId?: string }): Promise<{ enrolled: boolean; mdmDeviceId?: string; reason?: string }>;
  claimApplication(ctx: StepContext, args: { applicationId?: string }): Promise<{ applicationId: string; user: NewUser } | { applicationId?: undefined; reason: string }>;
  assignUser(ctx: StepContext, args: { user: NewUser; applicationId?: string }): Promise<AssetSnapshot>;
  recordDelivery(ctx: StepContext, args: { receipt: Record<string, unknown>; applicationId?: string }): Promise<void>;

  requestInactivation(ctx: StepContext, args: { forced: boolean }): Promise<MdmJobRef>;
  getDeviceState(ctx: StepContext): Promise<{ exists: boolean; status?: string; mdmDeviceId?: string }>;
  finishInactivation(ctx: StepContext, args: { finalStatus: string; forced: boolean }): Promise<AssetSnapshot>;
}
