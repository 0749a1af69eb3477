/**
 * The bench's printed report: what ran where, the shapes, throughput and latency side by side with
 * ratios, bulk start, memory, the inbox, HTTP answers, then the targets with PASS/FAIL (informative).
 */
import os from 'node:os';
import { PARTS, type Part } from './cpuByPart';
import type { DriveTimings } from './apiDriver';
import type { ApiClient } from './http';
import type { CombinedBlocks } from './lanes';
import type { BenchOptions } from './options';
import type { PacedResults } from './paced';
import type { BulkResult, InboxWalk, WaitingResult } from './population';
import { describeShape, describeShapes, type RunShape, type RunTiming } from './shape';
import { describeLoad, fixed, mib, ms, ratio, Samples, seconds, type LoadReading, type LoadWindow } from './stats';

interface DrivenPhase extends CombinedBlocks {
  timings: DriveTimings;
}

export interface BenchResults {
  runTag: string;
  startedAt: string;
  command: string;
  options: BenchOptions;
  loadAtStart: number[];
  totalLoad: LoadWindow;
  stack?: { url: string; startedHere: boolean; logFile?: string; workerSizing: string };
  http?: ApiClient;
  shapes?: {
    reference: { id: string; shape: RunShape };
    /** The API run the raw script was derived from: the most common shape in `count` of `of` sampled. */
    script?: { id: string; count: number; of: number };
    raw?: RunShape[];
    api?: RunShape[];
    agree?: boolean;
  };
  raw?: DrivenPhase;
  api?: DrivenPhase & { failedStarts: number };
  paced?: PacedResults;
  bulk?: BulkResult & { load: LoadReading };
  waiting?: WaitingResult & { load: LoadReading };
  memory: {
    how?: string;
    atStart?: number;
    beforeBulk?: number;
    peakBulk?: number;
    peakWaiting?: number;
    atK?: number;
    peakAll?: number;
  };
  inbox?: {
    waitingBefore: number;
    waitingAfter: number;
    firstPage: Samples;
    page200: Samples;
    filtered: Samples;
    walk: InboxWalk;
    /** This run's waiting processes found in the walk. */
    found: number;
    /** This run's started campaign processes the walk did not find (when it reached the end). */
    missing?: { count: number; onTheWay: number; lost: string[]; checked: number };
  };
  problems: string[];
}

type Verdict = 'PASS' | 'FAIL' | 'n/a';

interface TargetRow {
  target: string;
  measured: string;
  verdict: Verdict;
}

const pct = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? `${(v * 100).toFixed(0)}%` : 'n/a');

const verdict = (measured: boolean, ok: boolean): Verdict => (!measured ? 'n/a' : ok ? 'PASS' : 'FAIL');

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => `  ${r.map((cell, c) => cell.padEnd(widths[c]!)).join('   ')}`.trimEnd()).join('\n');
}

function perEvent(t: DriveTimings | undefined, event: string, p: 'p50' | 'p99'): number {
  return t?.reportsByEvent.get(event)?.[p] ?? Number.NaN;
}

