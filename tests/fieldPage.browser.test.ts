/**
 * The field-staff page in a real headless Chromium at phone size (375x812), against the real parts: the
 * API, a worker on the Temporal dev server, PostgreSQL, the MDM emulator and the SMTP sink. A field
 * worker signs in with a token, sees a collect-device task, reports it, takes the device through
 * re-enrolment and delivery with a drawn signature, and sees the reason when a report is refused.
 * Screenshots go to test-results/ (git-ignored; CI keeps them).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stateQuery, type LifecycleState } from '../workflows/definitions';
import { TOKEN_ACTORS, TOKENS } from './support/apiHarness';
import { openPhone, type BrowserSession } from './support/browser';
import { NEW_USER, newAssetNumber } from './support/fixtures';
import { startChangeUserThroughApi, useHarnessWithApi } from './support/suite';

const RESULTS = path.join(import.meta.dirname, '..', 'test-results');

const { h, api } = useHarnessWithApi({ ADMIN_EMAILS: 'it-admins@example.com' });
let browser: BrowserSession;
let page: Page;

const first = newAssetNumber();
const second = newAssetNumber();
let firstMdmId: string;

const startChangeUser = (assetNumber: string) =>
  startChangeUserThroughApi(h, api, assetNumber, {
    reason: 'Moves to the Osaka office',
    storageLocation: 'IT room shelf 2',
    newUser: NEW_USER,
  });

const state = (assetNumber: string): Promise<LifecycleState> =>
  api.temporal.workflow.getHandle(`device-${assetNumber}`).query(stateQuery);

/** Full-page screenshot from the top (a sticky header would otherwise be drawn mid-page). */
async function screenshot(name: string): Promise<void> {
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: path.join(RESULTS, name), fullPage: true });
}

/**
 * Until the workflow view (what the task page loads) shows the task at `step`: a process shows a task
 * once its row is in the task index (lean-2), a moment after the workflow entered the step.
 */
async function waitForTaskShown(workflowId: string, step: string): Promise<void> {
  await expect
    .poll(async () => {
      const res = await api.call('GET', `/api/v1/workflows/${workflowId}`, { token: TOKENS.field });
      return (res.body as { pendingTask?: { step?: string } | null }).pendingTask?.step;
    })
    .toBe(step);
}

/**
 * The task list answers from Temporal visibility, which lags a moment behind a new workflow: refresh
 * the list until the task's card is there.
 */
async function waitForCard(assetNumber: string): Promise<void> {
  const card = page.locator(`a[data-workflow-id="device-${assetNumber}"]`);
  await expect
    .poll(
      async () => {
        if (await card.count()) return true;
        await page.getByRole('button', { name: 'Refresh' }).click();
        return false;
      },
      { interval: 500 },
    )
    .toBe(true);
}

beforeAll(async () => {
  mkdirSync(RESULTS, { recursive: true });
  ({ mdmDeviceId: firstMdmId } = await h.seedDevice({
    assetNumber: first,
    department: 'Sales',
    location: 'Tokyo HQ',
    userName: '山田 花子',
    userEmail: 'h.yamada@example.com',
    userPhone: '+81 3 5555 0101',
  }));
  await h.seedDevice({ assetNumber: second, department: 'Sales', location: 'Tokyo HQ' });
  await startChangeUser(first);
  await startChangeUser(second);
  browser = await openPhone();
  page = browser.page;
});

afterAll(async () => {
  await browser?.close();
});

