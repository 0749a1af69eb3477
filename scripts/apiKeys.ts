/**
 * `npm run api-key -- <command>`: create, list and revoke API keys in DATABASE_URL.
 *
 *   create --actor <id> --role admin|field-staff|viewer [--name <label>] [--expires-days <n>] [--by <who>] [--json]
 *   list [--all] [--json]
 *   revoke <id or prefix> [--by <who>] [--json]
 *
 * `create` prints the key once; only its hash is stored, so it cannot be shown again. Exit codes: 0 done,
 * 1 failed (unknown key, database), 2 bad command line.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { API_ROLES, loadConfig, type ApiRole, type Config } from '../config/env';
import * as apiKeysRepo from '../db/apiKeysRepo';
import { createPool } from '../db/pool';

const USAGE = `usage: npm run api-key -- <command>
  create --actor <id> --role ${API_ROLES.join('|')} [--name <label>] [--expires-days <n>] [--by <who>] [--json]
  list [--all] [--json]            active keys (--all: revoked ones too); never shows a key
  revoke <id or prefix> [--by <who>] [--json]`;

class UsageError extends Error {}

type Command =
  | { kind: 'create'; actorId: string; role: ApiRole; name?: string; expiresDays?: number; by: string; json: boolean }
  | { kind: 'list'; all: boolean; json: boolean }
  | { kind: 'revoke'; ref: string; by: string; json: boolean }
  | { kind: 'help' };

/** Who ran the command, for created_by / revoked_by (the OS user behind sudo if there is one). */
function operator(): string {
  return `cli:${process.env.SUDO_USER || os.userInfo().username}`;
}

function parseCreate(values: Record<string, string | boolean | undefined>): Command {
  const actorId = typeof values.actor === 'string' ? values.actor.trim() : '';
  if (!actorId)
    throw new UsageError('create needs --actor <id> (the person or system the key acts as, e.g. alice@example.com)');
  const role = values.role;
  if (typeof role !== 'string') throw new UsageError(`create needs --role (one of ${API_ROLES.join(', ')})`);
  if (!(API_ROLES as readonly string[]).includes(role))
    throw new UsageError(`unknown role "${role}" (expected one of ${API_ROLES.join(', ')})`);
  let expiresDays: number | undefined;
  if (values['expires-days'] !== undefined) {
    expiresDays = Number(values['expires-days']);
    if (!Number.isFinite(expiresDays) || expiresDays <= 0 || expiresDays > 3650) {
      throw new UsageError(
        `--expires-days must be a number of days between 0 and 3650, not "${String(values['expires-days'])}"`,
      );
    }
  }
  const name = typeof values.name === 'string' && values.name.trim() ? values.name.trim() : undefined;
  return {
    kind: 'create',
    actorId,
    role: role as ApiRole,
    name,
    expiresDays,
    by: byOf(values),
    json: values.json === true,
  };
}

function byOf(values: Record<string, string | boolean | undefined>): string {
  return typeof values.by === 'string' && values.by.trim() ? values.by.trim() : operator();
}

