/**
 * One line at the top of a test file for the parts every test in it shares: `const h = useHarness()`
 * starts a lifecycle harness before the file's tests and stops it after them; `useHarnessWithApi()` adds
 * the API in front of its worker. What they return stands for the harness once it has started: use it
 * inside tests and hooks, not while the file loads. Also what tests do with both: start a process
 * through the API.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { workflowIdFor } from '../../workflows/definitions';
import { startApiFor, TOKENS, type ApiHarness } from './apiHarness';
import { dateInDays } from './fixtures';
import { startHarness, type Harness, type HarnessOptions } from './lifecycleHarness';

/** Stands for the value `get()` returns once a beforeAll hook has set it. */
function startedLater<T extends object>(what: string, get: () => T | undefined): T {
  return new Proxy({} as T, {
    get(_, key) {
      const target = get();
      if (!target) throw new Error(`${what} is not started yet: use it inside a test or a hook`);
      return Reflect.get(target, key, target) as unknown;
    },
  });
}

export function useHarness(options?: HarnessOptions): Harness {
  let harness: Harness | undefined;
  beforeAll(async () => {
    harness = await startHarness(options);
  });
  afterAll(async () => {
    await harness?.stop();
  });
  return startedLater('the harness', () => harness);
}

/** A harness and the API in front of its worker; `env` is the API's extra configuration. */
export function useHarnessWithApi(env: Record<string, string> = {}): { h: Harness; api: ApiHarness } {
  let harness: Harness | undefined;
  let api: ApiHarness | undefined;
  beforeAll(async () => {
    harness = await startHarness();
    api = await startApiFor(harness, env);
  });
  afterAll(async () => {
    await api?.close();
    await harness?.stop();
  });
  return { h: startedLater('the harness', () => harness), api: startedLater('the API', () => api) };
}

/**
 * Starts change-user for `assetNumber` through the API as an admin (201 expected) and waits until the
 * workflow waits for the collection. `body` replaces or adds fields of a plain start (no new user given).
 */
export async function startChangeUserThroughApi(
  h: Harness,
  api: ApiHarness,
  assetNumber: string,
  body: Record<string, unknown> = {},
) {
  const res = await api.call('POST', `/api/v1/devices/${assetNumber}/change-user`, {
    token: TOKENS.admin,
    body: { reason: 'Leaver', plannedCollectionDate: dateInDays(7), storageLocation: 'Shelf 1', ...body },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const handle = api.temporal.workflow.getHandle(workflowIdFor(assetNumber));
  await h.waitForStep(handle, 'awaiting-collection');
  return handle;
}
