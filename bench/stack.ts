/**
 * The stack the bench measures: a local stack already answering on the configured API address (used as
 * it is), or one the bench starts itself — the `npm start` launcher (scripts/startLocalStack.ts, run
 * as `node --import tsx`, which is what `npm start` runs) with its own DATA_DIR under the temp folder
 * and free loopback ports, so it never meets a developer's stack; stopped and deleted at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { loadConfig, type Config } from '../config/env';
import { freePort } from '../scripts/freePort';
import { READY_MARKER } from '../scripts/localStack/banner';
import { withTimeout } from './stats';

const projectRoot = path.resolve(import.meta.dirname, '..');

export interface Stack {
  /** `http://host:port/api/v1` */
  apiBaseUrl: string;
  config: Config;
  tokens: { admin: string; field: string };
  /** The environment the stack's worker was configured from (the raw worker is sized from the same). */
  env: NodeJS.ProcessEnv;
  startedHere: boolean;
  /** Where the stack's output goes (and stays after the stop), when the bench started it. */
  logFile?: string;
  /** Stops the stack if the bench started it (and deletes its data folder unless `keepData`). */
  stop(): Promise<void>;
}

type Log = (line: string) => void;

function tokenFor(config: Config, role: 'admin' | 'field-staff', override?: string): string {
  if (override) return override;
  const entry = config.API_TOKENS.find((t) => t.role === role);
  if (!entry)
    throw new Error(`API_TOKENS has no ${role} token; set BENCH_${role === 'admin' ? 'ADMIN' : 'FIELD'}_TOKEN`);
  return entry.token;
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

export async function findOrStartStack(opts: { log: Log; keepData: boolean; startTimeoutMs: number }): Promise<Stack> {
  const config = loadConfig(process.env);
  const apiBaseUrl = process.env.BENCH_API_URL ?? `http://${config.API_HOST}:${config.PORT}/api/v1`;
  if (await answers(`${apiBaseUrl}/healthz`)) {
    opts.log(`using the local stack already answering on ${apiBaseUrl} (Temporal ${config.TEMPORAL_ADDRESS})`);
    return {
      apiBaseUrl,
      config,
      tokens: {
        admin: tokenFor(config, 'admin', process.env.BENCH_ADMIN_TOKEN),
        field: tokenFor(config, 'field-staff', process.env.BENCH_FIELD_TOKEN),
      },
      env: process.env,
      startedHere: false,
      stop: async () => undefined,
    };
  }
  return startStack(opts);
}

async function startStack(opts: { log: Log; keepData: boolean; startTimeoutMs: number }): Promise<Stack> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'device-lifecycle-bench-'));
  const [api, pg, temporal, ui, mdm, smtp, mailHttp, metrics] = await Promise.all(
    Array.from({ length: 8 }, () => freePort()),
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    DATA_DIR: dataDir,
    API_HOST: '127.0.0.1',
    PORT: String(api),
    DATABASE_URL: `postgres://postgres:postgres@127.0.0.1:${pg}/device_lifecycle`,
    TEMPORAL_ADDRESS: `127.0.0.1:${temporal}`,
    TEMPORAL_UI_PORT: String(ui),
    MDM_BASE_URL: `http://127.0.0.1:${mdm}`,
    SMTP_URL: `smtp://127.0.0.1:${smtp}`,
    SMTP_SINK_HTTP_PORT: String(mailHttp),
    WORKER_METRICS_HOST: '127.0.0.1',
    WORKER_METRICS_PORT: String(metrics),
    // The bench is one client doing the work of many people: the per-actor limit would measure itself.
    API_RATE_LIMIT_PER_MINUTE: process.env.BENCH_API_RATE_LIMIT_PER_MINUTE ?? '100000',
  };
  delete env.LOCAL_STACK_STARTED_AT;
  const config = loadConfig(env);
  const apiBaseUrl = `http://127.0.0.1:${api}/api/v1`;
  // Beside the data folder, not in it: the log outlives the folder, so a failure can still be read.
  const logFile = `${dataDir}.log`;
  const out = createWriteStream(logFile);
  opts.log(`starting a local stack of its own (npm start launcher), data and log in ${dataDir}`);
  const t0 = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'scripts', 'startLocalStack.ts')], {
    cwd: projectRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let ready = false;
  const readyLine = new Promise<void>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      out.write(`${line}\n`);
      if (!ready && line.includes(READY_MARKER)) {
        ready = true;
        resolve();
      }
    });
    readline.createInterface({ input: child.stderr! }).on('line', (line) => out.write(`${line}\n`));
    void exited.then(() => reject(new Error(`the local stack exited before it was ready (log: ${logFile})`)));
  });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopChild(child, exited);
    out.end();
    if (!opts.keepData) {
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
  try {
    await withTimeout(readyLine, opts.startTimeoutMs, `the local stack was not ready (log: ${logFile})`);
  } catch (err) {
    const tail = safeTail(logFile);
    await stop();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${tail}`, { cause: err });
  }
  opts.log(`local stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: API ${apiBaseUrl}`);
  return {
    apiBaseUrl,
    config,
    tokens: { admin: tokenFor(config, 'admin'), field: tokenFor(config, 'field-staff') },
    env,
    startedHere: true,
    logFile,
    stop,
  };
}

function safeTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '';
  }
}

/** SIGTERM to the launcher (it stops the parts in order), SIGKILL after 90 s. */
async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  try {
    await withTimeout(exited, 90_000, 'the local stack did not stop');
  } catch {
    child.kill('SIGKILL');
    await exited;
  }
}