function parseCommand(argv: string[]): Command {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      actor: { type: 'string' },
      role: { type: 'string' },
      name: { type: 'string' },
      'expires-days': { type: 'string' },
      by: { type: 'string' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') return { kind: 'help' };
  if (command === 'create' || command === 'list') {
    if (rest.length > 0)
      throw new UsageError(`${command} takes no arguments besides options (got "${rest.join(' ')}")`);
    return command === 'create'
      ? parseCreate(values)
      : { kind: 'list', all: values.all === true, json: values.json === true };
  }
  if (command === 'revoke') {
    if (rest.length !== 1) throw new UsageError('revoke needs exactly one key id or prefix (see `list`)');
    if (!apiKeysRepo.isApiKeyRef(rest[0]!))
      throw new UsageError(`"${rest[0]}" is neither a key id (uuid) nor a prefix (dlk_ and 8 characters)`);
    return { kind: 'revoke', ref: rest[0]!, by: byOf(values), json: values.json === true };
  }
  throw new UsageError(`unknown command "${command}"`);
}

// ---------------------------------------------------------------------------------------------- output

function status(key: apiKeysRepo.ApiKey, now = Date.now()): string {
  if (key.revokedAt) return 'revoked';
  if (key.expiresAt && Date.parse(key.expiresAt) <= now) return 'expired';
  return 'active';
}

function table(keys: apiKeysRepo.ApiKey[]): string {
  const header = ['ID', 'PREFIX', 'ACTOR', 'ROLE', 'NAME', 'STATUS', 'CREATED', 'EXPIRES', 'LAST USED'];
  const rows = keys.map((k) => [
    k.id,
    k.keyPrefix,
    k.actorId,
    k.role,
    k.name ?? '-',
    status(k),
    k.createdAt,
    k.expiresAt ?? 'never',
    k.lastUsedAt ?? 'never',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

// ---------------------------------------------------------------------------------------------- commands

const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function create(pool: pg.Pool, c: Extract<Command, { kind: 'create' }>): Promise<void> {
  const expiresAt = c.expiresDays ? new Date(Date.now() + c.expiresDays * 86_400_000) : null;
  const { key, apiKey } = await apiKeysRepo.create(pool, {
    actorId: c.actorId,
    role: c.role,
    name: c.name,
    createdBy: c.by,
    expiresAt,
  });
  if (c.json) return print(JSON.stringify({ key, apiKey }));
  print(
    `Created API key ${apiKey.id} (${apiKey.keyPrefix}) for ${apiKey.actorId}, role ${apiKey.role}, expires ${apiKey.expiresAt ?? 'never'}.`,
  );
  print('The key is shown only now and cannot be recovered; store it safely:');
  print('');
  print(key);
}

async function list(pool: pg.Pool, c: Extract<Command, { kind: 'list' }>): Promise<void> {
  const keys: apiKeysRepo.ApiKey[] = [];
  let cursor: string | undefined;
  do {
    const page = await apiKeysRepo.list(pool, { includeRevoked: c.all, limit: 1000, cursor });
    keys.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  if (c.json) return print(JSON.stringify(keys));
  print(keys.length === 0 ? `no ${c.all ? '' : 'active '}API keys` : table(keys));
}

async function revoke(pool: pg.Pool, c: Extract<Command, { kind: 'revoke' }>): Promise<void> {
  const { apiKey, alreadyRevoked } = await apiKeysRepo.revoke(pool, c.ref, c.by);
  if (c.json) return print(JSON.stringify({ apiKey, alreadyRevoked }));
  print(
    alreadyRevoked
      ? `API key ${apiKey.id} (${apiKey.keyPrefix}) was already revoked at ${apiKey.revokedAt} by ${apiKey.revokedBy}.`
      : `Revoked API key ${apiKey.id} (${apiKey.keyPrefix}) of ${apiKey.actorId}; it is refused from now on.`,
  );
}

async function run(command: Exclude<Command, { kind: 'help' }>, config: Config): Promise<void> {
  const pool = createPool(config.DATABASE_URL, 1, { applicationName: 'device-lifecycle-api-key' });
  try {
    if (command.kind === 'create') await create(pool, command);
    else if (command.kind === 'list') await list(pool, command);
    else await revoke(pool, command);
  } finally {
    await pool.end();
  }
}

function failureMessage(err: unknown, databaseUrl: string): string {
  const code = (err as { code?: string }).code;
  if (code === '42P01') return 'table api_keys does not exist: run `npm run migrate` first';
  // Host and database only: the URL's password must not reach a terminal or a log.
  const url = new URL(databaseUrl);
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === '3D000' || code === '28P01') {
    return `cannot use the database ${url.pathname.slice(1)} at ${url.host} (DATABASE_URL): ${(err as Error).message}`;
  }
  return err instanceof Error ? err.message : String(err);
}

async function main(argv: string[]): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (err) {
    // parseArgs throws TypeErrors for unknown options and missing values: also the user's to fix.
    process.stderr.write(`api-key: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (command.kind === 'help') {
    print(USAGE);
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`api-key: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    await run(command, config);
    return 0;
  } catch (err) {
    process.stderr.write(`api-key: ${failureMessage(err, config.DATABASE_URL)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
