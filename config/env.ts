/**
 * Configuration from environment variables, validated once at start-up.
 * Every value has a safe local default so `npm start` works on a fresh machine; a bad value stops the
 * process with a message naming the variable.
 */
import { z } from 'zod';

const port = z.coerce.number().int().min(1).max(65535);
const url = z.string().url();

const schema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: port.default(3000),
  API_HOST: z.string().min(1).default('127.0.0.1'),
  TEMPORAL_ADDRESS: z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port').default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('device-lifecycle'),
  TEMPORAL_UI_PORT: port.default(8233),
  DATABASE_URL: url.default('postgres://postgres:postgres@127.0.0.1:5433/device_lifecycle'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
  MDM_BASE_URL: url.default('http://127.0.0.1:4010'),
  MDM_API_KEY: z.string().min(1).default('local-mdm-key'),
  MDM_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  MDM_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(4),
  SMTP_URL: url.default('smtp://127.0.0.1:2525'),
  MAIL_FROM: z.string().email().default('device-lifecycle@localhost.localdomain'),
  ADMIN_EMAILS: z
    .string()
    .default('it-admin@example.com')
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.string().email()).min(1)),
  DATA_DIR: z.string().min(1).default('.data'),
});

export type Config = z.infer<typeof schema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws ConfigError listing every bad variable (name, value, why). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(present);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((i) => {
      const name = String(i.path[0]);
      return `${name}=${JSON.stringify(env[name])}: ${i.message}`;
    }),
  );
}
