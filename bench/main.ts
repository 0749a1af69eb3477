/**
 * `npm run bench`: the service against a raw Temporal baseline, on one Temporal dev server, in one run.
 *
 * 1. The stack: the one answering on the configured API address, else a local stack of its own.
 * 2. Reference: one change-user driven through the API alone (warms the worker; its shape is printed).
 * 3. Rounds of API then raw: change-user processes driven end to end through the API with the MDM
 *    emulator playing the device; then the raw baseline — the shape of those runs (activities,
 *    search-attribute upserts, Updates, timers, markers, read from their histories by bench/shape.ts)
 *    replayed with no-op activities on its own worker process, driven with the bare Temporal client.
 *    Completions/s and report latency for both, and their ratios.
 * 4. A bulk start of 1,000 (POST /collections), timed until every process is at its first human step;
 *    more campaigns until K processes wait; the product worker's RSS; GET /tasks latency with K open
 *    tasks, and a walk through every page.
 * Prints the figures with the targets (PASS/FAIL is informative: the exit code is 0 whenever the bench
 * ran). Never leaves its own stack running; on an existing stack it cancels the processes it left waiting.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { loadConfig, type Config } from '../config/env';
import { connectTemporalClient } from '../temporal/connection';
import { createEmulatorControl } from '../mdm/emulatorControl';
import { dataConverterFor } from '../temporal/codecDataConverter';
import { LifecycleStepKey } from '../temporal/searchAttributes';
import { ApiDriver } from './apiDriver';
import { Fleet } from './fleet';
import { ApiClient } from './http';
import { combineBlocks, mapLimited, roundSize, type Block } from './lanes';
import { parseOptions, USAGE, type BenchOptions } from './options';
import { runPacedRounds } from './paced';
import {
  bulkStart,
  countAtFirstStep,
  fillWaiting,
  timeInbox,
  WAITING_LOCATION,
  walkInbox,
  type PopulationDeps,
} from './population';
import { RawDriver } from './rawDriver';
import type { RawOp } from './rawScript';
import { startRawWorker, type RawWorkerProcess } from './rawWorkerProcess';
import { printReport, type BenchResults } from './report';
import { activityTypesOf, describeShape, scriptFromHistory, shapesAgree, shapeOf, type RunShape } from './shape';
import { findOrStartStack, type Stack } from './stack';
import { LoadWindow, sleep } from './stats';
import { envOf, findWorkerProcesses, rssFromMetrics, rssFromProc, RssSampler } from './workerMemory';

const log = (line: string) => console.log(`[bench] ${line}`);

const cleanups: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        log(`clean-up step failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping what the bench started`);
    void cleanUp().finally(() => process.exit(130));
  });
}

function progress(what: string, total: number) {
  let last = 0;
  return (done: number) => {
    if (Date.now() - last > 10_000 || done === total) {
      last = Date.now();
      log(`  ${what}: ${done}/${total}`);
    }
  };
}

async function phase<T>(results: BenchResults, name: string, work: () => Promise<T>): Promise<T | undefined> {
  log(`— ${name}`);
  try {
    return await work();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    results.problems.push(`${name} did not finish: ${message}`);
    log(`${name} failed: ${message}`);
    return undefined;
  }
}

async function run(opts: BenchOptions): Promise<BenchResults> {
  const runTag = Date.now().toString(36);
  const results: BenchResults = {
    runTag,
    startedAt: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    options: opts,
    loadAtStart: os.loadavg(),
    problems: [],
    memory: {},
    totalLoad: new LoadWindow(),
  };
  const stack: Stack = await findOrStartStack({
    log,
    keepData: opts.keep,
    startTimeoutMs: opts.stackStartTimeoutS * 1000,
  });
  cleanups.push(() => stack.stop());
  const { config } = stack;
  const api = new ApiClient(stack.apiBaseUrl);
  results.http = api;
  const connection = await connectTemporalClient(config);
  cleanups.push(() => connection.close());
  const client = new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter: dataConverterFor(config),
  });
  const emulator = createEmulatorControl({ baseUrl: config.MDM_BASE_URL, apiKey: config.MDM_API_KEY });
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'device-lifecycle-bench-logs-'));

  // The product worker's memory, sampled throughout.
  const workers = findWorkerProcesses(config.TEMPORAL_ADDRESS, config.TEMPORAL_TASK_QUEUE);
  const metricsUrl =
    config.WORKER_METRICS_PORT > 0
      ? `http://${config.WORKER_METRICS_HOST === '0.0.0.0' ? '127.0.0.1' : config.WORKER_METRICS_HOST}:${config.WORKER_METRICS_PORT}/metrics`
      : undefined;
  let readRss: () => Promise<number | undefined> = async () => undefined;
  if (workers.length === 1) {
    let pid = workers[0]!.pid;
    results.memory.how = `VmRSS of the worker process (${workers[0]!.how})`;
    readRss = async () => {
      const v = rssFromProc(pid);
      if (v !== undefined) return v;
      // The stack restarts a worker that died: follow it to its new process.
      const again = findWorkerProcesses(config.TEMPORAL_ADDRESS, config.TEMPORAL_TASK_QUEUE);
      if (again.length !== 1 || again[0]!.pid === pid) return undefined;
      results.problems.push(
        `the worker process changed during the run (pid ${pid} → ${again[0]!.pid}): it was restarted`,
      );
      pid = again[0]!.pid;
      return rssFromProc(pid);
    };
  } else if (metricsUrl && (await rssFromMetrics(metricsUrl)) !== undefined) {
    readRss = () => rssFromMetrics(metricsUrl);
    results.memory.how = `process_resident_memory_bytes from ${metricsUrl}`;
  } else {
    results.problems.push(
      `worker RSS not measured: ${workers.length} worker processes found for ${config.TEMPORAL_ADDRESS} and no metrics endpoint answered`,
    );
  }
  if (workers.length > 1)
    results.problems.push(`${workers.length} worker processes serve this task queue; RSS read from one`);
  // The raw worker is sized like the product's: as its process was configured, when it can be read.
  const workerConfig = workerConfigOf(workers[0]?.pid) ?? config;
  const sizing = {
    WORKER_MAX_CACHED_WORKFLOWS: String(workerConfig.WORKER_MAX_CACHED_WORKFLOWS),
    WORKER_MAX_CONCURRENT_ACTIVITIES: String(workerConfig.WORKER_MAX_CONCURRENT_ACTIVITIES),
    WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: String(workerConfig.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS),
    WORKER_WORKFLOW_THREADS: String(workerConfig.WORKER_WORKFLOW_THREADS),
  };
  results.stack = {
    url: stack.apiBaseUrl,
    startedHere: stack.startedHere,
    logFile: stack.logFile,
    workerSizing:
      `cache ${sizing.WORKER_MAX_CACHED_WORKFLOWS} workflows, ${sizing.WORKER_MAX_CONCURRENT_ACTIVITIES} activities, ` +
      `${sizing.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS} workflow tasks at once, ` +
      `${sizing.WORKER_WORKFLOW_THREADS} workflow thread(s)` +
      (workerConfig === config ? ' (from this environment; the worker process was not read)' : ''),
  };
  const rss = new RssSampler(readRss);
  rss.start();
  rss.window('all');
  cleanups.push(async () => rss.stop());
  results.memory.atStart = await rss.now();

  const driven = opts.processes;
  const fleet = await Fleet.reserve({
    api,
    adminToken: stack.tokens.admin,
    mdm: { baseUrl: config.MDM_BASE_URL, apiKey: config.MDM_API_KEY },
    department: `Bench ${runTag}`,
    size: driven + opts.paced + 1 + opts.apiWarmup + Math.max(opts.waiting, opts.bulk) + 10,
  });
  log(`asset numbers from ${fleet.first} (department "${fleet.department}"); logs in ${logDir}`);

  // Devices for the processes driven end to end: enrolled in the MDM, then created through POST /assets.
  const devices = await phase(
    results,
    `enrol ${driven + opts.paced + 1 + opts.apiWarmup} devices and create their assets (POST /assets)`,
    async () => {
      const enrolled = await fleet.enrol(fleet.take(driven + opts.paced + 1 + opts.apiWarmup));
      await fleet.createOneByOne(enrolled, 'Bench driven');
      return enrolled;
    },
  );
  const driverOptions = {
    api,
    tokens: stack.tokens,
    emulator,
    pollMs: opts.pollMs,
    stepTimeoutMs: opts.stepTimeoutS * 1000,
    runTag,
  };

  // The reference run, driven alone: warms the worker up, and its shape is printed beside the measured ones
  // (the raw script comes from the first measured round; this run's only if that round completed none).
  const reference = devices
    ? await phase(results, 'reference change-user through the API, driven alone', async () => {
        const id = await new ApiDriver(driverOptions).drive(devices[0]!);
        const history = await client.workflow.getHandle(id).fetchHistory();
        const shape = shapeOf(history);
        log(`reference ${id}: ${describeShape(shape)}`);
        return { id, shape, ops: scriptFromHistory(history) };
      })
    : undefined;
  if (reference) results.shapes = { reference: { id: reference.id, shape: reference.shape } };

  // Warm-up runs of the API side, as the raw side gets its own (`--raw-warmup`), at the same concurrency:
  // the first concurrent runs through the API pay for code paths the reference run, driven alone, never took.
  const apiWarmupIds: string[] = [];
  let apiWarmupDevices = 0;
  if (devices && reference && opts.apiWarmup > 0) {
    apiWarmupDevices = opts.apiWarmup;
    await phase(results, `${opts.apiWarmup} API warm-up runs (not counted)`, async () => {
      const warm = new ApiDriver(driverOptions);
      try {
        await warm.run(
          devices.slice(1, 1 + apiWarmupDevices),
          Math.min(opts.concurrency, apiWarmupDevices),
          Date.now() + 300_000,
        );
      } finally {
        apiWarmupIds.push(...warm.workflowIds);
      }
    });
  }

  let rawWorker: RawWorkerProcess | undefined;
  const rawQueue = `bench-raw-${runTag}`;
  const rawIds: string[] = [];
  const drivenIds: string[] = [];
  let rawDriver: RawDriver | undefined;
  // Raw and API alternate in rounds, so both see the same background load on a shared machine.
  const rounds = Math.max(1, Math.min(opts.rounds, driven));
  /** Starts the raw worker for `ops`, warms it up, and gives the driver of the measured raw runs. */
  const startRaw = async (ops: RawOp[]): Promise<RawDriver> => {
    rawWorker = await startRawWorker({
      env: { ...stack.env, ...sizing },
      taskQueue: rawQueue,
      activityTypes: activityTypesOf(ops),
      logFile: path.join(logDir, 'raw-worker.log'),
      timeoutMs: 300_000,
    });
    cleanups.push(() => rawWorker!.stop());
    const rawOptions = {
      client,
      taskQueue: rawQueue,
      ops,
      pollMs: opts.pollMs,
      stepTimeoutMs: opts.stepTimeoutS * 1000,
      runTag,
    };
    if (opts.rawWarmup > 0) {
      const warm = new RawDriver(rawOptions);
      await warm.run(opts.rawWarmup, Math.min(opts.concurrency, opts.rawWarmup), Date.now() + 300_000, 'warmup');
      rawIds.push(...warm.workflowIds);
    }
    return new RawDriver(rawOptions);
  };
  if (devices && reference) {
    const title = `API end to end and raw baseline: ${driven} processes each, ${opts.concurrency} at a time, ${rounds} alternating rounds`;
    await phase(results, title, async () => {
      const apiDriver = new ApiDriver(driverOptions);
      let raw: RawDriver | undefined;
      const rawBlocks: Block[] = [];
      const apiBlocks: Block[] = [];
      const deadline = Date.now() + 2 * opts.phaseTimeoutS * 1000;
      let offset = 1 + apiWarmupDevices;
      try {
        for (let round = 0; round < rounds; round++) {
          const n = roundSize(driven, rounds, round);
          const label = `round ${round + 1}/${rounds}`;
          let load = new LoadWindow();
          const apiLanes = await apiDriver.run(
            devices.slice(offset, offset + n),
            opts.concurrency,
            deadline,
            progress(`${label}: change-user processes completed`, n),
          );
          apiBlocks.push({ lanes: apiLanes, load: load.stop() });
          offset += n;
          if (!raw) {
            // The raw script: what the API runs just did, in their most common shape (under load the MDM
            // job is often done at the first poll, unlike in the reference run driven alone).
            const picked = await modalScript(client, apiDriver.completed, 10);
            const script = picked ?? { id: reference.id, ops: reference.ops, count: 1, of: 1 };
            results.shapes!.script = { id: script.id, count: script.count, of: script.of };
            log(
              `raw script from ${script.id} (the most common shape in ${script.count} of ${script.of} sampled API runs)`,
            );
            raw = await startRaw(script.ops);
          }
          load = new LoadWindow();
          const rawLanes = await raw.run(
            n,
            opts.concurrency,
            deadline,
            `r${round}`,
            progress(`${label}: raw runs completed`, n),
          );
          rawBlocks.push({ lanes: rawLanes, load: load.stop() });
        }
      } finally {
        rawIds.push(...(raw?.workflowIds ?? []));
        drivenIds.push(...apiDriver.workflowIds);
      }
      results.raw = { ...combineBlocks(rawBlocks), timings: raw!.timings };
      results.api = {
        ...combineBlocks(apiBlocks),
        timings: apiDriver.timings,
        failedStarts: apiDriver.failedStarts.length,
      };
      results.shapes!.raw = await sampleShapes(client, raw!.completed, 10);
      results.shapes!.api = await sampleShapes(client, apiDriver.completed, 10);
      rawDriver = raw;
    });
    const rawRate = results.raw?.lanes.completionsPerSecond ?? Number.NaN;
    if (opts.paced > 0 && rawDriver && Number.isFinite(rawRate)) {
      const perSecond = rawRate * opts.pacedShare;
      const first = 1 + apiWarmupDevices + driven;
      const pacedDevices = devices.slice(first, first + opts.paced);
      const title = `the same offered load: ${pacedDevices.length} processes each at ${perSecond.toFixed(2)}/s (${opts.pacedShare} x raw's ${rawRate.toFixed(2)}/s), ${rounds} alternating rounds`;
      const rawSide = rawDriver;
      await phase(results, title, async () => {
        results.paced = await runPacedRounds({
          apiDriver: new ApiDriver(driverOptions),
          rawDriver: rawSide.another(),
          devices: pacedDevices,
          perSecond,
          share: opts.pacedShare,
          maxInFlight: 4 * opts.concurrency,
          rounds,
          deadline: Date.now() + 2 * opts.phaseTimeoutS * 1000,
          onIds: (api, raw) => (drivenIds.push(...api), rawIds.push(...raw)),
        });
      });
    }
    await rawWorker?.stop();
  }
  if (results.shapes?.raw && results.shapes.api) {
    results.shapes.agree = shapesAgree(results.shapes.raw, results.shapes.api);
  }

  const deps: PopulationDeps = {
    api,
    tokens: stack.tokens,
    client,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    fleet,
    log,
  };
  const waitingIds: string[] = [];
  if (!stack.startedHere && !opts.keep) {
    cleanups.push(() => cancelLeftovers(client, [...waitingIds, ...apiWarmupIds, ...drivenIds], rawIds, log));
  }
  results.memory.beforeBulk = await rss.now();
  if (opts.bulk > 0) {
    rss.window('bulk');
    const load = new LoadWindow();
    const bulk = await phase(results, `bulk start of ${opts.bulk} (POST /collections)`, () =>
      bulkStart(deps, opts.bulk, opts.bulkTimeoutS * 1000),
    );
    if (bulk) {
      waitingIds.push(...bulk.start.started);
      results.bulk = { ...bulk, load: load.stop() };
    }
    results.memory.peakBulk = rss.peak('bulk');
  }
  if (opts.waiting > 0) {
    rss.window('waiting');
    const load = new LoadWindow();
    const waiting = await phase(results, `processes waiting for people: up to ${opts.waiting}`, () =>
      fillWaiting(deps, opts.waiting, [...waitingIds], opts.waitingBudgetS * 1000),
    );
    if (waiting) {
      waitingIds.splice(0, waitingIds.length, ...waiting.workflowIds);
      results.waiting = { ...waiting, load: load.stop() };
      if (waiting.outOfTime) {
        results.problems.push(
          `only ${waiting.reached} of ${opts.waiting} processes were waiting at awaiting-collection when the ` +
            `${opts.waitingBudgetS} s budget ran out (${waiting.started} started): the figures below are with K = ${waiting.reached}`,
        );
      }
    }
    results.memory.peakWaiting = rss.peak('waiting');
  }
  if (waitingIds.length > 0) {
    await phase(results, 'worker memory and the task inbox with the waiting processes', async () => {
      await sleep(5_000); // let the last workflow tasks and activities settle
      results.memory.atK = await rss.now();
      const before = await countAtFirstStep(deps);
      const firstPage = await timeInbox(deps, '', opts.inboxSamples);
      const page200 = await timeInbox(deps, 'limit=200', Math.max(10, Math.round(opts.inboxSamples / 4)));
      const filtered = await timeInbox(
        deps,
        `type=collect-device&department=${encodeURIComponent(fleet.department)}&location=${encodeURIComponent(WAITING_LOCATION)}`,
        Math.max(10, Math.round(opts.inboxSamples / 4)),
      );
      const walk = await walkInbox(deps, '', Math.ceil((before + 1000) / 200) + 100, 600_000);
      const after = await countAtFirstStep(deps);
      const mine = new Set(waitingIds);
      const found = [...walk.distinct].filter((id) => mine.has(id)).length;
      const missing = walk.complete
        ? await classifyMissing(
            client,
            waitingIds.filter((id) => !walk.distinct.has(id)),
          )
        : undefined;
      results.inbox = {
        waitingBefore: before,
        waitingAfter: after,
        firstPage,
        page200,
        filtered,
        walk,
        found,
        missing,
      };
    });
  }
  results.memory.peakAll = rss.peak('all');
  return results;
}

