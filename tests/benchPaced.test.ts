/**
 * The bench's open-loop phase (bench/lanes.ts runPaced, bench/options.ts): starts follow the clock, not
 * the completions; a start over the in-flight cap waits and is counted; failures and the offered share
 * are told apart. Fake timers: nothing here depends on the machine's speed.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { combinePaced, runPaced } from '../bench/lanes';
import { parseOptions } from '../bench/options';

const load = { cpuBusy: 0.5, load1: 1, load5: 1, load15: 1, durationMs: 1000 };

describe('bench: the same offered load (open loop)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts process i at i/rate seconds, whether or not the earlier ones finished', async () => {
    const starts: number[] = [];
    const running = runPaced({
      count: 4,
      perSecond: 2,
      maxInFlight: 10,
      deadline: Date.now() + 600_000,
      run: async () => {
        starts.push(Date.now());
        await new Promise((r) => setTimeout(r, 10_000)); // each takes far longer than the gap between starts
      },
    });
    await vi.advanceTimersByTimeAsync(20_000);
    const result = await running;
    expect(starts.map((t) => t - 1_000_000)).toEqual([0, 500, 1000, 1500]);
    expect(result).toMatchObject({ completed: 4, held: 0, skipped: 0, perSecond: 2 });
    expect(result.durations).toEqual([10_000, 10_000, 10_000, 10_000]);
    expect(result.windowMs).toBe(11_500);
  });

  it('holds a start while maxInFlight processes run, and counts it', async () => {
    const starts: number[] = [];
    const running = runPaced({
      count: 3,
      perSecond: 10,
      maxInFlight: 2,
      deadline: Date.now() + 600_000,
      run: async () => {
        starts.push(Date.now());
        await new Promise((r) => setTimeout(r, 5_000));
      },
    });
    await vi.advanceTimersByTimeAsync(20_000);
    const result = await running;
    expect(starts.map((t) => t - 1_000_000)).toEqual([0, 100, 5_000]);
    expect(result.held).toBe(1);
    expect(result.completed).toBe(3);
  });

  it('counts a failed process as failed, keeps durations of completed ones only, and adds blocks up', async () => {
    const running = runPaced({
      count: 2,
      perSecond: 1,
      maxInFlight: 5,
      deadline: Date.now() + 600_000,
      run: async (i) => {
        await new Promise((r) => setTimeout(r, 2_000));
        if (i === 1) throw new Error('ended FAILED');
      },
    });
    await vi.advanceTimersByTimeAsync(10_000);
    const result = await running;
    expect(result.completed).toBe(1);
    expect(result.failed.map((f) => f.error)).toEqual(['ended FAILED']);
    expect(result.durations).toEqual([2_000]);
    const both = combinePaced([
      { lanes: result, load },
      { lanes: { ...result, held: 2 }, load },
    ]);
    expect(both).toMatchObject({ held: 2, perSecond: 1, durations: [2_000, 2_000] });
    expect(both.lanes.completed).toBe(2);
  });

  it('starts nothing after the deadline and says how many were skipped', async () => {
    const running = runPaced({
      count: 5,
      perSecond: 1,
      maxInFlight: 5,
      deadline: Date.now() + 1_500,
      run: async () => undefined,
    });
    await vi.advanceTimersByTimeAsync(10_000);
    const result = await running;
    expect(result.completed).toBe(2);
    expect(result.skipped).toBe(3);
  });
});

describe('bench options for the paced phase', () => {
  it('runs 60 processes per side at half the raw rate by default, and refuses a share outside (0, 1]', () => {
    expect(parseOptions([], {})).toMatchObject({ paced: 60, pacedShare: 0.5 });
    expect(parseOptions(['--paced', '0', '--paced-share', '0.7'], {})).toMatchObject({ paced: 0, pacedShare: 0.7 });
    expect(() => parseOptions(['--paced-share', '0'], {})).toThrow(/--paced-share must be above 0 and at most 1/);
    expect(() => parseOptions(['--paced-share', '1.5'], {})).toThrow(/--paced-share/);
    expect(() => parseOptions([], { BENCH_PACED_SHARE: '2' })).toThrow(/--paced-share/);
  });
});
