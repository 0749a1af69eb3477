/**
 * Every committed history (tests/histories/*.json, recorded from real runs) replays against the current
 * workflow code: a change that would break workflows already in production fails here.
 */
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { committedHistories } from './support/histories';
import { workflowBundle } from './support/lifecycleHarness';

const histories = committedHistories();

describe('replay of committed histories', () => {
  it('has histories of every lifecycle workflow type to replay', () => {
    expect(new Set(histories.map((h) => h.workflowType))).toEqual(
      new Set(['changeDeviceUser', 'inactivateDevice', 'distributeDevice']),
    );
  });

  it.each(histories.map((h) => [h.name, h] as const))('%s replays without nondeterminism', async (_name, h) => {
    await expect(
      Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, h.history, h.workflowId),
    ).resolves.toBeUndefined();
  });
});
