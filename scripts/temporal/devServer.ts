/**
 * Starts the official Temporal dev server (`temporal server start-dev`) on loopback with the project's
 * search attributes registered, and waits for it ourselves (the SDK's own wait is ~5 s, too short on a
 * busy 2-core machine).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { searchAttributeCliArgs } from '../../temporal/searchAttributes';
import { StopWaiting, waitUntil } from '../freePort';
import { resolveTemporalCli } from './resolveCli';

export interface RunningTemporal {
  address: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startTemporalDevServer(opts: {
  port: number;
  /** Web UI port; omit for a headless server (tests). */
  uiPort?: number;
  /** SQLite file that keeps history across restarts; omit for in-memory (tests). */
  dbFile?: string;
  namespace?: string;
  log?: (line: string) => void;
  readyTimeoutMs?: number;
}): Promise<RunningTemporal> {
  const cli = await resolveTemporalCli(opts.log);
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--namespace',
    opts.namespace ?? 'default',
    '--log-level',
    'warn',
    ...searchAttributeCliArgs(),
  ];
  if (opts.uiPort) args.push('--ui-port', String(opts.uiPort), '--ui-ip', '127.0.0.1');
  else args.push('--headless');
  if (opts.dbFile) {
    mkdirSync(path.dirname(opts.dbFile), { recursive: true });
    // Write-ahead log without a sync per commit: about 3x the workflow starts per second of the default
    // (measured 17/s -> 52/s on 2 cores); a crash of the machine may lose the last moments of a local stack.
    args.push(
      '--db-filename',
      opts.dbFile,
      '--sqlite-pragma',
      'journal_mode=wal',
      '--sqlite-pragma',
      'synchronous=normal',
    );
  }
  const address = `127.0.0.1:${opts.port}`;
  // The CLI picks free ports for the server's internal services itself and binds them a moment later; a
  // process starting beside it (another test file's server) can take one in between, and the server then
  // panics at start-up. Starting again picks new ones.
  for (let attempt = 1; ; attempt++) {
    try {
      const child = await startOnce(cli.path, args, address, opts);
      return {
        address,
        uiUrl: opts.uiPort ? `http://127.0.0.1:${opts.uiPort}` : undefined,
        process: child,
        stop: () => stopChild(child),
      };
    } catch (err) {
      if (!(err instanceof ExitedEarly) || attempt >= START_ATTEMPTS) throw err;
      opts.log?.(`Temporal dev server exited during start-up (attempt ${attempt}); starting it again`);
    }
  }
}

const START_ATTEMPTS = 3;

class ExitedEarly extends StopWaiting {}

/** The first and last lines the server wrote: a panic's cause is at its head, the stack trace after it. */
function outputKeeper(log?: (line: string) => void) {
  const head: string[] = [];
  const tail: string[] = [];
  let headChars = 0;
  return {
    keep(b: Buffer) {
      const text = b.toString();
      if (headChars < 4_000) {
        head.push(text);
        headChars += text.length;
      } else {
        tail.push(text);
        if (tail.length > 50) tail.shift();
      }
      log?.(text.trimEnd());
    },
    text: () => head.join('') + (tail.length > 0 ? `\n[...]\n${tail.join('')}` : ''),
  };
}

async function startOnce(
  cliPath: string,
  args: string[],
  address: string,
  opts: { log?: (line: string) => void; readyTimeoutMs?: number },
): Promise<ChildProcess> {
  const child = spawn(cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = outputKeeper(opts.log);
  child.stdout?.on('data', output.keep);
  child.stderr?.on('data', output.keep);
  let exited = false;
  child.once('exit', () => (exited = true));
  try {
    await waitUntil(
      'Temporal dev server',
      async () => {
        // Ends the wait at once: an early exit is started again straight away.
        if (exited) throw new ExitedEarly(`Temporal dev server exited early:\n${output.text()}`);
        const conn = await Connection.connect({ address, connectTimeout: 2_000 });
        try {
          await conn.workflowService.getSystemInfo({});
        } finally {
          await conn.close();
        }
      },
      opts.readyTimeoutMs ?? 60_000,
    );
  } catch (err) {
    child.kill('SIGKILL');
    if (err instanceof ExitedEarly) throw err;
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${output.text()}`, { cause: err });
  }
  return child;
}

/** SIGTERM, then SIGKILL if the process has not gone after a grace period. */
export function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
