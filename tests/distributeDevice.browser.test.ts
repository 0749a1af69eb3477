/**
 * The field-staff page delivers a device distributed from stock (DESIGN §3.3, issue 11 item 5): in a real
 * headless Chromium at phone size, against the real parts (API, worker on the Temporal dev server,
 * PostgreSQL, MDM emulator, SMTP sink). An admin distributes an in-stock device to an application through
 * the API; the field worker finds the deliver-device task in the list, sees it belongs to a distribution,
 * and reports the delivery with a drawn signature; the process completes and the application is delivered.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as applicationsRepo from '../db/applicationsRepo';
import { TOKENS } from './support/apiHarness';
import { openPhone, type BrowserSession } from './support/browser';
import { newAssetNumber } from './support/fixtures';
import { useHarnessWithApi } from './support/suite';

const { h, api } = useHarnessWithApi({ ADMIN_EMAILS: 'it-admins@example.com' });
let browser: BrowserSession;
let page: Page;
const assetNumber = newAssetNumber();
let workflowId: string;
let applicationId: string;

beforeAll(async () => {
  await h.seedDevice({
    assetNumber,
    status: 'in_stock',
    department: 'IT Operations',
    location: 'Tokyo HQ IT store',
    userName: 'IT Operations',
    userEmail: 'it-admins@example.com',
    userPhone: null,
  });
  const app = await api.call('POST', '/api/v1/applications', {
    token: TOKENS.admin,
    body: {
      department: '開発部',
      deliveryLocation: '大阪支社',
      userName: '山本 陽菜',
      userEmail: 'hina.yamamoto@example.com',
    },
  });
  expect(app.status, JSON.stringify(app.body)).toBe(201);
  applicationId = app.body.application.id;
  const started = await api.call('POST', `/api/v1/devices/${assetNumber}/distribution`, {
    token: TOKENS.admin,
    body: { applicationId, reason: 'New joiner' },
  });
  expect(started.status, JSON.stringify(started.body)).toBe(201);
  workflowId = started.body.workflowId;
  browser = await openPhone();
  page = browser.page;
});

afterAll(async () => {
  await browser?.close();
});

describe('field-staff page, distribution from stock', () => {
  it('lists the deliver-device task of a distribution and takes the delivery with a drawn signature', async () => {
    await page.goto(`${api.baseUrl}/field/`);
    await page.getByLabel('Access token').fill(TOKENS.field);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'My tasks' }).isVisible()).toBe(true);

    // The task's row is written once the process waits for the delivery: refresh until its card is there.
    const card = page.locator(`a[data-workflow-id="${workflowId}"]`);
    await expect
      .poll(async () => {
        if (await card.count()) return true;
        await page.getByRole('button', { name: 'Refresh' }).click();
        return false;
      })
      .toBe(true);
    expect(await card.textContent()).toContain('Deliver device');
    expect(await card.textContent()).toContain('開発部 · 大阪支社');

    await card.click();
    await expect.poll(() => page.locator('#task-title').textContent()).toBe(`Deliver device: ${assetNumber}`);
    const facts = await page.locator('#task-facts').innerText();
    for (const expected of [
      'Distribute device from stock',
      '山本 陽菜',
      'hina.yamamoto@example.com',
      'awaiting-delivery',
    ]) {
      expect(facts).toContain(expected);
    }
    await page.getByLabel(/Received by/).fill('山本 陽菜');
    // Signed with a finger-like stroke, on the pad scrolled into the phone's screen first.
    await page.locator('canvas').scrollIntoViewIfNeeded();
    const pad = await page.locator('canvas').boundingBox();
    await page.mouse.move(pad!.x + 30, pad!.y + 120);
    await page.mouse.down();
    for (let i = 1; i <= 12; i++) await page.mouse.move(pad!.x + 30 + i * 22, pad!.y + 120 - Math.sin(i / 2) * 60);
    await page.mouse.up();
    await page.getByRole('button', { name: /Report: Device delivered/ }).click();
    await expect.poll(() => page.locator('#banner').innerText()).toContain('Reported: Device delivered');

    const state = await api.temporal.workflow.getHandle(workflowId).result();
    expect(state).toMatchObject({ process: 'distribution', status: 'completed' });
    expect(await applicationsRepo.get(h.db.pool, applicationId)).toMatchObject({
      state: 'delivered',
      assignedAssetNumber: assetNumber,
    });
    expect(browser.errors).toEqual([]);
  });
});