export function printReport(r: BenchResults): void {
  const out: string[] = [];
  const say = (line = '') => out.push(line);
  const o = r.options;
  const total = r.totalLoad.stop();
  say('');
  say(`=== device-lifecycle benchmark — run ${r.runTag}, ${r.startedAt} ===`);
  say(`command: ${r.command}`);
  say(
    `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; ` +
      `load average at start ${r.loadAtStart.map((l) => l.toFixed(2)).join(' / ')}; whole run: ${describeLoad(total)}`,
  );
  if (r.stack) {
    say(
      `stack: ${r.stack.startedHere ? 'started by the bench (own data folder, free ports)' : 'already running'}, API ${r.stack.url}` +
        (r.stack.logFile ? `, log ${r.stack.logFile}` : ''),
    );
    say(`worker sizing (the product's worker and the raw one): ${r.stack.workerSizing}`);
  }
  say(
    `sizes: ${o.processes} processes, ${o.concurrency} at a time, poll every ${o.pollMs} ms; bulk ${o.bulk}; ` +
      `waiting ${o.waiting}; ${o.inboxSamples} GET /tasks samples${o.quick ? ' (quick mode)' : ''}`,
  );

  if (r.shapes) {
    say('');
    say('Shape of one change-user with a new user (counted from histories of this run):');
    say(`  reference ${r.shapes.reference.id} (driven alone before the measured runs):`);
    say(`    ${describeShape(r.shapes.reference.shape)}`);
    if (r.shapes.script) {
      say(
        `  raw script derived from ${r.shapes.script.id}: the most common shape in ${r.shapes.script.count} of ` +
          `${r.shapes.script.of} sampled API runs of round 1`,
      );
    }
    if (r.shapes.raw) say(`  raw, measured: ${describeShapes(r.shapes.raw)}`);
    if (r.shapes.api) say(`  API, measured: ${describeShapes(r.shapes.api)}`);
    if (r.shapes.agree !== undefined) {
      say(
        `  raw and API agree (same Updates in order, same markers, activities and upserts within one on average): ` +
          `${r.shapes.agree ? 'yes' : 'NO — see above'}`,
      );
    }
    if (r.shapes.raw?.length && r.shapes.api?.length) timingTable(say, r.shapes.raw, r.shapes.api);
  }

  const raw = r.raw;
  const api = r.api;
  if (raw || api) {
    say('');
    say(
      `Throughput and report latency (same Temporal dev server, same run; ${o.processes} processes each, ${o.concurrency} at a time, ` +
        `in ${Math.max(raw?.blocks.length ?? 1, api?.blocks.length ?? 1)} rounds of API then raw)`,
    );
    const row = (name: string, a: number, b: number, fmt: (v: number) => string) => [
      name,
      fmt(a),
      fmt(b),
      fixed(ratio(b, a), 3),
    ];
    const rows: string[][] = [['', 'raw baseline', 'API end to end', 'API/raw']];
    rows.push(
      row('completions/s', raw?.lanes.completionsPerSecond ?? NaN, api?.lanes.completionsPerSecond ?? NaN, (v) =>
        fixed(v),
      ),
    );
    rows.push(row('window', raw?.lanes.windowMs ?? NaN, api?.lanes.windowMs ?? NaN, seconds));
    rows.push(row('report p50', raw?.timings.reports.p50 ?? NaN, api?.timings.reports.p50 ?? NaN, ms));
    rows.push(row('report p99', raw?.timings.reports.p99 ?? NaN, api?.timings.reports.p99 ?? NaN, ms));
    for (const event of ['device-collected', 'device-reenrolled', 'device-delivered']) {
      rows.push(row(`  ${event} p99`, perEvent(raw?.timings, event, 'p99'), perEvent(api?.timings, event, 'p99'), ms));
    }
    rows.push(row('start p50', raw?.timings.starts.p50 ?? NaN, api?.timings.starts.p50 ?? NaN, ms));
    rows.push(row('start p99', raw?.timings.starts.p99 ?? NaN, api?.timings.starts.p99 ?? NaN, ms));
    rows.push(
      row('poll p50 (describe / inbox, view)', raw?.timings.polls.p50 ?? NaN, api?.timings.polls.p50 ?? NaN, ms),
    );
    rows.push(row('poll p99', raw?.timings.polls.p99 ?? NaN, api?.timings.polls.p99 ?? NaN, ms));
    rows.push([
      'completed / failed / skipped',
      raw ? `${raw.lanes.completed} / ${raw.lanes.failed.length} / ${raw.lanes.skipped}` : 'n/a',
      api ? `${api.lanes.completed} / ${api.lanes.failed.length} / ${api.lanes.skipped}` : 'n/a',
      '',
    ]);
    say(table(rows));
    say(
      `  reports timed: raw ${raw?.timings.reports.count ?? 0} Updates (bare client), API ${api?.timings.reports.count ?? 0} HTTP calls`,
    );
    if (raw) say(`  machine during raw:  ${describeLoad(raw.load)}`);
    if (api) say(`  machine during API:  ${describeLoad(api.load)}`);
    const rounds = Math.max(raw?.blocks.length ?? 0, api?.blocks.length ?? 0);
    for (let i = 0; rounds > 1 && i < rounds; i++) {
      const a = raw?.blocks[i];
      const b = api?.blocks[i];
      say(
        `  round ${i + 1}: API ${fixed(b?.lanes.completionsPerSecond ?? NaN)}/s (CPU ${pct(b?.load.cpuBusy)}, load ${fixed(b?.load.load1 ?? NaN)}), ` +
          `raw ${fixed(a?.lanes.completionsPerSecond ?? NaN)}/s (CPU ${pct(a?.load.cpuBusy)}, load ${fixed(a?.load.load1 ?? NaN)})`,
      );
    }
    for (const f of [...(raw?.lanes.failed ?? []), ...(api?.lanes.failed ?? [])].slice(0, 5)) {
      say(`  failed: #${f.index}: ${f.error}`);
    }
    if (raw && api) cpuTable(say, raw, api);
  }

  if (r.paced) pacedSection(say, r.paced);

  if (r.bulk) {
    const b = r.bulk;
    say('');
    say(`Bulk start (one POST /collections with ${b.start.requested} enrolled devices)`);
    say(`  before: MDM enrolment ${seconds(b.enrolMs)}, CSV import (POST /assets/import) ${seconds(b.start.importMs)}`);
    say(
      `  answered in ${seconds(b.start.answeredMs)} (HTTP ${b.start.status}, ${b.start.startedInAnswer} started in the answer); ` +
        `every row decided after ${seconds(b.start.decidedMs)}` +
        `${b.start.status === 202 ? ' (followed at GET /bulk/{id})' : ''}: ${b.start.started.length} started, ` +
        `${b.start.notStarted.length} not started`,
    );
    const within = (t: number, n: number) =>
      Number.isFinite(t) ? seconds(t) : `not within ${o.bulkTimeoutS} s (${n} of ${b.start.started.length})`;
    say(
      `  all at awaiting-collection (visibility count): ${within(b.allAtStepMs, b.reachedStep)}; ` +
        `all in the task inbox: ${within(b.allInInboxMs, b.inInbox)}`,
    );
    say(`  machine: ${describeLoad(b.load)}`);
  }

  if (r.waiting) {
    const w = r.waiting;
    const answers = w.campaigns.map((c) => `${(c.answeredMs / 1000).toFixed(1)}/${(c.decidedMs / 1000).toFixed(1)}`);
    say('');
    say(
      `Processes waiting for people: target ${w.target}, ${w.started} started, ${w.reached} at awaiting-collection ` +
        `after ${seconds(w.fillMs)}${w.outOfTime ? ' — OUT OF TIME: the figures below are with this K' : ''}`,
    );
    if (answers.length > 0) {
      say(
        `  ${answers.length} more campaigns of up to 1,000, answered / every row decided after: ${answers.join(', ')} s`,
      );
    }
    say(`  machine: ${describeLoad(w.load)}`);
  }

  const m = r.memory;
  say('');
  say(`Worker RSS (${m.how ?? 'not measured'})`);
  say(
    `  at start ${mib(m.atStart ?? NaN)}; before the bulk start ${mib(m.beforeBulk ?? NaN)}; peak during bulk ${mib(m.peakBulk ?? NaN)}; ` +
      `peak while filling ${mib(m.peakWaiting ?? NaN)}; with ${r.waiting?.reached ?? r.bulk?.reachedStep ?? 0} waiting ${mib(m.atK ?? NaN)}; ` +
      `peak over the run ${mib(m.peakAll ?? NaN)}`,
  );

  if (r.inbox) {
    const i = r.inbox;
    say('');
    say(
      `Task inbox with ${i.waitingBefore} of this run's processes waiting (visibility count; ${i.waitingAfter} after the walk)`,
    );
    say(`  GET /tasks (first page, default limit):  ${i.firstPage.describe()}`);
    say(`  GET /tasks?limit=200:                     ${i.page200.describe()}`);
    say(`  GET /tasks filtered (type, department, location): ${i.filtered.describe()}`);
    say(
      `  paging all (limit 200): ${i.walk.pages} pages, ${i.walk.items} items, ${i.walk.distinct.size} distinct workflows, ` +
        `${i.walk.duplicates} duplicates, ${i.walk.withoutData} without data, ${i.walk.complete ? 'reached the end' : 'DID NOT reach the end'}; ` +
        `this run's: ${i.found} of ${i.waitingBefore}; page ${i.walk.latencies.describe()}`,
    );
    if (i.missing && i.missing.count > 0) {
      say(
        `  started but not in the inbox: ${i.missing.count} (of ${i.missing.checked} checked: ${i.missing.onTheWay} still on their way ` +
          `at step scheduled, ${i.missing.lost.length} lost)`,
      );
      for (const l of i.missing.lost.slice(0, 5)) say(`    lost: ${l}`);
    }
  }

  const http = r.http;
  const fivexx = http ? http.count(500, 599) : NaN;
  if (http) {
    say('');
    say(
      `HTTP answers: ${http.describeStatuses()}; transport errors ${http.transportErrors}; 429s waited out ${http.rateLimited}`,
    );
    for (const e of http.serverErrors.slice(0, 5)) say(`  ${e.status} ${e.method} ${e.path}: ${e.body}`);
    if (http.rateLimited > 0) {
      say('  (429s: this stack rate-limits per actor; set API_RATE_LIMIT_PER_MINUTE higher for meaningful figures)');
    }
  }

  // ---- targets
  const rows: TargetRow[] = [];
  const cps = ratio(api?.lanes.completionsPerSecond ?? NaN, raw?.lanes.completionsPerSecond ?? NaN);
  rows.push({
    target: 'completions/s through the API >= 0.9 x raw',
    measured: `${fixed(cps, 3)} x (${fixed(api?.lanes.completionsPerSecond ?? NaN)} vs ${fixed(raw?.lanes.completionsPerSecond ?? NaN)} /s)`,
    verdict: verdict(Number.isFinite(cps), cps >= 0.9),
  });
  const p99 = ratio(api?.timings.reports.p99 ?? NaN, raw?.timings.reports.p99 ?? NaN);
  rows.push({
    target: 'report p99 <= 1.5 x raw Update p99',
    measured: `${fixed(p99, 3)} x (${ms(api?.timings.reports.p99 ?? NaN)} vs ${ms(raw?.timings.reports.p99 ?? NaN)})`,
    verdict: verdict(Number.isFinite(p99), p99 <= 1.5),
  });
  const k = r.inbox?.waitingBefore ?? 0;
  const tenK = k >= 10_000 ? '' : ` (with ${k}, not 10,000)`;
  const inboxP99 = r.inbox?.firstPage.p99 ?? NaN;
  rows.push({
    target: 'GET /tasks p99 < 100 ms with 10,000 open tasks',
    measured: `${ms(inboxP99)}${tenK}`,
    verdict: verdict(Number.isFinite(inboxP99), inboxP99 < 100),
  });
  const walk = r.inbox?.walk;
  rows.push({
    target: 'paging through returns exactly the K tasks, distinct',
    measured: walk ? `${r.inbox!.found} of ${k}, ${walk.duplicates} duplicates${tenK}` : 'n/a',
    verdict: verdict(Boolean(walk), Boolean(walk?.complete) && r.inbox!.found === k && walk!.duplicates === 0),
  });
  const rssK = m.atK ?? NaN;
  rows.push({
    target: 'worker RSS < 1 GiB with 10,000 processes waiting',
    measured: `${mib(rssK)} (peak ${mib(Math.max(m.peakWaiting ?? 0, m.peakBulk ?? 0, rssK))})${tenK}`,
    verdict: verdict(Number.isFinite(rssK), rssK < 2 ** 30),
  });
  const b = r.bulk;
  const bulkNote = b && b.start.requested !== 1000 ? ` (${b.start.requested}, not 1,000)` : '';
  rows.push({
    target: 'bulk start of 1,000 answered < 10 s',
    measured: b
      ? `${seconds(b.start.answeredMs)} (HTTP ${b.start.status}; all rows decided ${seconds(b.start.decidedMs)})${bulkNote}`
      : 'n/a',
    verdict: verdict(Boolean(b), (b?.start.answeredMs ?? Infinity) < 10_000),
  });
  const allThere = b ? Math.max(b.allAtStepMs, b.allInInboxMs) : NaN;
  rows.push({
    target: 'all 1,000 at awaiting-collection (and in the inbox) < 60 s',
    measured: b
      ? `${Number.isFinite(allThere) ? seconds(allThere) : `> ${o.bulkTimeoutS} s (${Math.min(b.reachedStep, b.inInbox)} of ${b.start.started.length} by then)`}${bulkNote}`
      : 'n/a',
    verdict: verdict(Boolean(b), allThere < 60_000),
  });
  // Lost: a start refused or failed, or a started process that never reached its task (gone, failed,
  // parked). One still on its way when the time ran out is late, not lost (said in the inbox section).
  const refused =
    (api?.failedStarts ?? 0) +
    (b?.start.notStarted.length ?? 0) +
    (r.waiting?.campaigns.reduce((n, c) => n + c.notStarted.length, 0) ?? 0);
  const neverArrived = r.inbox?.missing?.lost.length ?? 0;
  const lost = refused + neverArrived;
  const lateNote = r.inbox?.missing?.onTheWay ? `, ${r.inbox.missing.onTheWay} still on their way` : '';
  rows.push({
    target: 'zero lost starts',
    measured: r.inbox?.missing
      ? `${lost} (${refused} refused, ${neverArrived} never arrived${lateNote})`
      : `${refused} refused (arrivals not checked)`,
    verdict: verdict(Boolean(api || b), lost === 0),
  });
  rows.push({
    target: 'zero tasks without data',
    measured: walk ? `${walk.withoutData}` : 'n/a',
    verdict: verdict(Boolean(walk), walk?.withoutData === 0),
  });
  rows.push({
    target: 'zero 5xx throughout',
    measured: http ? `${fivexx} (transport errors ${http.transportErrors})` : 'n/a',
    verdict: verdict(Boolean(http), fivexx === 0 && http?.transportErrors === 0),
  });
  say('');
  say('Targets (informative: the bench never fails the build)');
  say(table([['target', 'measured', 'verdict'], ...rows.map((t) => [t.target, t.measured, t.verdict])]));

  if (r.problems.length > 0) {
    say('');
    say('Not measured, or measured with less than asked:');
    for (const p of r.problems) say(`  - ${p}`);
  }
  say('');
  console.log(out.join('\n'));
}

