/**
 * `npm run bench -- [--quick] [--processes N] ...`: sizes and limits, from flags, else BENCH_* variables,
 * else the defaults (sized for a 2-core machine: a few minutes, most of it starting the waiting
 * processes). `--quick` shrinks everything to check that the bench works.
 */
import { MAX_BULK_ASSETS } from '../api/schemas';

export const MAX_BULK = MAX_BULK_ASSETS;

export interface BenchOptions {
  /** Change-user processes driven end to end, and raw baseline runs (the same number). */
  processes: number;
  /** Processes in flight at once, in both drivers. */
  concurrency: number;
  /** Raw and API alternate this many times (raw, API, raw, API, ...), so both meet the same background load. */
  rounds: number;
  /**
   * Processes per side at the same offered load (open loop, after the closed-loop rounds); 0 to skip.
   * Both sides are started at one rate, `pacedShare` of what the raw side completed per second above.
   */
  paced: number;
  /** The offered rate of the paced phase as a share of the raw side's completions/s (0 < share <= 1). */
  pacedShare: number;
  /** Processes left waiting at the first human step for the memory and inbox figures (bulk counted). */
  waiting: number;
  /** The bulk start's size (one POST /collections, at most 1,000). */
  bulk: number;
  /** How often the drivers look whether a task is open or a process completed. */
  pollMs: number;
  /** Sequential GET /tasks calls per inbox figure. */
  inboxSamples: number;
  /** Raw runs before the measured ones (bundle and caches warm; not counted). */
  rawWarmup: number;
  /** API runs before the measured ones, after the reference run (as many as raw's by default; not counted). */
  apiWarmup: number;
  phaseTimeoutS: number;
  stepTimeoutS: number;
  bulkTimeoutS: number;
  waitingBudgetS: number;
  stackStartTimeoutS: number;
  /** Keep what the bench made: the processes on an existing stack, the data folder of its own. */
  keep: boolean;
  quick: boolean;
}

const DEFAULTS: BenchOptions = {
  processes: 200,
  concurrency: 20,
  rounds: 2,
  paced: 60,
  pacedShare: 0.5,
  waiting: 10_000,
  bulk: 1_000,
  pollMs: 200,
  inboxSamples: 200,
  rawWarmup: 3,
  apiWarmup: 3,
  phaseTimeoutS: 600,
  stepTimeoutS: 180,
  bulkTimeoutS: 300,
  waitingBudgetS: 900,
  stackStartTimeoutS: 600,
  keep: false,
  quick: false,
};

const QUICK: Partial<BenchOptions> = {
  processes: 6,
  concurrency: 3,
  rounds: 1,
  paced: 4,
  waiting: 150,
  bulk: 100,
  inboxSamples: 30,
  rawWarmup: 1,
  apiWarmup: 1,
  waitingBudgetS: 300,
};

const NUMERIC = Object.keys(DEFAULTS).filter(
  (k) => typeof DEFAULTS[k as keyof BenchOptions] === 'number',
) as (keyof BenchOptions)[];

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const envName = (s: string) => `BENCH_${s.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

export const USAGE = `npm run bench -- [options]   (each also as BENCH_<NAME>, e.g. BENCH_PROCESSES=50)
  --quick                 small sizes, to check that the bench works
${NUMERIC.map((k) => `  --${kebab(k).padEnd(22)}default ${DEFAULTS[k]}${QUICK[k] !== undefined ? ` (quick ${QUICK[k]})` : ''}`).join('\n')}
  --keep                  leave the processes on an existing stack / the data folder of the bench's own stack
Environment: BENCH_API_URL (default from PORT/API_HOST), BENCH_ADMIN_TOKEN, BENCH_FIELD_TOKEN; an existing
stack is used as configured by the usual variables (TEMPORAL_ADDRESS, MDM_BASE_URL, ...).`;

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions | 'help' {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}\n${USAGE}`);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (inline !== undefined) flags.set(name, inline);
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) flags.set(name, argv[++i]!);
    else flags.set(name, true);
  }
  if (flags.has('help')) return 'help';
  const truthy = (v: string | true | undefined) => v === true || (typeof v === 'string' && /^(1|true|yes)$/i.test(v));
  const quick = truthy(flags.get('quick')) || truthy(env.BENCH_QUICK);
  const o: BenchOptions = { ...DEFAULTS, ...(quick ? QUICK : {}), quick };
  o.keep = truthy(flags.get('keep')) || truthy(env.BENCH_KEEP);
  const known = new Set(['quick', 'keep', ...NUMERIC.map(kebab)]);
  for (const name of flags.keys()) if (!known.has(name)) throw new Error(`unknown option --${name}\n${USAGE}`);
  for (const key of NUMERIC) {
    const raw = flags.get(kebab(key)) ?? env[envName(key)];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (raw === true || !Number.isFinite(n) || n < 0) throw new Error(`--${kebab(key)} must be a number >= 0`);
    (o as unknown as Record<string, number>)[key] = n;
  }
  if (o.processes < 1) throw new Error('--processes must be at least 1');
  if (o.concurrency < 1) throw new Error('--concurrency must be at least 1');
  if (o.rounds < 1) throw new Error('--rounds must be at least 1');
  if (o.pacedShare <= 0 || o.pacedShare > 1) throw new Error('--paced-share must be above 0 and at most 1');
  if (o.bulk > MAX_BULK) throw new Error(`--bulk is one POST /collections: at most ${MAX_BULK}`);
  if (o.waiting > 0 && o.waiting < o.bulk) o.waiting = o.bulk;
  return o;
}
