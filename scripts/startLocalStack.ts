/**
 * `npm start`: the whole service on this machine, no Docker (DESIGN §1). See scripts/localStack/supervisor.ts
 * for what runs; configuration comes from the same environment variables as the API and worker
 * (config/env.ts: PORT, DATABASE_URL, TEMPORAL_ADDRESS, TEMPORAL_UI_PORT, MDM_BASE_URL, SMTP_URL,
 * DATA_DIR, API_TOKENS, ...) plus SMTP_SINK_HTTP_PORT for the mail listing and LOCAL_STACK_VERBOSE=1 for
 * PostgreSQL's routine log.
 *
 * This launcher only starts the supervisor in a process group of its own and passes signals on. A Ctrl-C
 * in a terminal goes to the whole foreground group: without this step PostgreSQL and Temporal would get
 * it at the same moment as the worker and API, instead of after them.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

const supervisorPath = path.join(import.meta.dirname, 'localStack', 'supervisor.ts');

const supervisor = spawn(process.execPath, ['--import', 'tsx', supervisorPath], {
  cwd: process.cwd(),
  detached: true,
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  // The start-up time the ready block reports is counted from when this process began.
  env: { ...process.env, LOCAL_STACK_STARTED_AT: String(performance.timeOrigin) },
});

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (supervisor.exitCode === null && supervisor.signalCode === null) supervisor.kill(signal);
  });
}

supervisor.once('error', (err) => {
  console.error(`could not start the local stack supervisor: ${err.message}`);
  process.exit(1);
});
supervisor.once('exit', (code, signal) => {
  process.exit(code ?? (signal ? 1 : 0));
});