/**
 * Where a run's time went, raw against API, from the sampled runs' histories (mean per run): the
 * product's extra time shows as activity run time (real work against no-op bodies), workflow task run
 * time (the worker's activation and its round trip) and the queues in front of both.
 */
function timingTable(say: (line: string) => void, raw: RunShape[], api: RunShape[]): void {
  const mean = (xs: RunShape[], f: (t: RunTiming) => number) => xs.reduce((a, s) => a + f(s.timing), 0) / xs.length;
  const rest = (t: RunTiming) =>
    t.totalMs - t.activityQueueMs - t.activityRunMs - t.workflowTaskQueueMs - t.workflowTaskRunMs;
  const parts: Array<[string, (t: RunTiming) => number]> = [
    ['start to close', (t) => t.totalMs],
    ['  activities queued (scheduled to started)', (t) => t.activityQueueMs],
    ['  activities running (started to completed)', (t) => t.activityRunMs],
    ['  workflow tasks queued', (t) => t.workflowTaskQueueMs],
    ['  workflow tasks running', (t) => t.workflowTaskRunMs],
    ['  the rest (people, timers, gaps)', rest],
  ];
  const rows: string[][] = [['', 'raw baseline', 'API end to end', 'API - raw']];
  for (const [name, f] of parts) {
    const a = mean(raw, f);
    const b = mean(api, f);
    rows.push([name, ms(a), ms(b), ms(b - a)]);
  }
  say('');
  say(`Where a run's time goes (mean per run, from the histories of ${raw.length} raw and ${api.length} API runs):`);
  say(table(rows));
}

