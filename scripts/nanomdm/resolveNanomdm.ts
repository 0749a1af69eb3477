/**
 * Finds or builds the NanoMDM server (github.com/micromdm/nanomdm) the NanoMDM adapter's tests run for
 * real: NANOMDM_PATH, then the project cache, then `go install` of the pinned version from the Go module
 * proxy (as the Temporal CLI is built), kept under `.cache/nanomdm/<version>/` (git-ignored).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { cacheDir } from '../cacheDir';

export const NANOMDM_VERSION = '0.9.0';
export const nanomdmCacheDir = cacheDir('nanomdm', NANOMDM_VERSION);
const cachedBinary = path.join(nanomdmCacheDir, 'nanomdm');

export interface ResolvedNanomdm {
  path: string;
  route: 'NANOMDM_PATH' | 'cache' | 'go install';
  version: string;
}

/** The binary's `-version` line when the file is a NanoMDM this machine can run, else undefined. */
function versionIfRunnable(file: string): string | undefined {
  if (!existsSync(file) || !statSync(file).isFile()) return undefined;
  const r = spawnSync(file, ['-version'], { encoding: 'utf8', timeout: 20_000 });
  const out = `${r.stdout}${r.stderr}`.trim();
  return r.status === 0 && out ? out : undefined;
}

function buildWithGo(log: (line: string) => void): string | undefined {
  if (spawnSync('go', ['version']).status !== 0) return undefined;
  mkdirSync(nanomdmCacheDir, { recursive: true });
  log(`building nanomdm v${NANOMDM_VERSION} from the Go module proxy...`);
  // The version is stamped as the project's Makefile does, so `-version` names it. No cgo: the file and
  // in-memory storages need none, and the binary then runs on any Linux of this architecture.
  const r = spawnSync(
    'go',
    [
      'install',
      '-ldflags',
      `-X main.version=v${NANOMDM_VERSION}`,
      `github.com/micromdm/nanomdm/cmd/nanomdm@v${NANOMDM_VERSION}`,
    ],
    { env: { ...process.env, GOBIN: nanomdmCacheDir, CGO_ENABLED: '0' }, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  return r.status === 0 && versionIfRunnable(cachedBinary) ? cachedBinary : undefined;
}

export function resolveNanomdm(log: (line: string) => void = (l) => console.error(`[nanomdm] ${l}`)): ResolvedNanomdm {
  const fromEnv = process.env.NANOMDM_PATH;
  if (fromEnv) {
    const version = versionIfRunnable(fromEnv);
    if (!version) throw new Error(`NANOMDM_PATH=${fromEnv} is not a runnable nanomdm binary`);
    return { path: fromEnv, route: 'NANOMDM_PATH', version };
  }
  const cached = versionIfRunnable(cachedBinary);
  if (cached) return { path: cachedBinary, route: 'cache', version: cached };
  const built = buildWithGo(log);
  if (built) return { path: built, route: 'go install', version: versionIfRunnable(built) ?? 'unknown' };
  throw new Error(
    `Could not build nanomdm v${NANOMDM_VERSION} (is Go installed and the module proxy reachable?); ` +
      'set NANOMDM_PATH to a nanomdm binary.',
  );
}
