/**
 * Loads the deterministic demo fleet (db/demoAssets.ts) into PostgreSQL and the MDM emulator, idempotently:
 * `npx tsx scripts/seedDemoData.ts` (config from the environment, like every other process), and on every
 * `npm start`.
 *
 * - A missing asset is created through `assetsRepo.upsert` with the audit actor `demo-seed` and the
 *   idempotency key `demo-seed:<assetNumber>` (one `asset-created` event, even if two seeds race); an
 *   existing one is left alone, so a device a workflow has since moved on (collected, re-enrolled,
 *   retired) is never put back to its demo values.
 * - MDM devices are registered from what the database says now (the system of record): every asset that
 *   has an MDM device id gets a device with that id, serial number and model. One already there (same id,
 *   even a deleted record, or the serial enrolled under another id) is left alone.
 */
import path from 'node:path';
import type pg from 'pg';
import { loadConfig } from '../config/env';
import { get as getAsset, upsert } from '../db/assetsRepo';
import { DEMO_ASSETS } from '../db/demoAssets';
import { migrate } from '../db/migrate';
import { createPool } from '../db/pool';

export const DEMO_SEED_ACTOR = 'demo-seed';

export interface SeedResult {
  assets: { total: number; created: number };
  devices: { total: number; registered: number; alreadyThere: number };
}

type Log = (line: string) => void;

export async function seedDemoAssets(db: pg.Pool): Promise<SeedResult['assets']> {
  let created = 0;
  for (const asset of DEMO_ASSETS) {
    // An asset that exists, whoever made it, is left as it is: workflows and admins own it from then on.
    if (await getAsset(db, asset.assetNumber)) continue;
    const result = await upsert(db, asset, {
      actor: DEMO_SEED_ACTOR,
      actorRole: 'system',
      idempotencyKey: `demo-seed:${asset.assetNumber}`,
      details: { source: 'db/demoAssets.ts' },
    });
    if (result.created && result.applied) created += 1;
  }
  return { total: DEMO_ASSETS.length, created };
}

async function registerDevice(
  mdm: { baseUrl: string; apiKey: string },
  device: { id: string; serialNumber: string; assetNumber: string; model: string },
): Promise<'registered' | 'already-there'> {
  const res = await fetch(new URL('/devices', mdm.baseUrl), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${mdm.apiKey}`,
      'content-type': 'application/json',
      'idempotency-key': `demo-seed:${device.id}`,
    },
    body: JSON.stringify(device),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  if (res.status === 201) return 'registered';
  // 200 + Idempotent-Replayed: this seed registered it before; 409: that id or serial is already enrolled.
  if (res.status === 200) return 'already-there';
  if (res.status === 409 && ['device_id_taken', 'device_already_enrolled'].includes(body.error?.code ?? ''))
    return 'already-there';
  throw new Error(
    `MDM emulator refused device ${device.id} (${device.serialNumber}): HTTP ${res.status} ${JSON.stringify(body)}`,
  );
}

/** Registers, in the MDM, every demo asset the database says is enrolled, with the database's MDM id. */
export async function seedDemoDevices(
  db: pg.Pool,
  mdm: { baseUrl: string; apiKey: string },
): Promise<SeedResult['devices']> {
  const result = { total: 0, registered: 0, alreadyThere: 0 };
  for (const demo of DEMO_ASSETS) {
    const asset = await getAsset(db, demo.assetNumber);
    if (!asset?.mdmDeviceId) continue;
    result.total += 1;
    const outcome = await registerDevice(mdm, {
      id: asset.mdmDeviceId,
      serialNumber: asset.serialNumber,
      assetNumber: asset.assetNumber,
      model: asset.model,
    });
    if (outcome === 'registered') result.registered += 1;
    else result.alreadyThere += 1;
  }
  return result;
}

export async function seedDemoData(opts: {
  db: pg.Pool;
  mdm: { baseUrl: string; apiKey: string };
  log?: Log;
}): Promise<SeedResult> {
  const assets = await seedDemoAssets(opts.db);
  const devices = await seedDemoDevices(opts.db, opts.mdm);
  opts.log?.(
    `demo data: ${assets.total} assets (${assets.created} new), ${devices.total} MDM devices (${devices.registered} new)`,
  );
  return { assets, devices };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const pool = createPool(config.DATABASE_URL, 2, { applicationName: 'device-lifecycle-seed' });
  try {
    await migrate(pool, { log: (l) => console.log(`[seed] ${l}`) });
    await seedDemoData({
      db: pool,
      mdm: { baseUrl: config.MDM_BASE_URL, apiKey: config.MDM_API_KEY },
      log: (l) => console.log(`[seed] ${l}`),
    });
  } finally {
    await pool.end();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  main().catch((err: unknown) => {
    console.error(`[seed] failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
