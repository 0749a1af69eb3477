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
import { waitUntil } from '../freePort';
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
  const child = spawn(cli.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (b: Buffer) => {
    output.push(b.toString());
    if (output.length > 50) output.shift();
    opts.log?.(b.toString().trimEnd());
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  child.once('exit', () => (exited = true));

  const address = `127.0.0.1:${opts.port}`;
  try {
    await waitUntil(
      'Temporal dev server',
      async () => {
        if (exited) throw new Error(`exited early:\n${output.join('')}`);
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
    throw err;
  }
  return {
    address,
    uiUrl: opts.uiPort ? `http://127.0.0.1:${opts.uiPort}` : undefined,
    process: child,
    stop: () => stopChild(child),
  };
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
