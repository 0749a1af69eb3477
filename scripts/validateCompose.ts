/**
 * `npm run compose:validate [-- --env-file FILE] [files...]`: checks docker-compose.yml (or the given files,
 * later ones overriding earlier ones) with the official compose-spec loader. Exit code 1 and one line per
 * problem when the file is invalid, so CI fails on a typo that `docker compose up` would only reveal on a
 * server. Variables are resolved from the environment, then from the env file: by default
 * deploy/compose.example.env, which gives every required setting an example value.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  ensureValidator,
  exampleEnvFile,
  repoRoot,
  validateComposeFiles,
  ValidatorBuildError,
} from './compose/validator';

const { values, positionals } = parseArgs({
  options: { 'env-file': { type: 'string', multiple: true } },
  allowPositionals: true,
});
const targets =
  positionals.length > 0 ? positionals.map((f) => path.resolve(f)) : [path.join(repoRoot, 'docker-compose.yml')];
const envFiles = (values['env-file'] ?? [exampleEnvFile]).map((f) => path.resolve(f));

try {
  const started = performance.now();
  await ensureValidator();
  const buildMs = performance.now() - started;
  if (buildMs > 2000)
    console.log(`built the Compose validator in ${(buildMs / 1000).toFixed(1)} s (cached under .cache/)`);

  const result = await validateComposeFiles(targets, {
    projectDirectory: positionals.length > 0 ? undefined : repoRoot,
    envFiles,
  });
  const shown = (f: string) => path.relative(process.cwd(), f) || f;
  if (result.ok) {
    console.log(`${targets.map(shown).join(', ')} (env: ${envFiles.map(shown).join(', ')}): ${result.summary}`);
  } else {
    for (const line of result.errors) console.error(line);
    process.exitCode = 1;
  }
} catch (err) {
  console.error(err instanceof ValidatorBuildError ? err.message : err);
  process.exitCode = 1;
}
