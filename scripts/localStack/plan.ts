/**
 * What the local stack will run where, from the same configuration the API and worker read
 * (config/env.ts), and the checks that turn a busy port into a message naming the variable to change.
 */
import net from 'node:net';
import path from 'node:path';
import type { Config } from '../../config/env';

export interface PortUse {
  /** What listens there, for people. */
  what: string;
  host: string;
  port: number;
  /** The variable that moves it. */
  envVar: string;
  /** A ready-to-paste setting with the next port, e.g. `PORT=3001`. */
  suggestion: string;
}

export interface StackPlan {
  config: Config;
  dataDir: string;
  api: { host: string; port: number; baseUrl: string };
  postgres: { port: number; dataDir: string; databaseUrl: string };
  temporal: { address: string; port: number; uiPort: number; dbFile: string };
  mdm: { baseUrl: string; host: string; port: number; dataDir: string };
  mail: { host: string; smtpPort: number; httpPort: number; file: string };
  ports: PortUse[];
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export class StackConfigError extends Error {
  override name = 'StackConfigError';
}

function urlPort(url: URL, fallback: number): number {
  return url.port ? Number(url.port) : fallback;
}

function withPort(raw: string, port: number): string {
  const url = new URL(raw);
  url.port = String(port);
  return url.toString().replace(/\/$/, '');
}

/** SMTP_SINK_HTTP_PORT is the sink's own setting (mail/smtpSinkMain.ts), not part of config/env.ts. */
function sinkHttpPort(env: NodeJS.ProcessEnv): number {
  const raw = env.SMTP_SINK_HTTP_PORT?.trim();
  if (!raw) return 8025;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new StackConfigError(`SMTP_SINK_HTTP_PORT=${JSON.stringify(raw)}: must be a port number 1-65535`);
  return n;
}

export function planStack(config: Config, env: NodeJS.ProcessEnv = process.env): StackPlan {
  const dataDir = path.resolve(config.DATA_DIR);
  const db = new URL(config.DATABASE_URL);
  const [temporalHost = '', temporalPortText = ''] = config.TEMPORAL_ADDRESS.split(':');
  const mdm = new URL(config.MDM_BASE_URL);
  const smtp = new URL(config.SMTP_URL);

  // The local stack starts its own servers on loopback; pointing a variable elsewhere is a mistake here.
  const remote = [
    ['DATABASE_URL', db.hostname],
    ['TEMPORAL_ADDRESS', temporalHost],
    ['MDM_BASE_URL', mdm.hostname],
    ['SMTP_URL', smtp.hostname],
  ].filter(([, host]) => !LOOPBACK.has(host!));
  if (remote.length > 0) {
    throw new StackConfigError(
      `the local stack runs every part itself on 127.0.0.1, but ${remote.map(([v, h]) => `${v} points to ${h}`).join(', ')}. ` +
        'Use 127.0.0.1 (change only the port), or run the processes yourself (npm run api / npm run worker) against remote services.',
    );
  }
  if (smtp.protocol !== 'smtp:')
    throw new StackConfigError(`SMTP_URL=${config.SMTP_URL}: the local stack's mail sink speaks plain smtp://`);
  if (mdm.protocol !== 'http:')
    throw new StackConfigError(`MDM_BASE_URL=${config.MDM_BASE_URL}: the bundled MDM emulator serves plain http://`);

  const pgPort = urlPort(db, 5432);
  const temporalPort = Number(temporalPortText);
  const mdmPort = urlPort(mdm, 80);
  const smtpPort = urlPort(smtp, 25);
  const mailHttpPort = sinkHttpPort(env);
  const apiBase = `http://${config.API_HOST}:${config.PORT}/api/v1`;

  const ports: PortUse[] = [
    {
      what: 'the API',
      host: config.API_HOST,
      port: config.PORT,
      envVar: 'PORT',
      suggestion: `PORT=${config.PORT + 1}`,
    },
    {
      what: 'PostgreSQL',
      host: '127.0.0.1',
      port: pgPort,
      envVar: 'DATABASE_URL',
      suggestion: `DATABASE_URL=${withPort(config.DATABASE_URL, pgPort + 1)}`,
    },
    {
      what: 'the Temporal dev server (gRPC)',
      host: '127.0.0.1',
      port: temporalPort,
      envVar: 'TEMPORAL_ADDRESS',
      suggestion: `TEMPORAL_ADDRESS=127.0.0.1:${temporalPort + 1}`,
    },
    {
      what: 'the Temporal Web UI',
      host: '127.0.0.1',
      port: config.TEMPORAL_UI_PORT,
      envVar: 'TEMPORAL_UI_PORT',
      suggestion: `TEMPORAL_UI_PORT=${config.TEMPORAL_UI_PORT + 1}`,
    },
    {
      what: 'the MDM emulator',
      host: '127.0.0.1',
      port: mdmPort,
      envVar: 'MDM_BASE_URL',
      suggestion: `MDM_BASE_URL=${withPort(config.MDM_BASE_URL, mdmPort + 1)}`,
    },
    {
      what: 'the SMTP sink',
      host: '127.0.0.1',
      port: smtpPort,
      envVar: 'SMTP_URL',
      suggestion: `SMTP_URL=${withPort(config.SMTP_URL, smtpPort + 1)}`,
    },
    {
      what: 'the mail sink listing (HTTP)',
      host: '127.0.0.1',
      port: mailHttpPort,
      envVar: 'SMTP_SINK_HTTP_PORT',
      suggestion: `SMTP_SINK_HTTP_PORT=${mailHttpPort + 1}`,
    },
  ];
  if (config.WORKER_METRICS_PORT > 0) {
    ports.push({
      what: 'the worker metrics endpoint',
      host: config.WORKER_METRICS_HOST,
      port: config.WORKER_METRICS_PORT,
      envVar: 'WORKER_METRICS_PORT',
      suggestion: `WORKER_METRICS_PORT=${config.WORKER_METRICS_PORT + 1} (or 0 to turn it off)`,
    });
  }

  return {
    config,
    dataDir,
    api: { host: config.API_HOST, port: config.PORT, baseUrl: apiBase },
    postgres: { port: pgPort, dataDir: path.join(dataDir, 'postgres'), databaseUrl: config.DATABASE_URL },
    temporal: {
      address: `127.0.0.1:${temporalPort}`,
      port: temporalPort,
      uiPort: config.TEMPORAL_UI_PORT,
      dbFile: path.join(dataDir, 'temporal', 'temporal.db'),
    },
    mdm: {
      baseUrl: `http://127.0.0.1:${mdmPort}`,
      host: '127.0.0.1',
      port: mdmPort,
      dataDir: path.join(dataDir, 'mdm'),
    },
    mail: { host: '127.0.0.1', smtpPort, httpPort: mailHttpPort, file: path.join(dataDir, 'mail', 'messages.jsonl') },
    ports,
  };
}

function canListen(host: string, port: number): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(null)));
  });
}

