/**
 * A device returned to stock is filed under the department that holds stock and held by the administrator
 * in charge, exactly as the demo fleet's stock devices are (db/demoAssets.ts DEMO_STORAGE): with the default
 * configuration a change-user run through the API, on a real worker, PostgreSQL and Temporal, leaves the
 * collected device in `IT Operations` with the same holder (name, e-mail, no phone) as the demo's other
 * stock, not in a department or under a name of its own.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/env';
import { DEMO_DEPARTMENTS, DEMO_STORAGE } from '../db/demoAssets';
import { workflowIdFor } from '../workflows/definitions';
import { TOKENS } from './support/apiHarness';
import { newAssetNumber } from './support/fixtures';
import { startChangeUserThroughApi, useHarnessWithApi } from './support/suite';

const { h, api } = useHarnessWithApi();

const started: string[] = [];
afterAll(async () => {
  await Promise.allSettled(started.map((id) => api.temporal.workflow.getHandle(id).terminate('test cleanup')));
});

describe('the administrator in charge of stock', () => {
  it('is, by default, in the department the demo keeps its stock in, under the name its stock devices carry', () => {
    const defaults = loadConfig({ NODE_ENV: 'test' });
    expect(defaults.ADMIN_IN_CHARGE_DEPARTMENT).toBe(DEMO_STORAGE.department);
    expect(DEMO_DEPARTMENTS).toContain(defaults.ADMIN_IN_CHARGE_DEPARTMENT);
    expect(api.config.ADMIN_IN_CHARGE_DEPARTMENT).toBe(DEMO_STORAGE.department);
    expect([defaults.ADMIN_IN_CHARGE_NAME, defaults.ADMIN_EMAILS[0]]).toEqual([
      DEMO_STORAGE.userName,
      DEMO_STORAGE.userEmail,
    ]);
    expect([api.config.ADMIN_IN_CHARGE_NAME, api.config.ADMIN_EMAILS[0]]).toEqual([
      DEMO_STORAGE.userName,
      DEMO_STORAGE.userEmail,
    ]);
  });

  it('takes over a collected device: the returned device is in that department, held as the demo stock is', async () => {
    const assetNumber = newAssetNumber();
    await h.seedDevice({ assetNumber, department: '営業部' });
    const handle = await startChangeUserThroughApi(h, api, assetNumber);
    started.push(workflowIdFor(assetNumber));

    const collected = await api.call(
      'POST',
      `/api/v1/workflows/${workflowIdFor(assetNumber)}/events/device-collected`,
      {
        token: TOKENS.field,
        body: { data: { collectedBy: 'Aki' } },
      },
    );
    expect(collected.status, JSON.stringify(collected.body)).toBe(200);
    await h.waitForState(handle, (s) =>
      s.steps.some((r) => r.step === 'returning-to-stock' && r.finishedAt !== undefined),
    );

    const row = await h.db.pool.query<Record<string, string | null>>(
      'SELECT department, status, user_name, user_email, user_phone FROM assets WHERE asset_number = $1',
      [assetNumber],
    );
    expect(row.rows[0]).toEqual({
      department: DEMO_STORAGE.department,
      status: 'in_stock',
      user_name: DEMO_STORAGE.userName,
      user_email: DEMO_STORAGE.userEmail,
      user_phone: DEMO_STORAGE.userPhone,
    });
  });
});