/**
 * The script of the most common shape among up to `max` of `ids` (evenly spread): counts of activities,
 * upserts, Updates, timers started and fired, markers.
 */
async function modalScript(client: Client, ids: string[], max: number) {
  const step = Math.max(1, ids.length / max);
  const picked = Array.from({ length: Math.min(max, ids.length) }, (_, i) => ids[Math.floor(i * step)]!);
  const runs = await mapLimited(picked, 4, async (id) => {
    const history = await client.workflow.getHandle(id).fetchHistory();
    const s = shapeOf(history);
    const key = JSON.stringify([s.activities, s.upserts, s.updates, s.timersStarted, s.timersFired, s.markers]);
    return { id, history, key };
  });
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(r.key, (counts.get(r.key) ?? 0) + 1);
  const best = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
  const run = best && runs.find((r) => r.key === best[0]);
  if (!run) return undefined;
  return { id: run.id, ops: scriptFromHistory(run.history), count: best[1], of: runs.length };
}

/** The configuration a worker process was started with, from its environment in /proc. */
function workerConfigOf(pid: number | undefined): Config | undefined {
  if (pid === undefined) return undefined;
  try {
    return loadConfig(Object.fromEntries(envOf(pid)));
  } catch {
    return undefined;
  }
}

/** Histories of up to `max` completed runs, evenly spread over the list. */
async function sampleShapes(client: Client, ids: string[], max: number): Promise<RunShape[]> {
  const step = Math.max(1, ids.length / max);
  const picked = Array.from({ length: Math.min(max, ids.length) }, (_, i) => ids[Math.floor(i * step)]!);
  return mapLimited(picked, 4, async (id) => shapeOf(await client.workflow.getHandle(id).fetchHistory()));
}