/** Every port distinct and free, or one error listing each problem with the setting that fixes it. */
export async function checkPorts(ports: PortUse[]): Promise<void> {
  const problems: string[] = [];
  const byPort = new Map<number, PortUse[]>();
  for (const use of ports) byPort.set(use.port, [...(byPort.get(use.port) ?? []), use]);
  for (const [port, uses] of byPort) {
    if (uses.length > 1) {
      problems.push(
        `port ${port} is configured for ${uses.map((u) => `${u.what} (${u.envVar})`).join(' and ')}; give each its own port`,
      );
    }
  }
  const distinct = [...byPort.values()].map((uses) => uses[0]!);
  const results = await Promise.all(distinct.map(async (use) => ({ use, err: await canListen(use.host, use.port) })));
  for (const { use, err } of results) {
    if (!err) continue;
    const why =
      err.code === 'EADDRINUSE'
        ? 'is already in use'
        : err.code === 'EACCES'
          ? 'is not allowed for this user'
          : `cannot be opened (${err.code ?? err.message})`;
    problems.push(
      `port ${use.port} for ${use.what} on ${use.host} ${why}. ` +
        `Stop what holds it (ss -ltnp 'sport = :${use.port}') or change ${use.envVar}, e.g. ${use.suggestion}`,
    );
  }
  if (problems.length > 0) throw new StackConfigError(`cannot start the local stack:\n  - ${problems.join('\n  - ')}`);
}
