/**
 * Temporal transport security (issue 12 item 1) on real parts: a CA, server and client certificates made
 * here, a TLS-terminating proxy that requires a client certificate of that CA in front of the run's
 * Temporal dev server, and the service's own connection code (temporal/connection.ts) configured from
 * the environment through config/env.ts, as the API and the worker are.
 *
 * Also the settings rules: TEMPORAL_TLS unset turns TLS on when a TLS file, the server name or an API
 * key is given; TEMPORAL_TLS=off with any of them is refused; NODE_ENV=production refuses plaintext to a
 * Temporal that is not on loopback.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/env';
import { clientConnectionOptions, connectTemporalClient, connectTemporalWorker } from '../temporal/connection';
import { isLoopbackHost } from '../temporal/connectionSettings';
import { createTestCa, type Issued, type TestCa } from './support/testPki';
import { startTlsProxy, type TlsProxy } from './support/tlsProxy';

let dir: string;
let ca: TestCa;
let otherCa: TestCa;
let client: Issued;
let proxy: TlsProxy;
const files: Record<string, string> = {};

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** The error loadConfig throws for this environment (fails the test when it throws none). */
function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

const PRODUCTION = {
  NODE_ENV: 'production',
  // Production refuses the development tokens and needs a payload key; both are beside the point here.
  API_TOKENS: `${'k7Qm2xVp9LrT4wZs8NbY3hJc6FdG1aEu'}=ops@example.com:admin`,
  PAYLOAD_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
};

beforeAll(() => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  dir = mkdtempSync(path.join(tmpdir(), 'temporal-tls-'));
  ca = createTestCa('Device Lifecycle Test Temporal CA');
  otherCa = createTestCa('Some Other CA');
  const server = ca.serverCertificate();
  client = ca.clientCertificate('device-lifecycle-worker');
  const stranger = otherCa.clientCertificate('stranger');
  Object.assign(files, {
    ca: write('ca.pem', ca.certPem),
    otherCa: write('other-ca.pem', otherCa.certPem),
    serverCert: write('server.pem', server.certPem),
    serverKey: write('server-key.pem', server.keyPem),
    clientCert: write('client.pem', client.certPem),
    clientKey: write('client-key.pem', client.keyPem),
    strangerCert: write('stranger.pem', stranger.certPem),
    strangerKey: write('stranger-key.pem', stranger.keyPem),
    notPem: write('not-pem.txt', 'hello\n'),
  });
});

