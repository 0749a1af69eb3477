/**
 * The official Java time-skipping test server (io.temporal:temporal-test-server from Maven Central):
 * real workflow code on a real server where days of timers pass in seconds. The jar is thin, so its
 * classpath is resolved with Maven into `.cache/` and started through a wrapper that `exec`s the JVM
 * (killing the wrapper kills the JVM).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import proto from '@temporalio/proto';
import { SearchAttributeType } from '@temporalio/common';
import { customSearchAttributes } from '../../temporal/searchAttributes';

function indexedValueType(type: string): number {
  const t = proto.temporal.api.enums.v1.IndexedValueType;
  return type === SearchAttributeType.BOOL ? t.INDEXED_VALUE_TYPE_BOOL : t.INDEXED_VALUE_TYPE_KEYWORD;
}
import { cacheDir } from '../cacheDir';
import { StopWaiting, waitUntil } from '../freePort';
import { stopChild } from './devServer';

const pom = path.join(import.meta.dirname, 'test-server', 'pom.xml');
const serverDir = cacheDir('temporal-test-server', '1.31.0');
const launcher = path.join(serverDir, 'temporal-test-server');

/** Returns the launcher script path, resolving the classpath with Maven on first use. */
export function resolveTimeSkippingServer(log: (l: string) => void = console.error): string {
  const lib = path.join(serverDir, 'lib');
  const ready =
    existsSync(launcher) && existsSync(lib) && readdirSync(lib).some((f) => f.startsWith('temporal-test-server'));
  if (ready) return launcher;
  if (spawnSync('java', ['-version']).status !== 0)
    throw new Error('java is required for the time-skipping test server');
  mkdirSync(serverDir, { recursive: true });
  log('resolving io.temporal:temporal-test-server from Maven Central...');
  const r = spawnSync('mvn', ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${lib}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) throw new Error('mvn could not resolve the Temporal test server');
  writeFileSync(
    launcher,
    `#!/bin/sh\nexec java -Xss512k -XX:+UseSerialGC -cp "${lib}/*" io.temporal.testserver.TestServer "$@"\n`,
  );
  chmodSync(launcher, 0o755);
  return launcher;
}

export interface TimeSkippingEnv {
  env: TestWorkflowEnvironment;
  address: string;
  stop(): Promise<void>;
}

/**
 * Starts a test server on `port` and returns a TestWorkflowEnvironment whose client skips time while a
 * workflow result is awaited and whose `sleep` jumps the server clock.
 */
export async function startTimeSkippingEnv(port: number, readyTimeoutMs = 90_000): Promise<TimeSkippingEnv> {
  const child = spawn(resolveTimeSkippingServer(), [String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  const errors: string[] = [];
  child.stderr?.on('data', (b: Buffer) => errors.push(b.toString()));
  const address = `127.0.0.1:${port}`;
  try {
    await waitUntil(
      'Temporal time-skipping test server',
      async () => {
        if (child.exitCode !== null) throw new StopWaiting(`exited: ${errors.join('')}`);
        const conn = await Connection.connect({ address, connectTimeout: 2_000 });
        await conn.close();
      },
      readyTimeoutMs,
    );
    // `create` is the SDK's own constructor path for an existing server; it is not in the public typings.
    const create = (
      TestWorkflowEnvironment as unknown as {
        create(o: object): Promise<TestWorkflowEnvironment>;
      }
    ).create.bind(TestWorkflowEnvironment);
    const env = await create({
      server: { type: 'existing' },
      address,
      namespace: 'default',
      supportsTimeSkipping: true,
    });
    // Unlike the dev server, the test server knows no custom search attributes until told.
    await env.connection.operatorService.addSearchAttributes({
      namespace: 'default',
      searchAttributes: Object.fromEntries(customSearchAttributes.map((k) => [k.name, indexedValueType(k.type)])),
    });
    return {
      env,
      address,
      stop: async () => {
        await env.teardown();
        await stopChild(child);
      },
    };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}
