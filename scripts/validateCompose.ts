/**
 * `npm run compose:validate [files...]`: checks docker-compose.yml (or the given files, later ones
 * overriding earlier ones) with the official compose-spec loader. Exit code 1 and one line per problem when
 * the file is invalid, so CI fails on a typo that `docker compose up` would only reveal on a server.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ensureValidator, repoRoot, validateComposeFiles, ValidatorBuildError } from './compose/validator';

const files = process.argv.slice(2);
const targets = files.length > 0 ? files.map((f) => path.resolve(f)) : [path.join(repoRoot, 'docker-compose.yml')];

try {
  const started = performance.now();
  await ensureValidator();
  const buildMs = performance.now() - started;
  if (buildMs > 2000) console.log(`built the Compose validator in ${(buildMs / 1000).toFixed(1)} s (cached under .cache/)`);

  const result = await validateComposeFiles(targets, { projectDirectory: files.length > 0 ? undefined : repoRoot });
  if (result.ok) {
    console.log(`${targets.map((t) => path.relative(process.cwd(), t)).join(', ')}: ${result.summary}`);
  } else {
    for (const line of result.errors) console.error(line);
    process.exitCode = 1;
  }
} catch (err) {
  console.error(err instanceof ValidatorBuildError ? err.message : err);
  process.exitCode = 1;
}
