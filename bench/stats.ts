/**
 * Numbers the benchmark prints: latency samples with nearest-rank percentiles, rates, machine load.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { cpuBetween, snapshotCpu, type Part } from './cpuByPart';

/** Latency samples in milliseconds. */
export class Samples {
  private readonly values: number[] = [];

  add(ms: number): void {
    this.values.push(ms);
  }

  get count(): number {
    return this.values.length;
  }

  /** Nearest-rank percentile (p in 0..100); NaN without samples. */
  percentile(p: number): number {
    if (this.values.length === 0) return Number.NaN;
    const sorted = [...this.values].sort((a, b) => a - b);
    const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
    return sorted[Math.min(rank, sorted.length) - 1]!;
  }

  get p50(): number {
    return this.percentile(50);
  }

  get p99(): number {
    return this.percentile(99);
  }

  get max(): number {
    return this.values.length ? Math.max(...this.values) : Number.NaN;
  }

  /** `p50 12.3 ms, p99 45.6 ms, max 50.1 ms (n=200)` */
  describe(): string {
    if (this.count === 0) return 'no samples';
    return `p50 ${ms(this.p50)}, p99 ${ms(this.p99)}, max ${ms(this.max)} (n=${this.count})`;
  }
}

/** Times `work` and adds its duration to `samples` (also when it throws). */
export async function timed<T>(samples: Samples, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await work();
  } finally {
    samples.add(performance.now() - t0);
  }
}

export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${value.toFixed(value < 10 ? 2 : 1)} ms`;
}

export function seconds(valueMs: number): string {
  return Number.isFinite(valueMs) ? `${(valueMs / 1000).toFixed(1)} s` : 'n/a';
}

export function ratio(a: number, b: number): number {
  return b > 0 && Number.isFinite(a) && Number.isFinite(b) ? a / b : Number.NaN;
}

export function fixed(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

export function mib(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(0)} MiB` : 'n/a';
}

export const sleep = (msToWait: number) => new Promise<void>((resolve) => setTimeout(resolve, msToWait));

/** Whole-machine CPU counters from /proc/stat, to say how busy the machine was during a phase. */
interface CpuTimes {
  busy: number;
  total: number;
}

function cpuTimes(): CpuTimes | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Load averages and CPU use over a stretch of time; `stop()` describes it. */
export class LoadWindow {
  private readonly start = cpuTimes();
  private readonly startByPart = snapshotCpu();
  private readonly startedAt = Date.now();

  stop(): LoadReading {
    const end = cpuTimes();
    const busy =
      this.start && end && end.total > this.start.total
        ? (end.busy - this.start.busy) / (end.total - this.start.total)
        : Number.NaN;
    const [l1, l5, l15] = os.loadavg();
    const endByPart = this.startByPart && snapshotCpu(this.startByPart);
    return {
      cpuBusy: busy,
      load1: l1!,
      load5: l5!,
      load15: l15!,
      durationMs: Date.now() - this.startedAt,
      ...(this.startByPart && endByPart ? { cpuByPart: cpuBetween(this.startByPart, endByPart) } : {}),
    };
  }
}

export interface LoadReading {
  /** Share of all cores busy (0..1) over the window. */
  cpuBusy: number;
  load1: number;
  load5: number;
  load15: number;
  durationMs: number;
  /** CPU seconds each part of the machine used over the window (bench/cpuByPart.ts); absent off Linux. */
  cpuByPart?: Map<Part, number>;
}

export function describeLoad(r: LoadReading): string {
  return (
    `CPU ${Number.isFinite(r.cpuBusy) ? `${(r.cpuBusy * 100).toFixed(0)}%` : 'n/a'} busy over ${seconds(r.durationMs)}, ` +
    `load average ${r.load1.toFixed(2)} / ${r.load5.toFixed(2)} / ${r.load15.toFixed(2)} (${os.cpus().length} cores)`
  );
}

/** `work`, or an error saying `what` after `timeoutMs` (the timer is cleared either way). */
export async function withTimeout<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} after ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
