/**
 * Builds and runs the Compose validator in this folder: a small Go program around the official compose-spec
 * loader (github.com/compose-spec/compose-go), the same code `docker compose config` runs. No Docker engine is
 * needed. The binary is cached under .cache/ keyed by a hash of its sources and the Go version, so only the
 * first run on a machine (or after a change here) pays for the build.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';

const sourceDir = import.meta.dirname;
export const repoRoot = path.resolve(sourceDir, '..', '..');
/** Example settings that satisfy every required variable; CI validates with these. */
export const exampleEnvFile = path.join(repoRoot, 'deploy', 'compose.example.env');
const cacheDir = path.join(repoRoot, '.cache', 'compose-validate');
const sources = ['go.mod', 'go.sum', 'main.go'];

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class ValidatorBuildError extends Error {
  override name = 'ValidatorBuildError';
}

function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

function goCommand(): string {
  return process.env.GO ?? 'go';
}

async function goVersion(): Promise<string> {
  try {
    const result = await run(goCommand(), ['env', 'GOVERSION']);
    if (result.code === 0) return result.stdout.trim();
    throw new Error(result.stderr);
  } catch (err) {
    throw new ValidatorBuildError(
      `the Compose validator needs a Go toolchain (>= 1.24) on PATH or in $GO: ${(err as Error).message}`,
    );
  }
}

/** Path of the validator binary, built first if the cached one is missing or stale. */
export async function ensureValidator(): Promise<string> {
  const version = await goVersion();
  const hash = createHash('sha256').update(version);
  for (const file of sources) hash.update(file).update(await readFile(path.join(sourceDir, file)));
  const binary = path.join(cacheDir, `composevalidate-${hash.digest('hex').slice(0, 16)}`);
  try {
    await access(binary);
    return binary;
  } catch {
    // not built yet
  }
  await mkdir(cacheDir, { recursive: true });
  // Build to a private name and rename: concurrent test files may build at once, and rename is atomic.
  const partial = `${binary}.${process.pid}.tmp`;
  const result = await run(goCommand(), ['build', '-trimpath', '-o', partial, '.'], {
    cwd: sourceDir,
    // -mod=readonly: go.sum is the lock; a toolchain download is not something CI may do behind our back
    env: { ...process.env, GOFLAGS: '-mod=readonly', GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
  });
  if (result.code !== 0) {
    await rm(partial, { force: true });
    throw new ValidatorBuildError(`building the Compose validator failed:\n${result.stderr}`);
  }
  await rename(partial, binary);
  return binary;
}

export interface ValidateOptions {
  /** Folder that relative paths in the file refer to (default: the first file's folder). */
  projectDirectory?: string;
  /** Environment used for ${VAR} interpolation (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Env files for interpolation, as `docker compose --env-file` (default: .env in the project directory). */
  envFiles?: string[];
  /** Accept ${VAR} without a default when VAR is unset (compose itself only warns). */
  allowUnset?: boolean;
}

export interface ValidationResult {
  ok: boolean;
  /** One line per problem, each naming the file, the path in it and what is wrong. */
  errors: string[];
  summary: string;
}

function flags(options: ValidateOptions): string[] {
  const args: string[] = [];
  if (options.projectDirectory) args.push('-project-directory', options.projectDirectory);
  for (const file of options.envFiles ?? []) args.push('-env-file', file);
  if (options.allowUnset) args.push('-allow-unset');
  return args;
}

/** Validates one Compose file plus optional overrides, as `docker compose -f a -f b config` would load them. */
export async function validateComposeFiles(files: string[], options: ValidateOptions = {}): Promise<ValidationResult> {
  const binary = await ensureValidator();
  const result = await run(binary, [...flags(options), ...files], { env: options.env });
  if (result.code === 2) throw new Error(`validator usage error: ${result.stderr}`);
  const errors = result.stderr.split('\n').filter((l) => l.trim() !== '');
  return { ok: result.code === 0, errors, summary: result.stdout.trim() };
}

/** The fully resolved project (interpolated, defaults applied) as compose-go models it, for tests to inspect. */
export async function loadResolvedProject(files: string[], options: ValidateOptions = {}): Promise<ResolvedProject> {
  const binary = await ensureValidator();
  const result = await run(binary, ['-json', ...flags(options), ...files], { env: options.env });
  if (result.code !== 0) throw new Error(`compose file is invalid:\n${result.stderr}`);
  return JSON.parse(result.stdout) as ResolvedProject;
}

/** The parts of compose-go's JSON project model that callers here read. */
export interface ResolvedProject {
  name: string;
  services: Record<string, ResolvedService>;
  volumes?: Record<string, unknown>;
}

export interface ResolvedService {
  name: string;
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[] | null;
  entrypoint?: string[] | null;
  environment?: Record<string, string | null>;
  ports?: { target: number; published?: string; host_ip?: string; protocol?: string }[];
  /** Ports reachable from the compose network only (not published on the host). */
  expose?: (string | number)[];
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  volumes?: { type: string; source?: string; target: string }[];
  restart?: string;
}
