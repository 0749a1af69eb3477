/**
 * The NanoMDM adapter's own settings, read from the environment when MDM_KIND=nanomdm (validated at
 * start-up, each problem naming its variable). They are not in config/env.ts: only this adapter uses them.
 */
import { z } from 'zod';

export interface NanoMdmSettings {
  /** NanoMDM's base URL (its API: /v1/enqueue/{id}). */
  url: string;
  /** NanoMDM's `-api` key (HTTP Basic, user `nanomdm`). */
  apiKey: string;
  /** Where our webhook listener binds; NanoMDM's `-webhook-url` must point at http://<this>/webhook. */
  webhookHost: string;
  webhookPort: number;
  /** NanoMDM's `-webhook-hmac-key`, when set: requests without a matching X-Hmac-Signature are refused. */
  webhookHmacKey?: string;
  timeoutMs: number;
}

const schema = z.object({
  NANOMDM_URL: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL, e.g. http://127.0.0.1:9000' }),
  NANOMDM_API_KEY: z.string({ message: 'is required (the key NanoMDM was started with, -api)' }).min(1),
  NANOMDM_WEBHOOK_LISTEN: z
    .string()
    .regex(/^[^:\s]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:9101')
    .default('127.0.0.1:9101'),
  NANOMDM_WEBHOOK_HMAC_KEY: z.string().min(1).optional(),
  NANOMDM_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
});

/** Parses the settings or returns one message per problem, each naming the variable. */
export function readNanoMdmSettings(env: NodeJS.ProcessEnv): { settings?: NanoMdmSettings; problems: string[] } {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    return {
      problems: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message} (MDM_KIND=nanomdm)`),
    };
  }
  const e = parsed.data;
  const [host, port] = e.NANOMDM_WEBHOOK_LISTEN.split(':') as [string, string];
  return {
    problems: [],
    settings: {
      url: e.NANOMDM_URL.replace(/\/+$/, ''),
      apiKey: e.NANOMDM_API_KEY,
      webhookHost: host,
      webhookPort: Number(port),
      webhookHmacKey: e.NANOMDM_WEBHOOK_HMAC_KEY,
      timeoutMs: e.NANOMDM_TIMEOUT_MS,
    },
  };
}
