import { addCpu } from './cpuByPart';
import type { LoadReading } from './stats';

/**
 * Runs `count` processes `concurrency` at a time, each from its start to its completion, and says how
 * many completed per second over the window from the first start to the last completion. Bounded in
 * time: after `deadline` no new process starts, and each process bounds its own waits.
 */

export interface LaneOutcome {
  index: number;
  ok: boolean;
  startedAt: number;
  finishedAt: number;
  error?: string;
}

export interface LanesResult {
  outcomes: LaneOutcome[];
  completed: number;
  failed: LaneOutcome[];
  /** Not started because the deadline had passed. */
  skipped: number;
  windowMs: number;
  completionsPerSecond: number;
}

export async function runLanes(opts: {
  count: number;
  concurrency: number;
  deadline: number;
  run: (index: number) => Promise<void>;
  onProgress?: (done: number, count: number) => void;
}): Promise<LanesResult> {
  const outcomes: LaneOutcome[] = [];
  let next = 0;
  let done = 0;
  let skipped = 0;
  const lane = async () => {
    for (;;) {
      const index = next++;
      if (index >= opts.count) return;
      if (Date.now() > opts.deadline) {
        skipped += 1;
        continue;
      }
      outcomes.push(await outcomeOf(index, opts.run));
      done += 1;
      opts.onProgress?.(done, opts.count);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, opts.count)) }, lane));
  return summarise(outcomes, skipped);
}

/** Runs process `index` and says how it ended, with its start and end times. */
async function outcomeOf(index: number, run: (index: number) => Promise<void>): Promise<LaneOutcome> {
  const startedAt = Date.now();
  try {
    await run(index);
    return { index, ok: true, startedAt, finishedAt: Date.now() };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    return { index, ok: false, startedAt, finishedAt: Date.now(), error };
  }
}

/** Completions over the window from the first start to the last completion. */
function summarise(outcomes: LaneOutcome[], skipped: number): LanesResult {
  const ok = outcomes.filter((o) => o.ok);
  const first = Math.min(...outcomes.map((o) => o.startedAt));
  const last = Math.max(...ok.map((o) => o.finishedAt));
  const windowMs = ok.length > 0 ? last - first : Number.NaN;
  return {
    outcomes,
    completed: ok.length,
    failed: outcomes.filter((o) => !o.ok),
    skipped,
    windowMs,
    completionsPerSecond: ok.length > 0 && windowMs > 0 ? ok.length / (windowMs / 1000) : Number.NaN,
  };
}

export interface PacedResult extends LanesResult {
  /** The offered rate: one start every 1/perSecond seconds from the first. */
  perSecond: number;
  /** Starts that waited because `maxInFlight` processes were still running (the side fell behind). */
  held: number;
  /** Start to completion of each completed process. */
  durations: number[];
}

/**
 * Open loop: starts process i at i/perSecond seconds after the first, whether or not the earlier ones
 * finished (at most `maxInFlight` at once: a start over that waits, and is counted as held). At a rate
 * both sides keep up with, both complete at that rate; what differs is how long a process and each of
 * its steps take under the same load.
 */
export async function runPaced(opts: {
  count: number;
  perSecond: number;
  maxInFlight: number;
  deadline: number;
  run: (index: number) => Promise<void>;
}): Promise<PacedResult> {
  const outcomes: LaneOutcome[] = [];
  const inFlight = new Set<Promise<void>>();
  let skipped = 0;
  let held = 0;
  const t0 = Date.now();
  for (let index = 0; index < opts.count; index++) {
    const due = t0 + (index * 1000) / opts.perSecond;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    if (inFlight.size >= Math.max(1, opts.maxInFlight)) {
      held += 1;
      while (inFlight.size >= Math.max(1, opts.maxInFlight)) await Promise.race(inFlight);
    }
    if (Date.now() > opts.deadline) {
      skipped += opts.count - index;
      break;
    }
    const running: Promise<void> = outcomeOf(index, opts.run)
      .then((o) => void outcomes.push(o))
      .finally(() => inFlight.delete(running));
    inFlight.add(running);
  }
  await Promise.all(inFlight);
  const result = summarise(outcomes, skipped);
  const durations = outcomes.filter((o) => o.ok).map((o) => o.finishedAt - o.startedAt);
  return { ...result, perSecond: opts.perSecond, held, durations };
}

/** How many of `total` processes round `round` of `rounds` runs: the rounds share them as evenly as whole numbers allow. */
export function roundSize(total: number, rounds: number, round: number): number {
  return Math.floor((total * (round + 1)) / rounds) - Math.floor((total * round) / rounds);
}

/** Paced blocks added up, as combineBlocks does for closed-loop rounds. */
export function combinePaced(blocks: { lanes: PacedResult; load: LoadReading }[]) {
  const combined = combineBlocks(blocks);
  return {
    ...combined,
    perSecond: blocks[0]?.lanes.perSecond ?? Number.NaN,
    held: blocks.reduce((n, b) => n + b.lanes.held, 0),
    durations: blocks.flatMap((b) => b.lanes.durations),
  };
}

export type CombinedPaced = ReturnType<typeof combinePaced>;

/** Maps `items` with at most `concurrency` calls in flight, keeping the order. */
export async function mapLimited<T, R>(items: T[], concurrency: number, fn: (item: T, i: number) => Promise<R>) {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return results;
}

/** Polls `probe` every `everyMs` until it returns a value, or throws after `timeoutMs`. */
export async function pollFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { everyMs: number; timeoutMs: number },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${Math.round(opts.timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, opts.everyMs));
  }
}

/** One round of a driver: its processes and the machine's load meanwhile. */
export interface Block {
  lanes: LanesResult;
  load: LoadReading;
}

export interface CombinedBlocks {
  lanes: LanesResult;
  load: LoadReading;
  blocks: Block[];
}

/** Rounds added up: completions over the sum of the rounds' windows; load weighted by duration. */
export function combineBlocks(blocks: Block[]): CombinedBlocks {
  const completed = blocks.reduce((n, b) => n + b.lanes.completed, 0);
  const windowMs = blocks.reduce((n, b) => n + (Number.isFinite(b.lanes.windowMs) ? b.lanes.windowMs : 0), 0);
  const duration = blocks.reduce((n, b) => n + b.load.durationMs, 0);
  const weighted = (f: (l: LoadReading) => number) =>
    duration > 0 ? blocks.reduce((n, b) => n + f(b.load) * b.load.durationMs, 0) / duration : Number.NaN;
  return {
    lanes: {
      outcomes: blocks.flatMap((b) => b.lanes.outcomes),
      completed,
      failed: blocks.flatMap((b) => b.lanes.failed),
      skipped: blocks.reduce((n, b) => n + b.lanes.skipped, 0),
      windowMs,
      completionsPerSecond: completed > 0 && windowMs > 0 ? completed / (windowMs / 1000) : Number.NaN,
    },
    load: {
      cpuBusy: weighted((l) => l.cpuBusy),
      load1: weighted((l) => l.load1),
      load5: blocks.at(-1)?.load.load5 ?? Number.NaN,
      load15: blocks.at(-1)?.load.load15 ?? Number.NaN,
      durationMs: duration,
      ...cpuOf(blocks),
    },
    blocks,
  };
}

/** The rounds' CPU by part added up, when every round has it. */
function cpuOf(blocks: Block[]): Pick<LoadReading, 'cpuByPart'> {
  const sum = addCpu(blocks.map((b) => b.load.cpuByPart));
  return sum ? { cpuByPart: sum } : {};
}
