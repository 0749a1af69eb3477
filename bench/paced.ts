/**
 * The same offered load on both sides (open loop): change-user processes through the API and raw runs,
 * each started at one rate whether or not the earlier ones finished. The closed-loop rounds say how many
 * processes per second each side can complete with N in flight, which on a small machine measures the CPU
 * a process costs; this phase says how much slower a process and a report are when both sides carry the
 * same load, below what either can take.
 */
import type { ApiDriver, DriveTimings } from './apiDriver';
import type { BenchDevice } from './fleet';
import { combinePaced, roundSize, type CombinedPaced, type PacedResult } from './lanes';
import type { RawDriver } from './rawDriver';
import { LoadWindow, type LoadReading } from './stats';

export interface PacedSide extends CombinedPaced {
  timings: DriveTimings;
}

export interface PacedResults {
  perSecond: number;
  /** perSecond as a share of the raw side's closed-loop completions/s. */
  share: number;
  api: PacedSide;
  raw: PacedSide;
}

export async function runPacedRounds(o: {
  apiDriver: ApiDriver;
  rawDriver: RawDriver;
  devices: BenchDevice[];
  perSecond: number;
  share: number;
  maxInFlight: number;
  rounds: number;
  deadline: number;
  /** Told the ids of the runs each side started, for the clean-up. */
  onIds: (api: string[], raw: string[]) => void;
}): Promise<PacedResults> {
  const api: { lanes: PacedResult; load: LoadReading }[] = [];
  const raw: { lanes: PacedResult; load: LoadReading }[] = [];
  const rounds = Math.max(1, Math.min(o.rounds, o.devices.length));
  let offset = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      const n = roundSize(o.devices.length, rounds, round);
      let load = new LoadWindow();
      const apiLanes = await o.apiDriver.runPaced(
        o.devices.slice(offset, offset + n),
        o.perSecond,
        o.maxInFlight,
        o.deadline,
      );
      api.push({ lanes: apiLanes, load: load.stop() });
      offset += n;
      load = new LoadWindow();
      const rawLanes = await o.rawDriver.runPaced(n, o.perSecond, o.maxInFlight, o.deadline, `p${round}`);
      raw.push({ lanes: rawLanes, load: load.stop() });
    }
  } finally {
    o.onIds(o.apiDriver.workflowIds, o.rawDriver.workflowIds);
  }
  return {
    perSecond: o.perSecond,
    share: o.share,
    api: { ...combinePaced(api), timings: o.apiDriver.timings },
    raw: { ...combinePaced(raw), timings: o.rawDriver.timings },
  };
}