afterAll(async () => {
  await proxy?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('settings (config/env.ts, temporal/connectionSettings.ts)', () => {
  it('plaintext by default; TLS on with a CA file alone, or with an API key alone (an API key implies TLS)', () => {
    expect(clientConnectionOptions(loadConfig({})).tls).toBe(false);
    const withCa = clientConnectionOptions(loadConfig({ TEMPORAL_TLS_CA_FILE: files.ca! }));
    expect(withCa.tls).toEqual({ serverRootCACertificate: Buffer.from(ca.certPem) });
    const withKey = clientConnectionOptions(loadConfig({ TEMPORAL_API_KEY: 'secret-api-key-value' }));
    expect(withKey).toMatchObject({ tls: {}, apiKey: 'secret-api-key-value' });
    expect(clientConnectionOptions(loadConfig({ TEMPORAL_TLS: 'on' })).tls).toEqual({});
  });

  it('mutual TLS: certificate, key and server name reach the options', () => {
    const config = loadConfig({
      TEMPORAL_TLS_CERT_FILE: files.clientCert!,
      TEMPORAL_TLS_KEY_FILE: files.clientKey!,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });
    expect(clientConnectionOptions(config).tls).toEqual({
      clientCertPair: { crt: Buffer.from(client.certPem), key: Buffer.from(client.keyPem) },
      serverNameOverride: 'temporal.internal',
    });
  });

  it('refuses an API key with TEMPORAL_TLS=off, and never echoes the key', () => {
    const message = configError({ TEMPORAL_TLS: 'off', TEMPORAL_API_KEY: 'secret-api-key-value' });
    expect(message).toContain('TEMPORAL_TLS=off: contradicts TEMPORAL_API_KEY');
    expect(message).not.toContain('secret-api-key-value');
    expect(configError({ TEMPORAL_API_KEY: '   ' })).toContain('TEMPORAL_API_KEY=(redacted)');
  });

  it('refuses a certificate without its key, a key without its certificate, and a key of another certificate', () => {
    expect(configError({ TEMPORAL_TLS_CERT_FILE: files.clientCert! })).toContain(
      'TEMPORAL_TLS_KEY_FILE: must be set when TEMPORAL_TLS_CERT_FILE is',
    );
    expect(configError({ TEMPORAL_TLS_KEY_FILE: files.clientKey! })).toContain(
      'TEMPORAL_TLS_CERT_FILE: must be set when TEMPORAL_TLS_KEY_FILE is',
    );
    expect(
      configError({ TEMPORAL_TLS_CERT_FILE: files.clientCert!, TEMPORAL_TLS_KEY_FILE: files.strangerKey! }),
    ).toContain('is not the key of the certificate in TEMPORAL_TLS_CERT_FILE');
  });

  it('reads the files at start: a missing, unreadable or non-PEM file is named with its variable', () => {
    expect(configError({ TEMPORAL_TLS_CA_FILE: path.join(dir, 'absent.pem') })).toMatch(
      /TEMPORAL_TLS_CA_FILE=".*absent\.pem": file not found/,
    );
    expect(configError({ TEMPORAL_TLS_CA_FILE: files.notPem! })).toContain('is not a PEM certificate');
    expect(configError({ TEMPORAL_TLS_CA_FILE: dir })).toContain('is a directory');
    expect(
      configError({ TEMPORAL_TLS_CERT_FILE: files.clientCert!, TEMPORAL_TLS_KEY_FILE: files.clientCert! }),
    ).toContain('TEMPORAL_TLS_KEY_FILE=');
    expect(
      configError({ TEMPORAL_TLS_CERT_FILE: files.clientCert!, TEMPORAL_TLS_KEY_FILE: files.clientCert! }),
    ).toContain('is not a PEM private key');
    if (process.getuid?.() !== 0) {
      // root reads any file, so this case exists only for other users.
      const locked = write('locked.pem', ca.certPem);
      chmodSync(locked, 0o000);
      expect(configError({ TEMPORAL_TLS_CA_FILE: locked })).toContain('permission denied');
    }
  });

  it('production refuses plaintext to a Temporal not on loopback, naming TEMPORAL_TLS', () => {
    const message = configError({ ...PRODUCTION, TEMPORAL_ADDRESS: 'temporal.internal:7233' });
    expect(message).toContain('TEMPORAL_TLS: must be on in production for a Temporal that is not on loopback');
    expect(message).toContain('TEMPORAL_ADDRESS=temporal.internal:7233');
    // The same address is accepted with TLS, or with an API key; and loopback may stay plaintext.
    expect(() =>
      loadConfig({ ...PRODUCTION, TEMPORAL_ADDRESS: 'temporal.internal:7233', TEMPORAL_TLS: 'on' }),
    ).not.toThrow();
    expect(() =>
      loadConfig({
        ...PRODUCTION,
        TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233',
        TEMPORAL_API_KEY: 'secret-api-key-value',
      }),
    ).not.toThrow();
    for (const address of ['127.0.0.1:7233', '127.10.0.3:7233', 'localhost:7233']) {
      expect(() => loadConfig({ ...PRODUCTION, TEMPORAL_ADDRESS: address }), address).not.toThrow();
    }
    // Plaintext in development stays allowed anywhere (the local stack, a colleague's dev server).
    expect(() => loadConfig({ TEMPORAL_ADDRESS: 'temporal.internal:7233' })).not.toThrow();
  });

  it('loopback is 127.0.0.0/8, ::1 and localhost, nothing that merely looks like it', () => {
    for (const host of ['127.0.0.1', '127.255.255.254', '::1', 'localhost', 'LOCALHOST']) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of [
      '128.0.0.1',
      '127.0.0.1.nip.io',
      'localhost.example.com',
      '0.0.0.0',
      '127.0.0.256',
      '10.0.0.1',
    ]) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });
});

describe('through a TLS proxy that requires a client certificate', () => {
  beforeAll(async () => {
    const server = ca.serverCertificate();
    proxy = await startTlsProxy({
      target: inject('temporalAddress'),
      certPem: server.certPem,
      keyPem: server.keyPem,
      clientCaPem: ca.certPem,
    });
  });

  const mutualTls = () => ({
    TEMPORAL_ADDRESS: proxy.address,
    TEMPORAL_TLS_CA_FILE: files.ca!,
    TEMPORAL_TLS_CERT_FILE: files.clientCert!,
    TEMPORAL_TLS_KEY_FILE: files.clientKey!,
  });

  it('a client and a worker with the right CA and client certificate connect, and a workflow runs through them', async () => {
    const config = loadConfig(mutualTls());
    const before = proxy.acceptedClients.length;
    const clientConnection = await connectTemporalClient(config);
    const workerConnection = await connectTemporalWorker(config);
    try {
      const taskQueue = `tls-${randomUUID()}`;
      const worker = await Worker.create({
        connection: workerConnection,
        taskQueue,
        workflowBundle: await bundleWorkflowCode({
          workflowsPath: path.resolve('tests', 'support', 'echoWorkflow.ts'),
          logger: new DefaultLogger('WARN'),
        }),
      });
      const temporal = new Client({ connection: clientConnection });
      const result = await worker.runUntil(
        temporal.workflow.execute('echo', { taskQueue, workflowId: `tls-${randomUUID()}`, args: ['over mutual TLS'] }),
      );
      expect(result).toBe('over mutual TLS');
      const described = await clientConnection.workflowService.describeNamespace({ namespace: 'default' });
      expect(described.namespaceInfo?.name).toBe('default');
    } finally {
      await workerConnection.close();
      await clientConnection.close();
    }
    // Both connections went through the proxy, each presenting our client certificate.
    expect(proxy.acceptedClients.slice(before)).toContain('device-lifecycle-worker');
    expect(new Set(proxy.acceptedClients.slice(before))).toEqual(new Set(['device-lifecycle-worker']));
  });

  it('a wrong CA is refused, with a message naming TEMPORAL_TLS_CA_FILE (client and worker)', async () => {
    const config = loadConfig({ ...mutualTls(), TEMPORAL_TLS_CA_FILE: files.otherCa! });
    const expected = new RegExp(
      `^Temporal at ${proxy.address.replace(/\./g, '\\.')}: its TLS certificate is not signed by a CA we trust ` +
        `\\(TEMPORAL_TLS_CA_FILE=.*other-ca\\.pem\\); set TEMPORAL_TLS_CA_FILE`,
    );
    await expect(connectTemporalClient(config)).rejects.toThrow(expected);
    await expect(connectTemporalWorker(config)).rejects.toThrow(expected);
  });

  it('no client certificate is refused, with a message naming the variables to set', async () => {
    const { TEMPORAL_TLS_CERT_FILE: _cert, TEMPORAL_TLS_KEY_FILE: _key, ...serverOnly } = mutualTls();
    const config = loadConfig(serverOnly);
    const before = proxy.acceptedClients.length;
    const expected =
      /requires a client certificate \(mutual TLS\); set TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE/;
    await expect(connectTemporalClient(config)).rejects.toThrow(expected);
    await expect(connectTemporalWorker(config)).rejects.toThrow(expected);
    expect(proxy.acceptedClients.length).toBe(before);
  });

  it('a client certificate from another CA is refused', async () => {
    const config = loadConfig({
      ...mutualTls(),
      TEMPORAL_TLS_CERT_FILE: files.strangerCert!,
      TEMPORAL_TLS_KEY_FILE: files.strangerKey!,
    });
    // Node's TLS server checks the certificate after the handshake and hangs up without an alert (a Go
    // server would send 'bad certificate', which reads as 'refused our client certificate').
    const expected = /(refusing|refused) our client certificate \(TEMPORAL_TLS_CERT_FILE=.*stranger\.pem\)/;
    await expect(connectTemporalClient(config)).rejects.toThrow(expected);
    await expect(connectTemporalWorker(config)).rejects.toThrow(expected);
  });
});
