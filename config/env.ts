/**
 * Configuration from environment variables, validated once at start-up.
 * Every value has a safe local default so `npm start` works on a fresh machine; a bad value stops the
 * process with a message naming the variable.
 */
import { z } from 'zod';
import { credentialProblems } from './credentialRules';
import { redactSecrets } from './redact';
import { payloadEncryptionFields, payloadEncryptionProblems } from '../temporal/payloadEncryptionSettings';
import { temporalTransportFields, temporalTransportProblems } from '../temporal/connectionSettings';
import { summaryScheduleFields } from '../temporal/summaryScheduleSettings';

const port = z.coerce.number().int().min(1).max(65535);
const url = z.string().url();
/**
 * Durations people think of in days; fractions allowed so a test deployment can use minutes. Parsed into
 * milliseconds, and so held under a `…_MS` name in Config (see `schema` below).
 */
const days = (d: number) =>
  z.coerce
    .number()
    .positive()
    .max(3650)
    .default(d)
    .transform((n) => Math.round(n * 86_400_000));
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** A duration like `90s`, `30m`, `24h` or `2d`, parsed into milliseconds. */
const durationPattern = /^(\d+)(ms|s|m|h|d)$/;
const duration = (fallback: string) =>
  z
    .string()
    .trim()
    .default(fallback)
    .refine((s) => durationPattern.test(s), 'must be a number with a unit: ms, s, m, h or d (e.g. 24h)')
    .transform((s) => {
      const [, n, unit] = durationPattern.exec(s) as RegExpExecArray;
      return Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
    });

/** A rate like `200/20s` (calls per window), or `off`: parsed into { calls, windowMs } or null. */
export interface RateLimit {
  calls: number;
  windowMs: number;
}
const ratePattern = /^(\d+)\/(\d+)(ms|s|m|h)$/;
const rate = (fallback: string) =>
  z
    .string()
    .trim()
    .default(fallback)
    .refine((s) => s === 'off' || ratePattern.test(s), 'must be calls per window like 200/20s, or off')
    .transform((s): RateLimit | null => {
      if (s === 'off') return null;
      const [, calls, n, unit] = ratePattern.exec(s) as RegExpExecArray;
      return { calls: Number(calls), windowMs: Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS] };
    })
    .refine(
      (r) => r === null || (r.calls >= 1 && r.windowMs >= 100),
      'needs at least 1 call per window of 100 ms or more',
    );

const millis = (ms: number) => z.coerce.number().int().min(100).max(86_400_000).default(ms);

export const API_ROLES = ['admin', 'field-staff', 'viewer'] as const;
export type ApiRole = (typeof API_ROLES)[number];
export interface ApiTokenEntry {
  token: string;
  actorId: string;
  role: ApiRole;
}

/**
 * Local-only tokens: accepted only with NODE_ENV development or test and API_HOST on loopback
 * (config/credentialRules.ts), so a forgotten setting cannot open the API.
 */
export const DEV_API_TOKENS =
  'dev-admin-token=admin@local:admin,dev-field-token=field@local:field-staff,dev-viewer-token=viewer@local:viewer';

// `token=actorId:role,...`; the actor id may itself contain ':' so the role is taken after the last one.
const apiTokens = z
  .string()
  .default(DEV_API_TOKENS)
  .transform((s, ctx) => {
    // `none`: no static tokens at all (production with API keys and/or OIDC only).
    if (s.trim() === 'none') return [];
    const entries: ApiTokenEntry[] = [];
    for (const item of s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)) {
      const eq = item.indexOf('=');
      const colon = item.lastIndexOf(':');
      const token = item.slice(0, eq);
      const actorId = item.slice(eq + 1, colon);
      const role = item.slice(colon + 1) as ApiRole;
      if (eq < 1 || colon <= eq + 1 || !API_ROLES.includes(role) || token.length < 12) {
        ctx.addIssue({
          code: 'custom',
          message: `entry #${entries.length + 1} must be token=actorId:role with a token of 12+ characters and role one of ${API_ROLES.join('|')}`,
        });
        return z.NEVER;
      }
      entries.push({ token, actorId, role });
    }
    if (entries.length === 0) ctx.addIssue({ code: 'custom', message: 'defines no token' });
    if (new Set(entries.map((e) => e.token)).size !== entries.length)
      ctx.addIssue({ code: 'custom', message: 'repeats a token' });
    return entries;
  });

/** OIDC: asymmetric algorithms only, so a token cannot be signed with a public key used as an HMAC secret. */
export const OIDC_ALGORITHMS = ['RS256', 'ES256', 'RS384', 'RS512', 'PS256', 'ES384', 'EdDSA'] as const;
export type OidcAlgorithm = (typeof OIDC_ALGORITHMS)[number];
const commaList = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);

