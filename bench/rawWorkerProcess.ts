/** Starts bench/rawWorker.ts as a child process and stops it (SIGTERM, then SIGKILL after 30 s). */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { withTimeout } from './stats';

export interface RawWorkerProcess {
  pid: number;
  stop(): Promise<void>;
}

export async function startRawWorker(opts: {
  env: NodeJS.ProcessEnv;
  taskQueue: string;
  activityTypes: string[];
  logFile: string;
  timeoutMs: number;
}): Promise<RawWorkerProcess> {
  const out = createWriteStream(opts.logFile, { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'rawWorker.ts')], {
    cwd: path.resolve(import.meta.dirname, '..'),
    env: {
      ...opts.env,
      BENCH_RAW_TASK_QUEUE: opts.taskQueue,
      BENCH_RAW_ACTIVITY_TYPES: opts.activityTypes.join(','),
      // The product worker's metrics port belongs to it.
      WORKER_METRICS_PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      out.write(`${line}\n`);
      if (line.includes('raw worker ready')) resolve();
    });
    readline.createInterface({ input: child.stderr! }).on('line', (line) => out.write(`${line}\n`));
    void exited.then(() => reject(new Error(`the raw worker exited before it was ready (log: ${opts.logFile})`)));
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      try {
        await withTimeout(exited, 30_000, 'the raw worker did not stop');
      } catch {
        child.kill('SIGKILL');
        await exited;
      }
    }
    out.end();
  };
  try {
    await withTimeout(ready, opts.timeoutMs, `the raw worker was not ready (log: ${opts.logFile})`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid: child.pid!, stop };
}
