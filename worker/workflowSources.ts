/**
 * What the workflow bundle is built from, and its hash: the key of the bundle cache (worker/workflowBundle.ts).
 * Plain file reads, no SDK import, so the local stack's supervisor can tell whether a bundle is cached
 * without loading Temporal's native worker.
 *
 * Hashed: every file under `workflows/`, every project file those import (followed transitively:
 * `temporal/searchAttributes.ts`, `activities/contracts.ts`, ...; type-only imports are hashed too, which
 * is harmless), the version of each package they import and of the SDK that bundles them.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { cacheDir } from '../scripts/cacheDir';

const projectRoot = path.resolve(import.meta.dirname, '..');
export const workflowsDir = path.join(projectRoot, 'workflows');
export const workflowsPath = path.join(workflowsDir, 'index.ts');
/** Built into the bundle besides the workflows (bundleWorkflowCode's failureConverterPath). */
const bundledWith = [path.join(projectRoot, 'temporal', 'codecFailureConverter.cjs')];

/** Modules evaluated once per worker instead of once per cached workflow (see workflows/sharedModules.ts). */
export const PRELOADED_MODULES = [path.join(workflowsDir, 'sharedModules.ts')];

/** Bumped when the way the bundle is built changes (worker/workflowBundle.ts), so older bundles are not used. */
const BUNDLE_FORMAT = 4;
/** Packages whose version decides what the bundle contains besides the project's own files. */
const SDK_PACKAGES = ['@temporalio/worker', '@temporalio/workflow', '@temporalio/common'];

export interface WorkflowSources {
  /** Project files the bundle is built from, relative to the project root, sorted. */
  files: string[];
  /** `name@version` of each package those files import, plus the SDK's. */
  packages: string[];
  /** sha256 of the format, the files' paths and contents, and the packages (hex, 20 characters). */
  hash: string;
}

const SOURCE_EXTENSIONS = ['.ts', '.tsx', '.mts', '.js', '.mjs', '.json'];
const IMPORT_PATTERNS = [/\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*\(?\s*['"]([^'"]+)['"]/g];

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return listFiles(full);
    return SOURCE_EXTENSIONS.includes(path.extname(entry.name)) ? [full] : [];
  });
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** A relative import as the bundler resolves it (`./x` -> x.ts, x/index.ts; `./x.js` -> x.ts). */
function resolveRelative(fromFile: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(fromFile), spec);
  const candidates = [
    base,
    ...SOURCE_EXTENSIONS.map((ext) => base + ext),
    ...SOURCE_EXTENSIONS.map((ext) => path.join(base, `index${ext}`)),
    ...(/\.[cm]?js$/.test(base) ? [base.replace(/\.([cm]?)js$/, '.$1ts')] : []),
  ];
  return candidates.find(isFile);
}

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function packageVersion(root: string, name: string): string {
  try {
    const manifest = JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as {
      version?: string;
    };
    return manifest.version ?? 'unknown';
  } catch {
    return 'missing';
  }
}

/**
 * What the bundle of `workflowsDir` is built from, and its hash. `root` is the project (where
 * node_modules is); both are parameters for tests.
 */
export function workflowSources(opts: { root?: string; workflowsDir?: string } = {}): WorkflowSources {
  const root = opts.root ?? projectRoot;
  const dir = opts.workflowsDir ?? workflowsDir;
  const contents = new Map<string, string>();
  const packages = new Set<string>(SDK_PACKAGES);
  const queue = [...listFiles(dir), ...(opts.workflowsDir === undefined ? bundledWith : [])];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (contents.has(file)) continue;
    const text = readFileSync(file, 'utf8');
    contents.set(file, text);
    for (const pattern of IMPORT_PATTERNS) {
      for (const match of text.matchAll(pattern)) {
        const spec = match[1]!;
        if (spec.startsWith('.')) {
          const target = resolveRelative(file, spec);
          if (target && !contents.has(target)) queue.push(target);
        } else if (!spec.startsWith('node:')) {
          packages.add(packageName(spec));
        }
      }
    }
  }
  const relative = (file: string) => path.relative(root, file).split(path.sep).join('/');
  const files = [...contents.keys()].sort((a, b) => (relative(a) < relative(b) ? -1 : 1));
  const versions = [...packages].sort().map((name) => `${name}@${packageVersion(root, name)}`);
  const hash = createHash('sha256');
  hash.update(`format ${BUNDLE_FORMAT}\n`);
  for (const file of files) {
    hash.update(`file ${relative(file)}\n`);
    hash.update(contents.get(file)!);
    hash.update('\n\0\n');
  }
  for (const v of versions) hash.update(`package ${v}\n`);
  return { files: files.map(relative), packages: versions, hash: hash.digest('hex').slice(0, 20) };
}

/** Where bundles are cached: `<cache dir>/workflow-bundles` (scripts/cacheDir.ts). */
export function bundleCacheDir(): string {
  return cacheDir('workflow-bundles');
}

/** The cached bundle of the current sources, if there is one. */
export function cachedBundleFile(dir = bundleCacheDir(), hash = workflowSources().hash): string | undefined {
  const file = path.join(dir, `${hash}.js`);
  return isFile(file) ? file : undefined;
}