// `claimValue=role,...`: which values of the role claim grant which role here (value may contain '=').
const oidcRoleMap = z
  .string()
  .optional()
  .transform((s, ctx) => {
    if (s === undefined) return undefined;
    const map: Record<string, ApiRole> = {};
    for (const item of s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)) {
      const eq = item.lastIndexOf('=');
      const role = item.slice(eq + 1).trim() as ApiRole;
      if (eq < 1 || !API_ROLES.includes(role)) {
        ctx.addIssue({
          code: 'custom',
          message: `entry "${item}" must be claimValue=role with role one of ${API_ROLES.join('|')}`,
        });
        return z.NEVER;
      }
      map[item.slice(0, eq).trim()] = role;
    }
    return map;
  });

/** The environment variables, by the names users set; `schema` below turns them into the Config. */
const environmentSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: port.default(3000),
  API_HOST: z.string().min(1).default('127.0.0.1'),
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port')
    .default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('device-lifecycle'),
  TEMPORAL_UI_PORT: port.default(8233),
  // TEMPORAL_TLS, TEMPORAL_TLS_CA_FILE, _CERT_FILE, _KEY_FILE, _SERVER_NAME, TEMPORAL_API_KEY (temporal/connectionSettings.ts)
  ...temporalTransportFields,
  // The worker's Prometheus endpoint (worker/metrics.ts); 0 turns it off. Use 0.0.0.0 in a container.
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  // Worker sizing. Processes sit idle for days, so the cache holds only the recently active ones (a
  // cached workflow costs memory; an evicted one replays its history when it wakes). Activities are short
  // database or MDM calls, so they run in parallel; the database pool must allow about as many clients.
  // Cache measured with `npm run bench` (10,000 waiting, a bulk start of 1,000): 300 kept the worker at
  // 698 MiB (peak 862) against 972 MiB (peak 1,179) at 500, with the bulk start as fast (38.5 / 38.1 s).
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).max(100_000).default(300),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).max(2_000).default(50),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2).max(2_000).default(40),
  // Threads that run workflow code (the SDK's default is 1 with a reused V8 context). A second thread cut
  // the workflow tasks' run time on 2 cores (1,020 against 1,254 ms per change-user) but not the
  // completions ratio (0.77x, within the runs' spread), so the default stays 1: more threads suit more cores.
  WORKER_WORKFLOW_THREADS: z.coerce.number().int().min(1).max(16).default(1),
  DATABASE_URL: url.default('postgres://postgres:postgres@127.0.0.1:5433/device_lifecycle'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
  // Least privilege (db/migrations/0011_runtime_role.sql): when DATABASE_MIGRATION_URL is set, migrations
  // run with it (the schema owner) and the service uses DATABASE_URL (the runtime role DATABASE_RUNTIME_ROLE,
  // which may only INSERT and SELECT the audit table). Unset, DATABASE_URL does both, as on the local stack.
  DATABASE_MIGRATION_URL: url.optional(),
  DATABASE_RUNTIME_ROLE: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case PostgreSQL role name')
    .default('device_lifecycle_app'),
  // Personal data of processes closed this many days ago is erased by the retention Schedule (db/retention).
  // Held as RETENTION_MS, like the other *_DAYS variables.
  RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(365),
  // The API's Prometheus endpoint: its own listener, off the public API port; 0 turns it off.
  API_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9465),
  API_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  // Which MDM the activities talk to (mdm/createMdmPort.ts); each kind reads its own settings there.
  MDM_KIND: z.enum(['emulator', 'nanomdm', 'intune']).default('emulator'),
  MDM_BASE_URL: url.default('http://127.0.0.1:4010'),
  MDM_API_KEY: z.string().min(1).default('local-mdm-key'),
  MDM_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  MDM_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(4),
  // How long MDM commands keep being retried through an outage or throttling before the process needs
  // attention (reads and polls never give up).
  MDM_OUTAGE_TOLERANCE: duration('24h'),
  // Pacing of every MDM call of the service, shared by all worker replicas through PostgreSQL:
  // all calls (reads and writes) and writes alone (Intune: 200 writes per 20 s per application).
  MDM_RATE_LIMIT: rate('1000/20s'),
  MDM_WRITE_RATE_LIMIT: rate('200/20s'),
  SMTP_URL: url.default('smtp://127.0.0.1:2525'),
  MAIL_FROM: z.string().email().default('device-lifecycle@localhost.localdomain'),
  // The language of the device user's instruction mails (ja or en).
  MAIL_LANGUAGE: z.enum(['en', 'ja']).default('en'),
  ADMIN_EMAILS: z
    .string()
    .default('it-admin@example.com')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().email()).min(1)),
  // SUMMARY_REPORT_SCHEDULE (cron or off), SUMMARY_REPORT_TIME_ZONE: the summary mail to ADMIN_EMAILS
  // (temporal/summaryScheduleSettings.ts)
  ...summaryScheduleFields,
  DATA_DIR: z.string().min(1).default('.data'),
  // PAYLOAD_ENCRYPTION_KEYS, PAYLOAD_ENCRYPTION_KEY_ID, TEMPORAL_UI_ORIGINS (temporal/payloadEncryptionSettings.ts)
  ...payloadEncryptionFields,
  // HTTP API
  API_TOKENS: apiTokens,
  API_BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/, 'must be like 256kb')
    .default('256kb'),
  // POST /assets/import (text/csv): a fleet's asset list, far larger than any JSON request.
  API_IMPORT_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/, 'must be like 5mb')
    .default('5mb'),
  API_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(600),
  // Before authentication, per client address (api/auth/addressThrottle.ts): requests per window, and
  // unknown credentials per window before the address is refused for a while (doubling up to an hour).
  API_ADDRESS_RATE_LIMIT: rate('3000/1m'),
  API_AUTH_FAILURE_LIMIT: rate('20/10m'),
  // Proxies in front of the API that append to X-Forwarded-For; 0 uses the connection's address.
  TRUSTED_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
  API_UPDATE_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(300_000).default(30_000),
  // Bulk starts (POST /collections, /inactivations): workflow starts in flight at once per request.
  BULK_START_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(32),
  // How long a bulk request waits for its starts before answering 202 with a bulk id (GET /bulk/{id});
  // the starts go on meanwhile. 0 answers at once.
  BULK_SYNC_WAIT_MS: z.coerce.number().int().min(0).max(60_000).default(8_000),
  // OIDC (optional; issuer, audience and JWKS URL together or not at all)
  OIDC_ISSUER: z.string().min(1).optional(),
  OIDC_AUDIENCE: commaList.pipe(z.array(z.string()).min(1)).optional(),
  OIDC_JWKS_URL: url.optional(),
  OIDC_ROLE_CLAIM: z
    .string()
    .regex(/^[^.\s]+(\.[^.\s]+)*$/, 'must be a claim name, or a dotted path like realm_access.roles')
    .default('roles'),
  // The claim naming the actor: `sub` (stable, never reassigned). `email` is taken only with
  // email_verified true (api/auth/oidcClaims.ts); an absent claim falls back to `sub`.
  OIDC_ACTOR_CLAIM: z.string().min(1).default('sub'),
  OIDC_ROLE_MAP: oidcRoleMap,
  OIDC_ALGORITHMS: commaList.pipe(z.array(z.enum(OIDC_ALGORITHMS)).min(1)).default(['RS256', 'ES256']),
  OIDC_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
  // Who takes over a device while it is in stock (change-user step `returning-to-stock`); the demo's stock
  // devices carry the same name (db/demoAssets.ts DEMO_STORAGE).
  ADMIN_IN_CHARGE_NAME: z.string().trim().min(1).default('IT Asset Administrator'),
  // The department that holds stock on the org chart (the demo's too, db/demoAssets.ts DEMO_STORAGE), so
  // returned devices are listed with the team's other stock, not under a department that exists nowhere else.
  ADMIN_IN_CHARGE_DEPARTMENT: z.string().trim().min(1).default('IT Operations'),
  INACTIVATION_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  // Long waits stay bounded (LifecycleLimits): reopenings of one task before an admin decides, and the
  // reports and signals one process takes per hour (more: 429 for Updates, dropped Signals).
  REPORT_REOPEN_LIMIT: z.coerce.number().int().min(1).max(100).default(5),
  REPORTS_PER_HOUR: z.coerce.number().int().min(5).max(10_000).default(120),
  // History events after which a process waiting for a person continues as new (Temporal's hard limit is
  // 51,200 events; it also suggests continuing as new earlier, which is followed too).
  CONTINUE_AFTER_EVENTS: z.coerce.number().int().min(100).max(40_000).default(10_000),
  // Workflow timings (LifecycleTimings), handed to each workflow at start. Set in days, held in
  // milliseconds: Config has them as REMINDER_BEFORE_MS, ESCALATE_AFTER_MS, ... (see `schema`).
  REMINDER_BEFORE_DAYS: days(1),
  ESCALATE_AFTER_DAYS: days(2),
  TASK_REMINDER_EVERY_DAYS: days(3),
  WIPE_ACK_TIMEOUT_DAYS: days(1),
  VERIFY_DEADLINE_DAYS: days(2),
  // The emulator finishes a wipe in about 0.4 s; real MDMs take minutes: start fast and back off.
  MDM_POLL_INITIAL_MS: millis(1_000),
  MDM_POLL_MAX_MS: millis(15 * 60_000),
});

