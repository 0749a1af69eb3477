/**
 * The real NanoMDM server (built by `npm run tools`, scripts/nanomdm/resolveNanomdm.ts) on a free loopback
 * port: filekv storage in a temp dir, an API key, device identities read from a certificate header
 * (`-cert-header`, RFC 9440) and checked against a CA made by the test, its webhook pointed at ours.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveNanomdm } from '../../scripts/nanomdm/resolveNanomdm';
import { freePort, StopWaiting, waitUntil } from '../../scripts/freePort';
import { PATIENCE_MS } from './patience';

export const CERT_HEADER = 'X-Client-Cert';

export interface RunningNanoMdm {
  url: string;
  /** Where devices talk the MDM protocol (check-ins and commands share it, as NanoMDM's default). */
  mdmUrl: string;
  apiKey: string;
  /** Everything NanoMDM logged, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

export async function startNanoMdm(options: {
  caPem: string;
  webhookUrl: string;
  port?: number;
  apiKey?: string;
}): Promise<RunningNanoMdm> {
  const binary = resolveNanomdm().path;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nanomdm-'));
  const caPath = path.join(dir, 'ca.pem');
  writeFileSync(caPath, options.caPem);
  const port = options.port ?? (await freePort());
  const apiKey = options.apiKey ?? `nanomdm-test-${process.pid}`;
  const args = [
    '-listen',
    `127.0.0.1:${port}`,
    '-api',
    apiKey,
    '-ca',
    caPath,
    '-cert-header',
    CERT_HEADER,
    '-storage',
    'filekv',
    '-storage-dsn',
    path.join(dir, 'db'),
    '-webhook-url',
    options.webhookUrl,
    '-debug',
  ];
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(
    'NanoMDM',
    async () => {
      if (child.exitCode !== null) throw new StopWaiting(`exited ${child.exitCode}: ${output}`);
      const r = await fetch(`${url}/version`);
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
    },
    PATIENCE_MS,
  );
  return {
    url,
    mdmUrl: `${url}/mdm`,
    apiKey,
    log: () => output,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
