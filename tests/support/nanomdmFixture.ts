/**
 * Everything a NanoMDM test needs, on real parts: a test database, the adapter with its webhook listener
 * (mdm/nanomdm/setup.ts), the real NanoMDM server pointed at that listener, a CA, and simulated Apple
 * devices enrolled with identities the CA issued.
 */
import { freePort } from '../../scripts/freePort';
import type { NanoMdmPort } from '../../mdm/nanomdm/adapter';
import { startNanoMdm as startAdapter } from '../../mdm/nanomdm/setup';
import { SimulatedAppleDevice, type AppleDeviceOptions } from './appleDevice/agent';
import { createCa, type Ca } from './appleDevice/certificates';
import { startNanoMdm as startServer, type RunningNanoMdm } from './nanomdmServer';
import { createTestDatabase, type TestDatabase } from './postgres';

export interface NanoMdmFixture {
  db: TestDatabase;
  mdm: NanoMdmPort;
  server: RunningNanoMdm;
  ca: Ca;
  /** A device enrolled (Authenticate, TokenUpdate) and polling in the background. */
  device(options: Omit<AppleDeviceOptions, 'mdmUrl' | 'identity'>): Promise<SimulatedAppleDevice>;
  close(): Promise<void>;
}

export async function startNanoMdmFixture(): Promise<NanoMdmFixture> {
  const db = await createTestDatabase();
  const ca = createCa();
  const serverPort = await freePort();
  const apiKey = `nanomdm-test-${process.pid}`;
  const adapter = await startAdapter(
    { url: `http://127.0.0.1:${serverPort}`, apiKey, webhookHost: '127.0.0.1', webhookPort: 0, timeoutMs: 10_000 },
    { pool: db.pool },
  );
  const server = await startServer({ caPem: ca.certPem, webhookUrl: adapter.webhookUrl, port: serverPort, apiKey });
  const devices: SimulatedAppleDevice[] = [];
  return {
    db,
    mdm: adapter.port,
    server,
    ca,
    async device(options) {
      const device = new SimulatedAppleDevice({
        ...options,
        mdmUrl: server.mdmUrl,
        identity: ca.issue(options.serialNumber),
      });
      devices.push(device);
      await device.enrol();
      device.start();
      return device;
    },
    async close() {
      await Promise.all(devices.map((d) => d.stop()));
      await server.stop();
      await adapter.close();
      await db.drop();
    },
  };
}