/** Every environment variable the configuration reads (the names users set). */
export const CONFIG_VARIABLES = Object.keys(environmentSchema.shape) as (keyof typeof environmentSchema.shape)[];

/**
 * Naming scheme: a Config field has the name of its environment variable, except where the variable's
 * unit is not the unit of the parsed value. The `*_DAYS` variables are set in days but parsed into
 * milliseconds, so Config holds them as `*_MS` (`REMINDER_BEFORE_DAYS=1` gives `REMINDER_BEFORE_MS`
 * = 86400000), like the variables already given in milliseconds (`MDM_POLL_INITIAL_MS`).
 */
const schema = environmentSchema.transform(
  ({
    REMINDER_BEFORE_DAYS,
    ESCALATE_AFTER_DAYS,
    TASK_REMINDER_EVERY_DAYS,
    WIPE_ACK_TIMEOUT_DAYS,
    VERIFY_DEADLINE_DAYS,
    RETENTION_DAYS,
    ...sameName
  }) => ({
    ...sameName,
    REMINDER_BEFORE_MS: REMINDER_BEFORE_DAYS,
    ESCALATE_AFTER_MS: ESCALATE_AFTER_DAYS,
    TASK_REMINDER_EVERY_MS: TASK_REMINDER_EVERY_DAYS,
    WIPE_ACK_TIMEOUT_MS: WIPE_ACK_TIMEOUT_DAYS,
    VERIFY_DEADLINE_MS: VERIFY_DEADLINE_DAYS,
    RETENTION_MS: RETENTION_DAYS * 86_400_000,
  }),
);

