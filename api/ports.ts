/**
 * What the API needs from the database, narrowed to what it uses, so route tests can run without one and
 * the repositories can change shape without touching the routes.
 */
import type pg from 'pg';
import * as assetsRepo from '../db/assetsRepo';

/** The fields of an asset a start needs (search attributes, existence). */
export interface AssetSummary {
  assetNumber: string;
  department: string;
  location: string;
  status: string;
}

export interface AssetLookup {
  get(assetNumber: string): Promise<AssetSummary | null>;
}

export interface DbPorts {
  assets: AssetLookup;
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
    assets: { get: (assetNumber) => assetsRepo.get(pool, assetNumber) },
    ping: async () => {
      await pool.query('select 1');
    },
  };
}
