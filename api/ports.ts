/**
 * What the API needs from the database, narrowed to what it uses, so route tests can run without one and
 * the repositories can change shape without touching the routes.
 */
import type pg from 'pg';
import * as assetsRepo from '../db/assetsRepo';
import * as assetEventsRepo from '../db/assetEventsRepo';
import * as bulkRequestsRepo from '../db/bulkRequestsRepo';
import * as tasksRepo from '../db/tasksRepo';
import type { AssetEvent } from '../db/types';

/** The fields of an asset a start needs (search attributes, existence). */
export interface AssetSummary {
  assetNumber: string;
  department: string;
  location: string;
  status: string;
  /** The device's platform (assets.platform); absent only in in-memory ports, meaning the default, ios. */
  platform?: string;
  /** The asset's own planned date (YYYY-MM-DD): a campaign without a date of its own keeps it. */
  plannedDate?: string | null;
}

export interface AssetLookup {
  get(assetNumber: string): Promise<AssetSummary | null>;
  /** Many assets in one round trip (bulk starts); numbers not in the database are absent from the map. */
  getMany(assetNumbers: readonly string[]): Promise<Map<string, AssetSummary>>;
}

/**
 * What the database holds about one workflow run, so GET /workflows/{id} need not ask the workflow: its
 * audit trail (steps done, reports, errors) and its row in the task index (the pending human task).
 */
export interface WorkflowRecords {
  /** The run's audit events, oldest first. */
  /** The audit trail of a process: every run of its chain, from `firstRunId` (continue-as-new) on. */
  events(workflowId: string, firstRunId: string): Promise<AssetEvent[]>;
  /** The workflow's open task in the task index, if it has one (of whichever run wrote it). */
  openTask(workflowId: string): Promise<tasksRepo.OpenTask | null>;
}

/** Bulk start requests and their per-asset results (db/bulkRequestsRepo.ts). */
export interface BulkRequestStore {
  create(request: {
    kind: bulkRequestsRepo.BulkKind;
    requestedBy: string;
    items: readonly bulkRequestsRepo.BulkItem[];
    /** A collection campaign's facts (migration 0014), written with the rows. */
    campaign?: bulkRequestsRepo.CampaignFacts;
  }): Promise<string>;
  record(id: string, decided: readonly { position: number; item: bulkRequestsRepo.BulkItem }[]): Promise<void>;
  finish(id: string): Promise<void>;
  get(id: string): Promise<bulkRequestsRepo.BulkRequest | null>;
}

export interface DbPorts {
  assets: AssetLookup;
  /** Absent when the ports are in memory: a bulk request then waits for every start and has no id. */
  bulkRequests?: BulkRequestStore;
  /** Absent when the ports are in memory: the workflow view then reads Temporal only. */
  workflowRecords?: WorkflowRecords;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  /**
   * The database itself, for routes that use the repositories directly (assets, reports, applications);
   * absent when the ports are in memory, and those routes then answer 503.
   */
  pool?: pg.Pool;
}

export function isPool(db: pg.Pool | DbPorts): db is pg.Pool {
  return typeof (db as pg.Pool).query === 'function';
}

export function portsFromPool(pool: pg.Pool): DbPorts {
  return {
    pool,
    assets: {
      get: (assetNumber) => assetsRepo.get(pool, assetNumber),
      getMany: (assetNumbers) => assetsRepo.getMany(pool, assetNumbers),
    },
    bulkRequests: {
      create: (request) => bulkRequestsRepo.create(pool, request),
      record: (id, decided) => bulkRequestsRepo.record(pool, id, decided),
      finish: (id) => bulkRequestsRepo.finish(pool, id),
      get: (id) => bulkRequestsRepo.get(pool, id),
    },
    workflowRecords: {
      events: (workflowId, firstRunId) => assetEventsRepo.listForWorkflow(pool, workflowId, { fromRunId: firstRunId }),
      openTask: (workflowId) => tasksRepo.get(pool, workflowId),
    },
    ping: async () => {
      await pool.query('select 1');
    },
  };
}
