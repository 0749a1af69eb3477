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
}

export function isPool(db: pg.Pool | DbPorts): db is pg.Pool {
  return typeof (db as pg.Pool).query === 'function';
}

export function portsFromPool(pool: pg.Pool): DbPorts {
  return {
    assets: { get: (assetNumber) => assetsRepo.get(pool, assetNumber) },
    ping: async () => {
      await pool.query('select 1');
    },
  };
}
