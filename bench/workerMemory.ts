/**
 * The product worker's resident memory: read from /proc for the stack's worker process (found by its
 * command line, `worker/main.ts`, and the Temporal address in its environment, so another stack's
 * worker on this machine is never taken for it), else from the worker's Prometheus endpoint
 * (`process_resident_memory_bytes`). Sampled once a second so a phase's peak is known too.
 */
import { readFileSync } from 'node:fs';
import { argsOf, processIds } from './procfs';

export interface WorkerProcess {
  pid: number;
  how: string;
}

/** The environment a process was started with. */
export function envOf(pid: number): Map<string, string> {
  const env = new Map<string, string>();
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

/** The worker processes (`worker/main.ts`) serving `taskQueue` on `temporalAddress`. */
export function findWorkerProcesses(temporalAddress: string, taskQueue: string): WorkerProcess[] {
  const found: WorkerProcess[] = [];
  for (const pid of processIds() ?? []) {
    try {
      const args = argsOf(pid);
      if (!args?.some((a) => /(^|\/)worker\/main\.ts$/.test(a))) continue;
      const env = envOf(pid);
      if ((env.get('TEMPORAL_ADDRESS') ?? '127.0.0.1:7233') !== temporalAddress) continue;
      if ((env.get('TEMPORAL_TASK_QUEUE') ?? 'device-lifecycle') !== taskQueue) continue;
      found.push({ pid, how: `/proc/${pid} (${args.filter(Boolean).slice(-1)[0]})` });
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

export function rssFromProc(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export async function rssFromMetrics(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    const text = await res.text();
    const match = /^process_resident_memory_bytes\s+([0-9.e+]+)/m.exec(text);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Samples one process's RSS every second; peaks are kept per named window. */
export class RssSampler {
  private timer?: NodeJS.Timeout;
  private readonly peaks = new Map<string, number>();
  private last?: number;

  constructor(private readonly read: () => Promise<number | undefined>) {}

  start(): void {
    const tick = async () => {
      const v = await this.read();
      if (v === undefined) return;
      this.last = v;
      for (const [k, peak] of this.peaks) if (v > peak) this.peaks.set(k, v);
    };
    void tick();
    this.timer = setInterval(() => void tick(), 1_000);
    this.timer.unref();
  }

  /** Starts a window whose peak `peak(name)` reports. */
  window(name: string): void {
    this.peaks.set(name, this.last ?? 0);
  }

  peak(name: string): number {
    return this.peaks.get(name) ?? Number.NaN;
  }

  async now(): Promise<number> {
    const v = await this.read();
    if (v !== undefined) this.last = v;
    return v ?? Number.NaN;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
