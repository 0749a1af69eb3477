/**
 * CPU time spent by each part of the machine during a phase, read from /proc/<pid>/stat (user + system
 * ticks of every process, its threads included). On a 2-core machine the parts compete for the same
 * cores, so "how much CPU does one completed process cost, and where" explains a throughput ratio better
 * than latencies do: the API side pays for the API, PostgreSQL, the MDM emulator and the SMTP sink, the
 * raw side for none of them.
 *
 * A process that started during the phase counts from zero; one that ended during it is lost (its last
 * ticks are unknown), which undercounts short-lived processes only.
 */
import { readFileSync } from 'node:fs';
import { argsOf, processIds } from './procfs';

export const PARTS = [
  'Temporal server',
  'product worker',
  'raw worker',
  'API',
  'PostgreSQL',
  'MDM emulator',
  'SMTP sink',
  'bench driver',
  'other',
] as const;
export type Part = (typeof PARTS)[number];

/** Which part a process is, from its command line (the local stack's and the bench's own processes). */
export function partOf(commandLine: string, pid: number, benchPid = process.pid): Part {
  if (pid === benchPid) return 'bench driver';
  const rules: [RegExp, Part][] = [
    [/\btemporal\b.*\bserver\b/, 'Temporal server'],
    [/\bpostgres\b/, 'PostgreSQL'],
    [/bench[\\/]rawWorker/, 'raw worker'],
    [/worker[\\/]main\.ts/, 'product worker'],
    [/api[\\/]main\.ts/, 'API'],
    [/mdmEmulator[\\/]main\.ts/, 'MDM emulator'],
    [/smtp/i, 'SMTP sink'],
  ];
  return rules.find(([pattern]) => pattern.test(commandLine))?.[1] ?? 'other';
}

/** User + system ticks of one process, or undefined when it is gone. */
function ticksOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ): 100 on Linux. */
const TICKS_PER_SECOND = 100;

export type CpuSnapshot = Map<number, { part: Part; ticks: number }>;

/** Every process's CPU ticks now, by pid; undefined where /proc cannot be read (not Linux). */
export function snapshotCpu(known: CpuSnapshot = new Map()): CpuSnapshot | undefined {
  const pids = processIds();
  if (!pids) return undefined;
  const now: CpuSnapshot = new Map();
  for (const pid of pids) {
    const ticks = ticksOf(pid);
    if (ticks === undefined) continue;
    const part = known.get(pid)?.part ?? partOf(argsOf(pid)?.join(' ') ?? '', pid);
    now.set(pid, { part, ticks });
  }
  return now;
}

/** CPU seconds per part between two snapshots. */
export function cpuBetween(start: CpuSnapshot, end: CpuSnapshot): Map<Part, number> {
  const seconds = new Map<Part, number>();
  for (const [pid, { part, ticks }] of end) {
    const before = start.get(pid)?.ticks ?? 0;
    const used = Math.max(0, ticks - before) / TICKS_PER_SECOND;
    seconds.set(part, (seconds.get(part) ?? 0) + used);
  }
  return seconds;
}

/** Adds per-part seconds of several phases. */
export function addCpu(phases: (Map<Part, number> | undefined)[]): Map<Part, number> | undefined {
  if (phases.some((p) => p === undefined)) return undefined;
  const sum = new Map<Part, number>();
  for (const phase of phases as Map<Part, number>[]) {
    for (const [part, s] of phase) sum.set(part, (sum.get(part) ?? 0) + s);
  }
  return sum;
}