describe('field-staff page on a phone', () => {
  it('refuses a wrong token and signs in with the field-staff token', async () => {
    await page.goto(`${api.baseUrl}/field/`);
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    await page.getByLabel('Access token').fill('not-a-real-token-123');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#token-error').textContent()).toContain('not accepted');

    await page.getByLabel('Access token').fill(TOKENS.field);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'My tasks' }).isVisible()).toBe(true);
    // The token is kept for this tab only.
    expect(await page.evaluate("sessionStorage.getItem('device-lifecycle.token')")).toBe(TOKENS.field);
    expect(await page.evaluate('localStorage.length')).toBe(0);
  });

  it('lists the collect-device tasks, filterable, and fits a 375 px screen', async () => {
    await waitForCard(first);
    await waitForCard(second);
    const card = page.locator(`a[data-workflow-id="device-${first}"]`);
    await expect.poll(() => card.textContent()).toContain('Collect device');
    expect(await card.textContent()).toContain('Sales · Tokyo HQ');

    // Filters go to GET /tasks: a department nobody has leaves the list empty, clearing brings it back.
    await page.locator('#filters > summary').click();
    await page.getByLabel('Department').fill('No Such Department');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => page.locator('#tasks-status').textContent()).toContain('No tasks');
    await page.getByLabel('Department').fill('Sales');
    await page.getByLabel('Task type').selectOption('collect-device');
    await page.getByRole('button', { name: 'Apply' }).click();
    await waitForCard(first);
    await page.locator('#filters > summary').click(); // fold the filters away again

    // Nothing wider than the phone (no sideways scrolling) and touch targets at least 44 px high.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    const box = await card.boundingBox();
    expect(box!.height).toBeGreaterThanOrEqual(44);
    expect(box!.width).toBeGreaterThan(300);
    await screenshot('field-page-phone.png');
  });

  it('opens a task with the device, where, whom to contact and when, and shows field errors next to the field', async () => {
    await page.locator(`a[data-workflow-id="device-${first}"]`).click();
    await expect.poll(() => page.locator('#task-title').textContent()).toBe(`Collect device: ${first}`);
    const facts = await page.locator('#task-facts').innerText();
    for (const expected of [
      first,
      'Sales',
      'Tokyo HQ',
      '山田 花子',
      '+81 3 5555 0101',
      'h.yamada@example.com',
      'awaiting-collection',
    ]) {
      expect(facts).toContain(expected);
    }
    expect(await page.locator('#task-facts a[href^="tel:"]').getAttribute('href')).toBe('tel:+81355550101');
    expect(await page.locator('#task-expected').innerText()).toContain('Collect the device');

    // Empty required field: said next to it before anything is sent.
    await page.getByRole('button', { name: /Report: Device collected/ }).click();
    await expect.poll(() => page.locator('#f-collectedBy-error').textContent()).toBe('Required.');
    expect(await page.getByLabel(/Collected by/).getAttribute('aria-invalid')).toBe('true');
    // Blank text passes the page but not the API: its 400 lands next to the same field.
    await page.getByLabel(/Collected by/).fill('   ');
    await page.getByRole('button', { name: /Report: Device collected/ }).click();
    await expect.poll(() => page.locator('#f-collectedBy-error').textContent()).toBe('Must not be empty.');
    expect(await page.locator('#report-error').innerText()).toContain('correct the marked fields');
    expect((await state(first)).step).toBe('awaiting-collection');
    await screenshot('field-page-phone-task.png');
  });

  it('reports the collection once even when submitted twice, then the task is gone from the list', async () => {
    await page.getByLabel(/Collected by/).fill('Aki Field');
    await page.getByLabel(/Storage location/).fill('IT room shelf 2');
    await page.getByLabel(/Note/).fill('Charger included');
    // A double tap: two submits of the same opened form carry the same Idempotency-Key.
    // (Page code as a string: the tests compile without the DOM library.)
    await page.evaluate(
      "const form = document.getElementById('report-form'); form.requestSubmit(); form.requestSubmit();",
    );
    await expect.poll(() => page.locator('#banner').innerText()).toContain(`Reported: Device collected for ${first}`);
    await expect.poll(() => page.getByRole('heading', { name: 'My tasks' }).isVisible()).toBe(true);
    await expect.poll(() => page.locator(`a[data-workflow-id="device-${first}"]`).count()).toBe(0);
    await expect.poll(() => page.locator(`a[data-workflow-id="device-${second}"]`).count()).toBe(1);

    const s = await state(first);
    const collected = s.reports.filter((r) => r.event === 'device-collected' && r.outcome === 'accepted');
    expect(collected).toHaveLength(1);
    expect(collected[0]!.actor).toEqual({
      id: TOKEN_ACTORS.field,
      role: 'field-staff',
      credential: `static:${TOKEN_ACTORS.field}`, // which credential acted (issue 12)
    });
    expect(collected[0]!.idempotencyKey).toMatch(/^field-[0-9a-f]{32}$/);
  });

  it('takes the device through re-enrolment and delivery with a signature drawn on the canvas', async () => {
    const handle = api.temporal.workflow.getHandle(`device-${first}`);
    await h.waitForStep(handle, 'awaiting-reenrollment');
    await waitForTaskShown(`device-${first}`, 'awaiting-reenrollment');
    await h.emulator.reEnroll(firstMdmId);
    await page.goto(`${api.baseUrl}/field/#/task/device-${first}`);
    await expect.poll(() => page.locator('#task-title').textContent()).toBe(`Re-enrol device: ${first}`);
    await page.getByRole('button', { name: /Report: Device re-enrolled/ }).click();
    await expect.poll(() => page.locator('#banner').innerText()).toContain('Reported: Device re-enrolled');

    await h.waitForStep(handle, 'awaiting-delivery');
    await waitForTaskShown(`device-${first}`, 'awaiting-delivery');
    await page.goto(`${api.baseUrl}/field/#/task/device-${first}`);
    await expect.poll(() => page.locator('#task-title').textContent()).toBe(`Deliver device: ${first}`);
    await page.getByLabel(/Received by/).fill('Yuki New');
    // Sign with a finger-like stroke (pointer events through the mouse), on the pad scrolled into view: the
    // mouse acts on the viewport, and on a phone the pad can sit below the fold.
    await page.locator('canvas').scrollIntoViewIfNeeded();
    const pad = await page.locator('canvas').boundingBox();
    await page.mouse.move(pad!.x + 30, pad!.y + 120);
    await page.mouse.down();
    for (let i = 1; i <= 12; i++) await page.mouse.move(pad!.x + 30 + i * 22, pad!.y + 120 - Math.sin(i / 2) * 60);
    await page.mouse.up();
    await screenshot('field-page-phone-signature.png');
    await page.getByRole('button', { name: /Report: Device delivered/ }).click();
    await expect.poll(() => page.locator('#banner').innerText()).toContain('Reported: Device delivered');

    await handle.result();
    const s = await state(first);
    expect(s.status).toBe('completed');
    const receipt = await h.db.pool.query<{ details: { signature?: string } }>(
      `SELECT details FROM asset_events WHERE asset_number = $1 AND event_type = 'delivery-receipt'`,
      [first],
    );
    expect(receipt.rows).toHaveLength(1);
    // The audit trail holds the receipt; the drawn PNG itself is in the signatures table (issue 12 item 3).
    const details = JSON.stringify(receipt.rows[0]!.details);
    expect(details).not.toContain('data:image');
    const [, receiptId, sha256] = /receipt:([0-9a-f-]{36}):sha256:([0-9a-f]{64})/.exec(details) ?? [];
    const stored = await h.db.pool.query<{ kind: string; content: Buffer; sha256: string }>(
      'SELECT kind, content, sha256 FROM signatures WHERE id = $1',
      [receiptId],
    );
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0]!).toMatchObject({ kind: 'png', sha256 });
    expect(stored.rows[0]!.content.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(stored.rows[0]!.content.length).toBeGreaterThan(100);
  });

  it('shows why a report is refused: a stale task that someone else already reported', async () => {
    await page.goto(`${api.baseUrl}/field/#/task/device-${second}`);
    await expect.poll(() => page.locator('#task-title').textContent()).toBe(`Collect device: ${second}`);
    await page.getByLabel(/Collected by/).fill('Aki Field');
    // Meanwhile a colleague reports the same collection from another phone.
    const other = await api.call('POST', `/api/v1/workflows/device-${second}/events/device-collected`, {
      token: TOKENS.admin,
      body: { data: { collectedBy: 'Ken Admin' } },
    });
    expect(other.status, JSON.stringify(other.body)).toBe(200);

    await page.getByRole('button', { name: /Report: Device collected/ }).click();
    const refusal = page.locator('#report-error');
    await expect.poll(() => refusal.innerText()).toContain('The report was refused.');
    const text = await refusal.innerText();
    expect(text).toMatch(/Current step: [a-z-]+\./);
    expect(text).not.toContain('Current step: awaiting-collection.');
    expect(text).toMatch(/It (now expects: [a-z, -]+|expects no report now)\./);
    expect(await refusal.getAttribute('role')).toBe('alert');
    await screenshot('field-page-phone-refused.png');
    // Nothing was applied twice: only the colleague's report counts.
    const accepted = (await state(second)).reports.filter(
      (r) => r.event === 'device-collected' && r.outcome === 'accepted',
    );
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.actor.id).toBe(TOKEN_ACTORS.admin);
  });

  it('a task page opened while the process works shows the task when it opens, without a reload', async () => {
    const third = newAssetNumber();
    await h.seedDevice({ assetNumber: third, department: 'Sales', location: 'Tokyo HQ' });
    const workflowId = `device-${third}`;
    const view = async () =>
      (await api.call('GET', `/api/v1/workflows/${workflowId}`, { token: TOKENS.field })).body as {
        step?: string;
        pendingActivities?: { activityType?: string }[];
      };
    await startChangeUser(third);
    await waitForTaskShown(workflowId, 'awaiting-collection');
    const reported = await api.call('POST', `/api/v1/workflows/${workflowId}/events/device-collected`, {
      token: TOKENS.field,
      body: { data: { collectedBy: 'Aki Field', storageLocation: 'IT room shelf 2' } },
    });
    expect(reported.status).toBe(200);
    await expect.poll(async () => (await view()).step).toMatch(/^(wiping|removing-from-mdm)$/);

    // Hold the task index (reads still pass) while the wipe goes on: the re-enrolment task cannot open.
    const locker = await h.db.pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE open_tasks IN EXCLUSIVE MODE');
      await expect
        .poll(async () => ((await view()).pendingActivities ?? []).map((a) => a.activityType))
        .toContain('openTask');
      await page.goto(`${api.baseUrl}/field/#/task/${workflowId}`);
      await expect.poll(() => page.locator('#task-title').textContent()).toBe(`${third}: nothing to do`);
      expect(await page.locator('#task-expected').innerText()).toContain('looks again');
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
    // No page.goto: the page finds the task by itself.
    await expect.poll(() => page.locator('#task-title').textContent()).toBe(`Re-enrol device: ${third}`);
    expect(page.url()).toBe(`${api.baseUrl}/field/#/task/${workflowId}`);
  });

  it("the API's /docs page renders every operation of /openapi.json (same browser, no CDN)", async () => {
    const spec = (await (await fetch(`${api.baseUrl}/openapi.json`)).json()) as { paths: Record<string, object> };
    const operations = Object.values(spec.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
    await page.setViewportSize({ width: 1200, height: 900 });
    await page.goto(`${api.baseUrl}/docs#postWorkflowsByWorkflowIdEventsByEvent`);
    await expect
      .poll(() => page.locator('details.op[id^="get"], details.op[id^="post"], details.op[id^="delete"]').count())
      .toBe(operations);
    expect(await page.locator('#error').textContent()).toBe('');
    const events = page.locator('#postWorkflowsByWorkflowIdEventsByEvent');
    expect(await events.getAttribute('open')).not.toBeNull(); // the #fragment opened it
    expect(await events.innerText()).toContain('DeviceCollectedData');
    await screenshot('docs.png');
  });

  it('raised no script errors', () => {
    expect(browser.errors).toEqual([]);
  });
});