/**
 * Started processes whose task is not in the inbox: still on their way to the first step (running at an
 * earlier step: late, not lost) or lost (gone, failed, parked, or at the step without a task).
 */
async function classifyMissing(client: Client, ids: string[]) {
  const lost: string[] = [];
  let onTheWay = 0;
  await mapLimited(ids.slice(0, 500), 10, async (id) => {
    try {
      const d = await client.workflow.getHandle(id).describe();
      const step = d.typedSearchAttributes.get(LifecycleStepKey);
      if (d.status.name === 'RUNNING' && step === 'scheduled') onTheWay += 1;
      else lost.push(`${id}: ${d.status.name} at ${step ?? '?'}`);
    } catch (err) {
      lost.push(`${id}: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  return { count: ids.length, onTheWay, lost, checked: Math.min(ids.length, 500) };
}

/**
 * On a stack the bench did not start: cancel the processes it left running (as the Temporal UI's cancel
 * does: the workflow records the stop and closes its task), terminate raw runs that did not finish.
 */
async function cancelLeftovers(client: Client, waiting: string[], raw: string[], say: (l: string) => void) {
  const t0 = Date.now();
  let cancelled = 0;
  await mapLimited(waiting, 20, async (id) => {
    try {
      await client.workflow.getHandle(id).cancel();
      cancelled += 1;
    } catch {
      // already closed
    }
  });
  await mapLimited(raw, 20, async (id) => {
    try {
      const handle = client.workflow.getHandle(id);
      if ((await handle.describe()).status.name === 'RUNNING') await handle.terminate('benchmark finished');
    } catch {
      // already closed
    }
  });
  say(
    `cancelled ${cancelled} processes left running (from the Temporal client) in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  );
}

async function main(): Promise<void> {
  let opts: BenchOptions | 'help';
  try {
    opts = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(2);
  }
  if (opts === 'help') {
    console.log(USAGE);
    return;
  }
  let results: BenchResults | undefined;
  try {
    results = await run(opts);
  } catch (err) {
    console.error(`[bench] could not run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  } finally {
    await cleanUp();
  }
  if (results) printReport(results);
}

await main();
process.exit(process.exitCode ?? 0);