export type Config = z.infer<typeof schema>;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    // The message ends up in logs: URL user-info (DATABASE_URL, SMTP_URL passwords) and tokens are masked.
    const shown = problems.map(redactSecrets);
    super(`Invalid configuration:\n${shown.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = shown;
    this.name = 'ConfigError';
  }
}

/** Never echoed in a configuration error: the message ends up in logs. */
const SECRET_VARIABLES = new Set(['API_TOKENS', 'MDM_API_KEY', 'PAYLOAD_ENCRYPTION_KEYS', 'TEMPORAL_API_KEY']);

const OIDC_REQUIRED = ['OIDC_ISSUER', 'OIDC_AUDIENCE', 'OIDC_JWKS_URL'] as const;

/** Half an OIDC setup would silently refuse every JWT: say which variable is missing instead. */
function oidcProblems(c: Config): string[] {
  const set = OIDC_REQUIRED.filter((k) => c[k] !== undefined);
  if (set.length === 0) return [];
  if (set.length < OIDC_REQUIRED.length) {
    const missing = OIDC_REQUIRED.filter((k) => c[k] === undefined);
    return [
      `${missing.join(', ')}: must be set when ${set.join(', ')} is (OIDC needs issuer, audience and JWKS URL together, or none)`,
    ];
  }
  if (c.NODE_ENV === 'production' && !c.OIDC_JWKS_URL!.startsWith('https:')) {
    return ['OIDC_JWKS_URL: must be https in production (the keys decide who is admin)'];
  }
  return [];
}

/** Parses the environment; throws ConfigError listing every bad variable (name, value, why). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(present);
  if (result.success) {
    const problems = [...oidcProblems(result.data), ...temporalTransportProblems(result.data)];
    if (problems.length > 0) throw new ConfigError(problems);
    if (result.data.NODE_ENV === 'production' && (present.API_TOKENS ?? DEV_API_TOKENS) === DEV_API_TOKENS) {
      throw new ConfigError(['API_TOKENS: must be set in production (the built-in tokens are for local use only)']);
    }
    const credentials = credentialProblems(result.data);
    if (credentials.length > 0) throw new ConfigError(credentials);
    const encryption = payloadEncryptionProblems(result.data);
    if (encryption.length > 0) throw new ConfigError(encryption);
    return result.data;
  }
  throw new ConfigError(
    result.error.issues.map((i) => {
      const name = String(i.path[0]);
      const shown = SECRET_VARIABLES.has(name) ? '(redacted)' : JSON.stringify(env[name]);
      return `${name}=${shown}: ${i.message}`;
    }),
  );
}
