/**
 * Reading Linux's /proc for the bench: which processes exist and how they were started. Every read
 * tolerates a process that ends meanwhile (undefined) and a machine without /proc.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** The pids of all processes now; undefined where /proc cannot be read (not Linux). */
export function processIds(): number[] | undefined {
  try {
    return readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return undefined;
  }
}

/** A process's command line, one entry per argument; undefined when it is gone. */
export function argsOf(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
}
