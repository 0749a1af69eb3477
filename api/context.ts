/** What every route needs, resolved once in createApiApp. */
import type { Client } from '@temporalio/client';
import type { Config } from '../config/env';
import type { Logger } from './errors';
import type { DbPorts } from './ports';

export interface ApiContext {
  temporal: Client;
  taskQueue: string;
  namespace: string;
  db: DbPorts;
  config: Config;
  clock: () => Date;
  logger: Logger;
  /** How long a report waits for the workflow to answer before the client gets a 503. */
  updateTimeoutMs: number;
  /** How long GET /workflows/{id} waits for the state query before falling back to describe(). */
  queryTimeoutMs: number;
}
