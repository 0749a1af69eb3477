/**
 * The MDM emulator as an Express app. Start it in-process (tests) or through main.ts (local stack).
 *
 *   const mdm = createMdmEmulator({ apiKey: 'k', dataDir });
 *   const { url, close } = await mdm.listen(0);   // port 0: the OS picks a free port
 */
import express, { type Express, type RequestHandler } from 'express';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { bearerAuth } from './auth';
import { createClock } from './clock';
import type { EmulatorContext } from './context';
import { createFaults } from './faults';
import { errorHandler, HttpError } from './httpError';
import { createJobEngine } from './jobEngine';
import { createOutage } from './outage';
import { createRateLimit } from './rateLimit';
import { adminRouter } from './routes/admin';
import { commandsRouter } from './routes/commands';
import { deviceActionsRouter } from './routes/deviceActions';
import { devicesRouter } from './routes/devices';
import { createStore, type Store } from './store';

export interface MdmEmulatorOptions {
  apiKey: string;
  /** Where state.json lives; omit for an in-memory emulator. */
  dataDir?: string;
  /** How long each job step (queued -> acknowledged -> done) takes on the emulator clock. */
  jobStepMs?: number;
  /** Wall clock, replaceable for tests (the job clock adds the admin offset; rate limit and outage use it as is). */
  now?: () => number;
}

export interface RunningEmulator {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface MdmEmulator {
  app: Express;
  context: EmulatorContext;
  listen(port?: number, host?: string): Promise<RunningEmulator>;
}

export const defaultJobStepMs = 200;

export function createMdmEmulator(options: MdmEmulatorOptions): MdmEmulator {
  const store = createStore(options.dataDir);
  const clock = createClock(store, options.now);
  const engine = createJobEngine(store, clock, options.jobStepMs ?? defaultJobStepMs);
  const context: EmulatorContext = {
    store,
    clock,
    engine,
    faults: createFaults(),
    rateLimit: createRateLimit(options.now),
    outage: createOutage(options.now),
  };
  const app = buildApp(context, options.apiKey);
  return { app, context, listen: (port = 0, host = '127.0.0.1') => listen(app, port, host, store) };
}

function buildApp(ctx: EmulatorContext, apiKey: string): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const spec = loadSpec();
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/openapi.json', (_req, res) => {
    res.json(spec);
  });
  app.use(bearerAuth(apiKey));
  app.use(express.json({ limit: '64kb' }));
  app.use('/admin', adminRouter(ctx));
  // Recorded first, so requests an outage or the rate limit turns away are in the log too. A request the
  // outage turns away never reached the MDM, so it takes no rate-limit slot.
  app.use(ctx.faults.recorder, ctx.outage.middleware, ctx.rateLimit.middleware, ctx.faults.middleware);
  app.use(catchUp(ctx));
  app.use(devicesRouter(ctx), commandsRouter(ctx), deviceActionsRouter(ctx));
  app.use((req) => {
    throw new HttpError(404, 'route_not_found', `No route ${req.method} ${req.path}. See GET /openapi.json.`);
  });
  app.use(errorHandler);
  return app;
}

/** Moves jobs on to "now" before each request sees the state. */
function catchUp(ctx: EmulatorContext): RequestHandler {
  return (_req, _res, next) => {
    if (ctx.engine.tick()) ctx.store.commit();
    next();
  };
}

export function loadSpec(): unknown {
  return parseYaml(readFileSync(join(import.meta.dirname, 'openapi.yaml'), 'utf8'));
}

function listen(app: Express, port: number, host: string, store: Store): Promise<RunningEmulator> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host);
    server.once('error', reject);
    server.once('listening', () => {
      const address = server.address() as AddressInfo;
      const close = () =>
        new Promise<void>((done, fail) => {
          server.close((err) => {
            // After the last request: what it changed is on disk before a restart reads the file.
            store.flush();
            return err ? fail(err) : done();
          });
          server.closeAllConnections(); // keep-alive clients would otherwise hold close() open
        });
      resolve({ url: `http://${host}:${address.port}`, port: address.port, close });
    });
  });
}
