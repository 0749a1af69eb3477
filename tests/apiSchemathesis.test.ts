/**
 * Schemathesis (property-based testing from the OpenAPI document) against the API of a started stack:
 * a Temporal dev server of this file's own (so the processes Schemathesis starts, cancels and aborts
 * cannot touch another file's workflows), a worker with the real activities, PostgreSQL, the MDM emulator
 * and the SMTP sink. Its default checks must all pass: no 5xx, every status, header, content type and
 * body as documented, invalid input refused and valid input accepted, 405 with `Allow` for methods a path
 * does not serve. The run is bounded (examples per operation) and seeded, so CI repeats it exactly.
 *
 * `.ci/run` installs Schemathesis (pip, pinned in tests/schemathesis/requirements.txt) and sets
 * SCHEMATHESIS_BIN; elsewhere the test also looks in the virtualenv .ci/run leaves in the cache and on the
 * PATH and, when there is none, is skipped saying so. Under CI=true a missing binary fails the run. The
 * rules the spec cannot state are in tests/schemathesis/schemathesis.toml, each with its reason.
 * SCHEMATHESIS_MAX_EXAMPLES and SCHEMATHESIS_SEED change the bound and the seed for a longer local hunt.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheDir } from '../scripts/cacheDir';
import { freePort } from '../scripts/freePort';
import { startTemporalDevServer, type RunningTemporal } from '../scripts/temporal/devServer';
import { startApi, TOKENS, type ApiHarness } from './support/apiHarness';
import { dateInDays } from './support/fixtures';
import { startHarness, type Harness } from './support/lifecycleHarness';
import { PATIENCE_MS } from './support/patience';

/** What .ci/run installs (pip -r); another version found on the PATH is used, and named in the log. */
const REQUIREMENT = readFileSync(path.resolve('tests', 'schemathesis', 'requirements.txt'), 'utf8').trim();
const MAX_EXAMPLES = Number(process.env.SCHEMATHESIS_MAX_EXAMPLES ?? 30);
const SEED = Number(process.env.SCHEMATHESIS_SEED ?? 20240611);

function findSchemathesis(): string | undefined {
  // SCHEMATHESIS_BIN (.ci/run sets it), the virtualenv .ci/run leaves in the cache, or the PATH.
  const venv = cacheDir(`schemathesis-${REQUIREMENT.replace(/^schemathesis==/, '')}`, 'bin', 'schemathesis');
  const candidates = [process.env.SCHEMATHESIS_BIN, venv, 'schemathesis'].filter((c): c is string => Boolean(c));
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

const bin = findSchemathesis();
if (!bin) {
  const why = `Schemathesis not found (SCHEMATHESIS_BIN unset, none in the cache or on the PATH): pip install ${REQUIREMENT}`;
  if (process.env.CI) throw new Error(`${why}; .ci/run installs it, so CI must have it`);
  console.warn(`[apiSchemathesis] SKIPPED: ${why}`);
}

/** Some real data for the examples to find: assets, a process waiting at its first human task. */
const ASSETS = ['A-000123', 'A-000124', 'A-000125'];

describe.skipIf(!bin)('Schemathesis against the API of a started stack', () => {
  let temporal: RunningTemporal;
  let h: Harness;
  let api: ApiHarness;
  /** What the run printed and its JUnit report stay here for a person to read (test-results/ is not committed). */
  const work = path.resolve('test-results', 'schemathesis');

  beforeAll(async () => {
    temporal = await startTemporalDevServer({ port: await freePort(), readyTimeoutMs: PATIENCE_MS });
    h = await startHarness({ temporalAddress: temporal.address });
    api = await startApi({
      temporalAddress: temporal.address,
      db: h.db.pool,
      taskQueue: h.taskQueue,
      // Schemathesis sends far more than a person: the limiter would answer most of it 429.
      env: { API_RATE_LIMIT_PER_MINUTE: '100000', MDM_POLL_INITIAL_MS: '100', MDM_POLL_MAX_MS: '400' },
      updateTimeoutMs: 20_000,
      queryTimeoutMs: 10_000,
    });
    for (const assetNumber of ASSETS) await h.seedDevice({ assetNumber });
    const started = await api.call('POST', `/api/v1/devices/${ASSETS[0]}/change-user`, {
      token: TOKENS.admin,
      body: { reason: 'Leaver', plannedCollectionDate: dateInDays(7), storageLocation: 'Shelf 1' },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
  });

  afterAll(async () => {
    await api?.close();
    await h?.stop();
    await temporal?.stop();
  });

  it('finds no failure of its default checks', async () => {
    const version = spawnSync(bin!, ['--version'], { encoding: 'utf8' }).stdout.trim();
    const args = [
      '--config-file',
      path.resolve('tests', 'schemathesis', 'schemathesis.toml'),
      'run',
      `${api.baseUrl}/openapi.json`,
      '--header',
      `Authorization: Bearer ${TOKENS.admin}`,
      '--max-examples',
      String(MAX_EXAMPLES),
      '--seed',
      String(SEED),
      '--workers',
      '1',
      '--request-timeout',
      '60',
      '--generation-database',
      'none',
      '--no-color',
      '--report',
      'junit',
      '--report-junit-path',
      path.join(work, 'junit.xml'),
    ];
    console.info(`[apiSchemathesis] ${version}: schemathesis ${args.join(' ')}`);
    const { code, output } = await run(bin!, args, work);
    writeFileSync(path.join(work, 'output.txt'), output);
    // The summary; every failure with its curl line is in test-results/schemathesis/output.txt. Each line is
    // prefixed and Schemathesis' pytest-style closing rule ("=== 1 warning in 30s ===") is left out: CI reads
    // such a line as a test runner that ran no test.
    console.info(quoted(output.slice(output.lastIndexOf('SUMMARY'))));
    const junit = path.join(work, 'junit.xml');
    const report = existsSync(junit) ? readFileSync(junit, 'utf8') : '';
    expect(report, 'the JUnit report').toMatch(/<testsuite/);
    expect(code, `schemathesis exited ${code}:\n${output.slice(-20_000)}`).toBe(0);
  });
});

function quoted(summary: string): string {
  return summary
    .split('\n')
    .filter((line) => line.trim() && !/^=+ .* =+$/.test(line.trim()))
    .map((line) => `[apiSchemathesis] ${line}`)
    .join('\n');
}

function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}
