/**
 * One set of shared servers per test run, on free loopback ports: a real PostgreSQL (with a migrated
 * template database each test file copies) and a real Temporal dev server with the project's search
 * attributes. The Java time-skipping server's classpath is resolved here too, so test files that start
 * one never race on Maven.
 */
import type { TestProject } from 'vitest/node';
import { freePort } from '../../scripts/freePort';
import { startTemporalDevServer } from '../../scripts/temporal/devServer';
import { resolveTimeSkippingServer } from '../../scripts/temporal/timeSkippingServer';
import { startTestPostgres } from './postgresGlobalSetup';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const [postgres, temporal] = await Promise.all([
    startTestPostgres(),
    freePort().then((port) => startTemporalDevServer({ port, readyTimeoutMs: 120_000 })),
  ]);
  resolveTimeSkippingServer();
  project.provide('pgAdminUrl', postgres.adminUrl);
  project.provide('pgTemplateDb', postgres.templateDb);
  project.provide('temporalAddress', temporal.address);
  console.log(`[globalSetup] PostgreSQL and Temporal ${temporal.address} ready in ${Date.now() - started} ms`);
  return async () => {
    await Promise.allSettled([temporal.stop(), postgres.stop()]);
  };
}