/**
 * CPU per completed process, by part of the machine (bench/cpuByPart.ts), raw rounds against API rounds:
 * on a machine the rounds keep busy, completions/s follow the CPU one process costs.
 */
/** Process and report times on both sides at one offered rate (bench/paced.ts). */
function pacedSection(say: (line?: string) => void, p: PacedResults): void {
  const { raw, api } = p;
  const percentile = (values: number[], q: number) => {
    const s = new Samples();
    for (const v of values) s.add(v);
    return s.percentile(q);
  };
  const row = (name: string, a: number, b: number, fmt: (v: number) => string) => [
    name,
    fmt(a),
    fmt(b),
    fixed(ratio(b, a), 3),
  ];
  say('');
  say(
    `The same offered load (open loop): both sides started at ${fixed(p.perSecond)} processes/s ` +
      `(${p.share} x the raw side's closed-loop completions/s), ${api.lanes.outcomes.length} processes each`,
  );
  const rows: string[][] = [['', 'raw baseline', 'API end to end', 'API/raw']];
  rows.push(row('completions/s', raw.lanes.completionsPerSecond, api.lanes.completionsPerSecond, (v) => fixed(v)));
  rows.push(row('process p50 (start to completed)', percentile(raw.durations, 50), percentile(api.durations, 50), ms));
  rows.push(row('process p99', percentile(raw.durations, 99), percentile(api.durations, 99), ms));
  rows.push(row('report p50', raw.timings.reports.p50, api.timings.reports.p50, ms));
  rows.push(row('report p99', raw.timings.reports.p99, api.timings.reports.p99, ms));
  for (const event of ['device-collected', 'device-reenrolled', 'device-delivered']) {
    rows.push(row(`  ${event} p99`, perEvent(raw.timings, event, 'p99'), perEvent(api.timings, event, 'p99'), ms));
  }
  rows.push(row('start p99', raw.timings.starts.p99, api.timings.starts.p99, ms));
  rows.push(row('CPU busy', raw.load.cpuBusy * 100, api.load.cpuBusy * 100, (v) => `${fixed(v, 0)}%`));
  rows.push([
    'completed / failed / skipped / held',
    `${raw.lanes.completed} / ${raw.lanes.failed.length} / ${raw.lanes.skipped} / ${raw.held}`,
    `${api.lanes.completed} / ${api.lanes.failed.length} / ${api.lanes.skipped} / ${api.held}`,
    '',
  ]);
  say(table(rows));
  say('  held: starts that waited because 4 x concurrency processes were still running (the side fell behind)');
  for (const f of [...raw.lanes.failed, ...api.lanes.failed].slice(0, 5)) say(`  failed: #${f.index}: ${f.error}`);
}

