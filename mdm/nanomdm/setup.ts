/**
 * MDM_KIND=nanomdm: the adapter, its PostgreSQL pool (the store of migration 0009, in the service's
 * database) and the webhook listener NanoMDM posts to, all started here and stopped by close().
 */
import type pg from 'pg';
import { createPool } from '../../db/pool';
import { createNanoMdmApi } from './api';
import { createNanoMdm, type NanoMdmPort } from './adapter';
import type { NanoMdmSettings } from './settings';
import { startWebhookListener } from './webhookListener';

export interface NanoMdmSetup {
  port: NanoMdmPort;
  webhookUrl: string;
  close(): Promise<void>;
}

export async function startNanoMdm(
  settings: NanoMdmSettings,
  database: { url: string } | { pool: pg.Pool },
): Promise<NanoMdmSetup> {
  const ownPool = 'url' in database ? createPool(database.url, 4, { applicationName: 'nanomdm-adapter' }) : undefined;
  const db = ownPool ?? (database as { pool: pg.Pool }).pool;
  const port = createNanoMdm({ db, api: createNanoMdmApi(settings) });
  const listener = await startWebhookListener({
    host: settings.webhookHost,
    port: settings.webhookPort,
    hmacKey: settings.webhookHmacKey,
    onEvent: (event) => port.receive(event),
  });
  return {
    port,
    webhookUrl: listener.url,
    close: async () => {
      await listener.close();
      await ownPool?.end();
    },
  };
}
