/**
 * The API end to end with a real worker (tests/support/lifecycleHarness: Temporal dev server, PostgreSQL,
 * MDM emulator, SMTP sink): the asset lookup goes through the real repository, reports and commands go
 * through the workflows' update validators, and their refusals come back as the HTTP answers of DESIGN §4.
 */
import { describe, expect, it } from 'vitest';
import { workflowIdFor } from '../workflows/definitions';
import { TOKEN_ACTORS, TOKENS } from './support/apiHarness';
import { dateInDays, NEW_USER, newAssetNumber } from './support/fixtures';
import { startChangeUserThroughApi, useHarnessWithApi } from './support/suite';

const { h, api } = useHarnessWithApi({ ADMIN_EMAILS: 'it-admins@example.com' });

const assetNumber = newAssetNumber();
const workflowId = workflowIdFor(assetNumber);
const inAWeek = dateInDays(7);

const report = (event: string, body: unknown, headers: Record<string, string> = {}) =>
  api.call('POST', `/api/v1/workflows/${workflowId}/events/${event}`, { token: TOKENS.field, body, headers });

describe('change user through the API with a worker', () => {
  it('refuses a start for an asset the database does not know (404)', async () => {
    const res = await api.call('POST', '/api/v1/devices/A-000000/change-user', {
      token: TOKENS.admin,
      body: { reason: 'Leaver', plannedCollectionDate: inAWeek, storageLocation: 'Shelf 1' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(404);
  });

  it('starts for a known asset and shows the live state with the pending task', async () => {
    await h.seedDevice({ assetNumber, department: 'Sales', location: 'Tokyo HQ' });
    await startChangeUserThroughApi(h, api, assetNumber, { reason: 'Employee moved team', newUser: NEW_USER });

    const view = await api.call('GET', `/api/v1/workflows/${workflowId}`, { token: TOKENS.field });
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({
      stateAvailable: true,
      type: 'change-user',
      assetNumber,
      status: 'running',
      step: 'awaiting-collection',
      pendingTask: { expects: ['device-collected'], assetNumber },
    });
    expect(view.body.stepsDone.map((s: { step: string }) => s.step)).toContain('scheduled');
    expect(view.body.stepsDone[0].finishedAt).toEqual(expect.any(String));
  });

  it('answers an event the step does not expect with 409, the current step and what it expects', async () => {
    const res = await report('device-delivered', { data: { receivedBy: 'Yuki', signature: 'sig' } });
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(res.body.error).toMatchObject({
      code: 'event-not-expected',
      details: { step: 'awaiting-collection', expects: ['device-collected'], status: 'running' },
    });
    expect(res.body.error.message).toContain('awaiting-collection');
    expect(res.body.error.message).toContain('device-collected');
  });

  it('refuses admin-only reports from field staff with 403 naming the rule; an admin is judged on the step', async () => {
    for (const [event, data] of [
      ['wipe-confirmed', { note: 'setup assistant on screen' }],
      ['user-assigned', { user: NEW_USER }],
    ] as const) {
      const refused = await report(event, { data });
      expect(refused.status, JSON.stringify(refused.body)).toBe(403);
      expect(refused.body).toMatchObject({
        error: { code: 'forbidden', message: expect.stringMatching(/admins only/) },
      });
      const asAdmin = await api.call('POST', `/api/v1/workflows/${workflowId}/events/${event}`, {
        token: TOKENS.admin,
        body: { data },
      });
      expect(asAdmin.status, JSON.stringify(asAdmin.body)).toBe(409); // not at this step
    }
    // Field staff may still pick an existing application (judged on the step: 409 here).
    expect((await report('user-assigned', { data: { applicationId: 'app-1' } })).status).toBe(409);
  });

  it('refuses retry/abort on a running workflow (409 command-not-allowed)', async () => {
    const res = await api.call('POST', `/api/v1/workflows/${workflowId}/retry`, { token: TOKENS.admin, body: {} });
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(res.body.error.code).toBe('command-not-allowed');
  });

  it('accepts the expected report with the actor from the token, once per idempotency key', async () => {
    const key = { 'idempotency-key': `collect-${assetNumber}` };
    const res = await report(
      'device-collected',
      { data: { collectedBy: 'Bob Field', storageLocation: 'Shelf 3' } },
      key,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({
      accepted: true,
      event: 'device-collected',
      workflowId,
      idempotencyKey: `collect-${assetNumber}`,
    });
    expect(res.body.step).not.toBe('awaiting-collection');

    const again = await report(
      'device-collected',
      { data: { collectedBy: 'Bob Field', storageLocation: 'Shelf 3' } },
      key,
    );
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.accepted).toBe(true);

    const state = await h.waitForStep(api.temporal.workflow.getHandle(workflowId), 'awaiting-reenrollment');
    const accepted = state.reports.filter((r) => r.event === 'device-collected' && r.outcome === 'accepted');
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.actor).toMatchObject({ id: TOKEN_ACTORS.field, role: 'field-staff' });
  });

  it('cancels on an admin command, then answers reports with 409 and still shows the final state', async () => {
    const res = await api.call('POST', `/api/v1/workflows/${workflowId}/cancel`, {
      token: TOKENS.admin,
      body: { reason: 'Campaign stopped' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ accepted: true, event: 'cancel', status: 'cancelled' });
    await api.temporal.workflow.getHandle(workflowId).result();

    const late = await report('device-reenrolled', { data: {} });
    expect(late.status, JSON.stringify(late.body)).toBe(409);

    const view = await api.call('GET', `/api/v1/workflows/${workflowId}`, { token: TOKENS.viewer });
    expect(view.body).toMatchObject({ stateAvailable: true, status: 'cancelled', executionStatus: 'completed' });
    // A closed process is shown from describe() and its audit trail: no worker replays it for a query.
    expect(view.body.sources).toEqual(['temporal-describe', 'audit-trail']);
    const steps = view.body.stepsDone.map((s: { step: string }) => s.step);
    expect(steps.slice(0, 2)).toEqual(['scheduled', 'awaiting-collection']);
    expect(steps.at(-1)).toBe('cancelled');
    expect(view.body.reports).toEqual([
      {
        event: 'device-collected',
        actor: { id: TOKEN_ACTORS.field, role: 'field-staff' },
        at: expect.any(String),
        outcome: 'accepted',
        step: 'awaiting-collection',
      },
    ]);
    expect(view.body.pendingTask).toBeUndefined();
  });
});
