/**
 * MDM_KIND=intune: reads and checks Intune's settings (settings.ts) and the service's pacing against
 * Intune's documented limits, then builds the adapter. Called from mdm/createMdmPort.ts.
 *
 * Intune devices service limits (https://learn.microsoft.com/en-us/graph/throttling-limits#intune-service-limits,
 * "Intune devices service limits", which covers managedDevice): per app per tenant 2000 requests per
 * 20 seconds of any kind and 200 per 20 seconds of POST, PUT, DELETE, PATCH (per tenant for all apps: 4000
 * and 400). MDM_RATE_LIMIT and MDM_WRITE_RATE_LIMIT (mdm/pacing.ts) must keep the service under the
 * per-app figures, so a pacing switched off or set above them is refused at start.
 */
import type { Config, RateLimit } from '../../config/env';
import { MdmSettingsError, type MdmPortSetup } from '../createMdmPort';
import { createIntuneMdm } from './intuneAdapter';
import { readIntuneSettings } from './settings';
import { createTokenSource } from './tokenSource';

export const INTUNE_LIMITS = {
  all: { calls: 2000, windowMs: 20_000 },
  writes: { calls: 200, windowMs: 20_000 },
} as const;

export function createIntuneSetup(config: Config, env: NodeJS.ProcessEnv): MdmPortSetup {
  const { settings, problems } = readIntuneSettings(env);
  problems.push(...pacingProblems('MDM_RATE_LIMIT', config.MDM_RATE_LIMIT, INTUNE_LIMITS.all, 'requests'));
  problems.push(...pacingProblems('MDM_WRITE_RATE_LIMIT', config.MDM_WRITE_RATE_LIMIT, INTUNE_LIMITS.writes, 'writes'));
  if (!settings || problems.length > 0) throw new MdmSettingsError(problems);
  const tokens = createTokenSource({
    tokenUrl: settings.tokenUrl,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    timeoutMs: config.MDM_TIMEOUT_MS,
  });
  return {
    port: createIntuneMdm({
      graphBaseUrl: settings.graphBaseUrl,
      tokens,
      timeoutMs: config.MDM_TIMEOUT_MS,
      maxAttempts: config.MDM_MAX_ATTEMPTS,
    }),
    describe: `Microsoft Intune through Microsoft Graph at ${settings.graphBaseUrl} (tenant ${settings.tenantId})`,
  };
}

function pacingProblems(name: string, rate: RateLimit | null, limit: RateLimit, what: string): string[] {
  const documented = `Intune's documented ${limit.calls} ${what} per ${limit.windowMs / 1000} s per app`;
  if (rate === null) return [`${name}=off: with MDM_KIND=intune the service must be paced under ${documented}`];
  if (rate.calls / rate.windowMs > limit.calls / limit.windowMs)
    return [`${name} allows ${rate.calls} per ${rate.windowMs / 1000} s, more than ${documented}`];
  return [];
}
