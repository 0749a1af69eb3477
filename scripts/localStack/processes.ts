/**
 * The local stack's output (every line prefixed with the part it came from) and its Node child processes
 * (MDM emulator, SMTP sink, worker, API), each run as `node --import tsx <entry>` so a signal sent to it
 * reaches the real process, not a wrapper.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import type { Readable } from 'node:stream';

const COLORS: Record<string, number> = {
  stack: 1,
  postgres: 34,
  temporal: 35,
  mdm: 36,
  mail: 33,
  worker: 32,
  api: 92,
  seed: 90,
};
const useColor = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const WIDTH = 8;

export type Log = (line: string) => void;

function prefix(name: string): string {
  const label = name.padEnd(WIDTH);
  return useColor ? `\x1b[${COLORS[name] ?? 0}m${label}\x1b[0m │ ` : `${label} │ `;
}

/** Lines written as `<name> │ text`; a leading `[name]` the process already printed is not repeated. */
export function logFor(name: string, stream: NodeJS.WriteStream = process.stdout): Log {
  const head = prefix(name);
  const own = `[${name}] `;
  return (text) => {
    for (const line of text.split(/\r?\n/)) {
      if (line.trim() === '') continue;
      stream.write(`${head}${line.startsWith(own) ? line.slice(own.length) : line}\n`);
    }
  };
}

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  /** The last lines it printed, for an error message. */
  recentOutput(): string;
  /** Resolves on the first output line matching `pattern`; rejects if the process exits first. */
  waitForLine(pattern: RegExp): Promise<string>;
  /** Resolves when it has exited (at once if it already has). */
  exited(): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs: number): Promise<void>;
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

export function describeExit(child: ChildProcess): string {
  return child.signalCode ? `killed by ${child.signalCode}` : `exit code ${child.exitCode}`;
}

export function spawnService(opts: {
  name: string;
  entry: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
}): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', opts.entry], {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const recent: string[] = [];
  const watchers = new Set<(line: string) => void>();
  const relay = (input: Readable | null, stream: NodeJS.WriteStream) => {
    if (!input) return;
    const log = logFor(opts.name, stream);
    readline.createInterface({ input, crlfDelay: Infinity }).on('line', (line) => {
      recent.push(line);
      if (recent.length > 40) recent.shift();
      log(line);
      for (const watch of watchers) watch(line);
    });
  };
  relay(child.stdout, process.stdout);
  relay(child.stderr, process.stderr);
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (err) => logFor(opts.name, process.stderr)(`could not start: ${err.message}`));

  return {
    name: opts.name,
    child,
    recentOutput: () => recent.join('\n'),
    exited: () => exit,
    waitForLine(pattern) {
      return new Promise((resolve, reject) => {
        const onLine = (line: string) => {
          if (!pattern.test(line)) return;
          watchers.delete(onLine);
          resolve(line);
        };
        watchers.add(onLine);
        void exit.then(() => {
          if (!watchers.has(onLine)) return;
          watchers.delete(onLine);
          reject(new Error(`${opts.name} exited (${describeExit(child)}) before it was ready`));
        });
      });
    },
    async stop(graceMs) {
      if (!isRunning(child)) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.kill('SIGTERM');
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Polls `probe` every 200 ms until it returns true; gives up when `alive()` turns false or time runs out. */
export async function pollUntil(
  what: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; alive?: () => boolean },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (opts.alive && !opts.alive()) throw new Error(`${what} exited before it was ready`);
    try {
      if (await probe()) return;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} was not ready after ${Math.round(opts.timeoutMs / 1000)} s (${last})`);
}

/** True when `url` answers 200 within 2 s. */
export async function answers200(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await res.arrayBuffer();
  return res.status === 200;
}