function cpuTable(say: (line: string) => void, raw: CombinedBlocks, api: CombinedBlocks): void {
  const a = raw.load.cpuByPart;
  const b = api.load.cpuByPart;
  if (!a || !b || raw.lanes.completed === 0 || api.lanes.completed === 0) return;
  const per = (m: Map<Part, number>, part: Part, n: number) => ((m.get(part) ?? 0) * 1000) / n;
  const total = (m: Map<Part, number>, n: number) => ([...m.values()].reduce((x, y) => x + y, 0) * 1000) / n;
  const rows: string[][] = [['', 'raw baseline', 'API end to end', 'API - raw']];
  for (const part of PARTS) {
    const x = per(a, part, raw.lanes.completed);
    const y = per(b, part, api.lanes.completed);
    if (x < 0.5 && y < 0.5) continue;
    rows.push([`  ${part}`, ms(x), ms(y), ms(y - x)]);
  }
  const x = total(a, raw.lanes.completed);
  const y = total(b, api.lanes.completed);
  rows.push(['  all', ms(x), ms(y), ms(y - x)]);
  say('');
  say('CPU per completed process, by part of the machine (user + system time from /proc, over the rounds):');
  say(table(rows));
  say(`  the raw side costs ${fixed(x / y, 3)}x the CPU of the API side per process`);
}
