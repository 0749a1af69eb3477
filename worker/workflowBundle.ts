/**
 * The workflow bundle, built once and kept: webpack takes most of a worker's start-up (5-10 s on a busy
 * 2-core machine), and a worker restarted by the local stack or a deploy should serve again in seconds.
 *
 * The bundle's code is cached under the cache dir (`.cache/workflow-bundles/<hash>.js`, or under
 * `$DEVICE_LIFECYCLE_CACHE`) keyed by the hash of everything it is built from (worker/workflowSources.ts:
 * the workflow files, what they import, the package and SDK versions). A changed source gives a new key
 * and a rebuild; nothing is ever invalidated by hand. A cache that cannot be written (a read-only
 * container) only costs the rebuild at each start.
 */
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { failureConverterPath } from '../temporal/codecDataConverter';
import {
  bundleCacheDir,
  PRELOADED_MODULES,
  workflowSources,
  workflowsPath,
  type WorkflowSources,
} from './workflowSources';

export { workflowsPath };

/** Cached bundles kept (the most recently used); a bundle is ~3 MB. */
const KEEP_BUNDLES = 5;

export interface LoadedBundle {
  bundle: WorkflowBundle;
  hash: string;
  /** Whether the code came from the cache or was built now. */
  source: 'cache' | 'built';
  file: string;
  ms: number;
}

type Log = (line: string) => void;

function webpackLogger(warn: Log) {
  const noop = () => undefined;
  return { trace: noop, debug: noop, info: noop, log: noop, warn, error: warn };
}

async function mtime(file: string): Promise<number | undefined> {
  return (await stat(file).catch(() => undefined))?.mtimeMs;
}

/** Keeps the KEEP_BUNDLES most recently used bundles; removes temporary files a crashed writer left. */
async function prune(dir: string, keep: string): Promise<void> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  const staleBefore = Date.now() - 3_600_000;
  for (const name of entries.filter((n) => n.endsWith('.tmp'))) {
    if (((await mtime(path.join(dir, name))) ?? Infinity) < staleBefore)
      await rm(path.join(dir, name), { force: true });
  }
  const bundles = await Promise.all(
    entries
      .filter((name) => name.endsWith('.js') && name !== keep)
      .map(async (name) => ({ name, used: (await mtime(path.join(dir, name))) ?? 0 })),
  );
  const old = bundles.sort((a, b) => b.used - a.used).slice(KEEP_BUNDLES - 1);
  await Promise.all(old.map((b) => rm(path.join(dir, b.name), { force: true })));
}

/**
 * The workflow bundle for the current sources: read from the cache when there, else built and cached.
 * Two processes building at once each write a temporary file and rename it into place: both are the
 * same bundle, whichever lands last.
 */
export async function loadWorkflowBundle(
  opts: {
    log?: Log;
    /** Defaults to bundleCacheDir(). */
    dir?: string;
    /** For tests: what the bundle is built from and what builds it. */
    sources?: WorkflowSources;
    build?: () => Promise<WorkflowBundle>;
  } = {},
): Promise<LoadedBundle> {
  const t0 = Date.now();
  const log = opts.log ?? (() => undefined);
  const dir = opts.dir ?? bundleCacheDir();
  const { hash } = opts.sources ?? workflowSources();
  const name = `${hash}.js`;
  const file = path.join(dir, name);
  const cached = await readFile(file, 'utf8').catch(() => '');
  if (cached.length > 0) {
    // Marks it recently used, so pruning keeps it.
    const now = new Date();
    await utimes(file, now, now).catch(() => undefined);
    return { bundle: { code: cached }, hash, source: 'cache', file, ms: Date.now() - t0 };
  }
  const build =
    opts.build ??
    (async () => ({
      // Workflow failures encoded like the worker's and the clients' (temporal/codecDataConverter.ts).
      code: (
        await bundleWorkflowCode({
          workflowsPath,
          failureConverterPath,
          preloadModules: PRELOADED_MODULES,
          logger: webpackLogger(log),
        })
      ).code,
    }));
  const bundle = await build();
  try {
    await mkdir(dir, { recursive: true });
    const tmp = path.join(dir, `.${name}.${process.pid}.${Date.now()}.tmp`);
    await writeFile(tmp, bundle.code);
    await rename(tmp, file);
    await prune(dir, name);
  } catch (err) {
    log(
      `could not cache the workflow bundle in ${dir} (${err instanceof Error ? err.message : String(err)}); ` +
        'using it from memory',
    );
  }
  return { bundle, hash, source: 'built', file, ms: Date.now() - t0 };
}
